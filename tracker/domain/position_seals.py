"""Sealing positions per declaration and hour, once the hour is over.

The gateway stores fixes at full speed and seals nothing on the ping path. Its periodic
check (and ``flask --app tracker evidence seal``, for cron) calls ``seal_positions``:
every hour that ended at least ``SETTLE`` ago gets one seal per declaration (fixes on no
declaration are sealed per hour under "none"). A fix that arrives later for a sealed
hour makes the next run seal that hour again, covering the old fixes and the late one.
A sealed fix that has disappeared is never sealed over: verify-chain reports it.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import session_scope
from tracker.domain.chain import lock_chain
from tracker.domain.seals import POSITIONS, latest_seal, parse_ranges, seal
from tracker.models import EvidenceSeal, Position

#: How long after an hour ends before it is sealed (fixes still in flight are committed by then).
SETTLE = timedelta(minutes=10)
#: Fixes received this long before the previous run are looked at again (a slow commit's margin).
LATE_COMMIT_MARGIN = timedelta(hours=1)
HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    """Return the start of ``moment``'s hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def position_subject(declaration_id: int | None, hour: datetime) -> str:
    """Name the seal subject of one declaration's fixes in one hour."""
    return f"{declaration_id if declaration_id is not None else 'none'}/{hour:%Y-%m-%dT%H}"


def _candidates(session: Session, before: datetime) -> dict[tuple[int | None, datetime], set[int]]:
    """Return the (declaration, hour) groups with fixes received since the previous run."""
    last = session.scalar(select(func.max(EvidenceSeal.recorded_at)).where(EvidenceSeal.kind == POSITIONS.kind))
    query = select(Position.id, Position.declaration_id, Position.fix_time).where(Position.fix_time < before)
    if last is not None:  # fixes received lately, and fixes whose hour has ended since (future-dated ones)
        query = query.where(or_(Position.received_at >= last - LATE_COMMIT_MARGIN,
                                Position.fix_time >= hour_of(last - SETTLE)))
    groups: dict[tuple[int | None, datetime], set[int]] = defaultdict(set)
    for position_id, declaration_id, fix_time in session.execute(query):
        groups[(declaration_id, hour_of(fix_time))].add(position_id)
    return groups


def _fixes_of(session: Session, declaration_id: int | None, hour: datetime) -> list[Position]:
    """Return every fix of ``declaration_id`` (None: of no declaration) in ``hour``."""
    owner = Position.declaration_id.is_(None) if declaration_id is None else Position.declaration_id == declaration_id
    return list(session.scalars(select(Position).where(owner, Position.fix_time >= hour,
                                                       Position.fix_time < hour + HOUR)))


def seal_positions(session: Session, now: datetime, settle: timedelta = SETTLE) -> int:
    """Seal every finished hour with fixes not sealed yet; return how many seals were appended."""
    lock_chain(session, EvidenceSeal)  # one sealer at a time, or two would seal the same hour
    appended = 0
    for declaration_id, hour in sorted(_candidates(session, hour_of(now - settle)),
                                       key=lambda group: (group[1], group[0] or 0)):
        subject = position_subject(declaration_id, hour)
        previous = latest_seal(session, POSITIONS, subject)
        sealed = set(parse_ranges(previous.row_keys)) if previous else set()
        fixes = _fixes_of(session, declaration_id, hour)
        present = {fix.id for fix in fixes}
        if sealed - present or present <= sealed:
            continue  # nothing new, or a sealed fix is gone: verify-chain tells
        seal(session, POSITIONS, subject, fixes)
        appended += 1
    return appended


def run_position_sealing(sessions: sessionmaker[Session], now: datetime) -> int:
    """Seal the finished hours in a transaction of its own; return how many seals were appended."""
    with session_scope(sessions) as session:
        return seal_positions(session, now)
