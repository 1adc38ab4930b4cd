"""The periodic check: silence and lateness become alerts even when no ping arrives.

Only declarations that could have become overdue are re-evaluated: those whose last fix
is older than the shortest signal allowance (two reporting periods) and those past
their planned arrival. The others were evaluated with their latest fix, and nothing
about them can change until another one arrives.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.evaluation.episodes import Episode
from beacon_gateway.evaluation.rules import Rules, default_rules
from beacon_gateway.evaluation.sync import CHUNK, reevaluate_many
from tracker.domain.last_position import last_fix_time
from tracker.models import Beacon, Declaration, DeclarationStatus

#: Declarations still on the road: silence and lateness matter only for them.
ON_ROAD = (DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT)
#: The PostgreSQL advisory lock held by the one ``serve`` process running the check (any fixed number
#: no other part of the system uses; these are the bytes of "HgOverdu").
OVERDUE_LOCK_KEY = 0x4867_4F76_6572_6475


def overdue_candidates(session: Session, now: datetime, rules: Rules | None = None) -> list[int]:
    """Return the ids of declarations on the road that may be silent too long or late at ``now``."""
    rules = rules or default_rules()
    last_fix = last_fix_time(Declaration.id).correlate(Declaration)
    rows = session.execute(
        select(Declaration.id, Declaration.planned_arrival, Beacon.reporting_period_s, last_fix)
        .outerjoin(Beacon, Beacon.id == Declaration.beacon_id)
        .where(Declaration.status.in_(ON_ROAD), Declaration.route.is_not(None)).order_by(Declaration.id))
    found = []
    for declaration_id, planned_arrival, period_s, last in rows:
        allowance = timedelta(seconds=rules.signal_periods * (period_s or rules.default_reporting_period_s))
        if last is None or last < now - allowance or (planned_arrival is not None and planned_arrival < now):
            found.append(declaration_id)
    return found


def check_overdue(session: Session, now: datetime, rules: Rules | None = None) -> dict[int, list[Episode]]:
    """Re-evaluate the declarations on the road that may be overdue, up to ``now``, in one transaction.

    Like ``reevaluate`` it is idempotent (alerts are found by their key under the
    declaration's row lock), so several processes running it raise nothing twice.
    """
    ids = overdue_candidates(session, now, rules)
    return reevaluate_many(session, {declaration_id: now for declaration_id in ids}, now=now, rules=rules)


def run_overdue_check(sessions: sessionmaker[Session], now: datetime, rules: Rules | None = None,
                      stopping: Callable[[], bool] = lambda: False) -> int:
    """Run the check as ``serve`` does: a transaction per chunk of declarations; return how many were checked.

    Committing chunk by chunk keeps each set of row locks short, so ingestion of the
    same declarations in this or another process waits at most one chunk; ``stopping``
    is asked between chunks, so a shutdown does not wait for the whole check.
    """
    with sole_checker(sessions) as alone:
        if not alone:
            return 0  # another process is running the check now; the next period will find what is left
        return _check_in_chunks(sessions, now, rules, stopping)


def _check_in_chunks(sessions: sessionmaker[Session], now: datetime, rules: Rules | None,
                     stopping: Callable[[], bool]) -> int:
    with sessions() as session:
        ids = overdue_candidates(session, now, rules)
    for start in range(0, len(ids), CHUNK):
        if stopping():
            return start
        with sessions() as session:
            reevaluate_many(session, {declaration_id: now for declaration_id in ids[start:start + CHUNK]},
                            now=now, rules=rules)
            session.commit()
    return len(ids)


@contextmanager
def sole_checker(sessions: sessionmaker[Session]) -> Iterator[bool]:
    """Hold the overdue check's advisory lock while the block runs; yield whether it was free.

    Several ``serve`` processes share the work of ingestion, but one check at a time is enough:
    the others skip their turn instead of re-evaluating the same declarations. The lock is held
    by a connection of its own (released with it if the process dies). SQLite, one process
    only, needs no lock.
    """
    bind: Any = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        yield True
        return
    holder = bind.connect().execution_options(isolation_level="AUTOCOMMIT") if isinstance(bind, Engine) \
        else nullcontext(bind)
    with holder as connection:
        got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": OVERDUE_LOCK_KEY}))
        try:
            yield got
        finally:
            if got:
                connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": OVERDUE_LOCK_KEY})
