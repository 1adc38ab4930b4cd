"""Sealing positions per declaration and hour, once the hour is over.

The gateway stores fixes at full speed and seals nothing on the ping path. Its periodic
check (and ``flask --app tracker evidence seal``, for cron) calls ``seal_positions``:
every hour that ended at least ``SETTLE`` ago gets one seal per declaration (fixes on no
declaration are sealed per hour under "none"). A fix that arrives later for a sealed
hour makes the next run seal that hour again, covering the old fixes and the late one.
A sealed fix that has disappeared is never sealed over: verify-chain reports it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Row, func, or_, select
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
#: Groups (declaration and hour) sealed per transaction by the gateway's periodic run.
CHUNK = 100


def hour_of(moment: datetime) -> datetime:
    """Return the start of ``moment``'s hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def position_subject(declaration_id: int | None, hour: datetime) -> str:
    """Name the seal subject of one declaration's fixes in one hour."""
    return f"{declaration_id if declaration_id is not None else 'none'}/{hour:%Y-%m-%dT%H}"


#: A declaration (None: fixes on no declaration) and the start of an hour.
Group = tuple[int | None, datetime]


def _candidates(session: Session, before: datetime, everything: bool = False) -> list[Group]:
    """Return the (declaration, hour) groups with fixes received since the previous run, oldest hour first."""
    last = session.scalar(select(func.max(EvidenceSeal.recorded_at)).where(EvidenceSeal.kind == POSITIONS.kind))
    query = select(Position.declaration_id, Position.fix_time).where(Position.fix_time < before)
    if last is not None and not everything:  # fixes received lately, and fixes whose hour ended since
        query = query.where(or_(Position.received_at >= last - LATE_COMMIT_MARGIN,
                                Position.fix_time >= hour_of(last - SETTLE)))
    groups = {(declaration_id, hour_of(fix_time)) for declaration_id, fix_time in session.execute(query)}
    return sorted(groups, key=lambda group: (group[1], group[0] or 0))


def _fixes_of(session: Session, declaration_id: int | None, hour: datetime) -> list[Row[Any]]:
    """Return the sealed fields of every fix of ``declaration_id`` (None: of no declaration) in ``hour``."""
    owner = Position.declaration_id.is_(None) if declaration_id is None else Position.declaration_id == declaration_id
    columns = [getattr(Position, name) for name in POSITIONS.fields]
    return list(session.execute(select(*columns).where(owner, Position.fix_time >= hour,
                                                       Position.fix_time < hour + HOUR)))


def _seal_group(session: Session, declaration_id: int | None, hour: datetime) -> bool:
    """Seal one declaration's hour again if it has fixes no seal covers; tell whether it did."""
    subject = position_subject(declaration_id, hour)
    previous = latest_seal(session, POSITIONS, subject)
    sealed = set(parse_ranges(previous.row_keys)) if previous else set()
    fixes = _fixes_of(session, declaration_id, hour)
    present = {fix.id for fix in fixes}
    if sealed - present or present <= sealed:
        return False  # nothing new, or a sealed fix is gone: verify-chain tells
    seal(session, POSITIONS, subject, fixes)
    return True


def seal_positions(session: Session, now: datetime, settle: timedelta = SETTLE, everything: bool = False) -> int:
    """Seal every finished hour with fixes not sealed yet; return how many seals were appended.

    ``everything`` looks at every stored fix, not only those since the previous run (after a
    run that stopped half-way through a backlog).
    """
    lock_chain(session, EvidenceSeal)  # one sealer at a time, or two would seal the same hour
    groups = _candidates(session, hour_of(now - settle), everything)
    return sum(_seal_group(session, declaration_id, hour) for declaration_id, hour in groups)


def run_position_sealing(sessions: sessionmaker[Session], now: datetime, chunk: int = CHUNK,
                         stopping: Callable[[], bool] = lambda: False) -> int:
    """Seal the finished hours, ``chunk`` groups per transaction, so the seals chain is never held long.

    Alerts are sealed on that chain too: a gateway batch raising one waits for at most one chunk.
    ``stopping`` is asked between chunks, so a shutdown does not wait for the whole run (what is
    left is sealed by the next run).
    """
    with sessions() as session:
        groups = _candidates(session, hour_of(now - SETTLE))
    appended = 0
    for start in range(0, len(groups), chunk):
        if stopping():
            break
        with session_scope(sessions) as session:
            lock_chain(session, EvidenceSeal)
            appended += sum(_seal_group(session, d, h) for d, h in groups[start:start + chunk])
    return appended
