"""Now: every declaration in transit with its last position and open alerts; open alerts by severity and age.

The last position of each declaration is one backwards step of the index
``ix_positions_declaration_fix_time``, never a scan of its track.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from datetime import datetime, timedelta, timezone

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from tracker.domain.access import alert_filter, declaration_filter
from tracker.domain.last_position import last_fix_time
from tracker.models import Alert, AlertSeverity, AlertStatus, Declaration, DeclarationStatus, Position, User

#: Most urgent first.
SEVERITY_ORDER = (AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO)
#: Age bands of open alerts: (name, upper bound); the last band has none.
AGE_BANDS: tuple[tuple[str, timedelta | None], ...] = (
    ("under_1h", timedelta(hours=1)), ("1h_to_24h", timedelta(hours=24)),
    ("1d_to_7d", timedelta(days=7)), ("over_7d", None))


@dataclass(frozen=True)
class OpenAlert:
    """An open alert as the reports list it."""

    id: int
    declaration_id: int | None
    kind: str
    severity: AlertSeverity
    status: AlertStatus
    opened_at: datetime
    age_s: float


@dataclass(frozen=True)
class InTransit:
    """A declaration on the road: where it was last seen, how long ago, and what is open on it."""

    declaration_id: int
    reference: str | None
    kind: str
    position_id: int | None
    fix_time: datetime | None
    lat: float | None
    lon: float | None
    age_s: float | None            # None: no position yet
    open_alerts: tuple[OpenAlert, ...] = ()


@dataclass
class OpenAlertSummary:
    """Open alerts of one severity: how many, the oldest, and how many in each age band."""

    severity: AlertSeverity
    count: int = 0
    oldest_opened_at: datetime | None = None
    by_age: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in AGE_BANDS})


def _last_fix_time() -> Any:
    """Return the time of the declaration's last position (``tracker.domain.last_position``)."""
    return last_fix_time(Declaration.id).correlate(Declaration)


def in_transit_query(user: User) -> Select:
    """Return the declarations in transit that ``user`` may read with their last fix time, stalest first."""
    last = _last_fix_time().label("last_fix")
    return (select(Declaration.id, Declaration.reference, Declaration.kind, last)
            .where(Declaration.status == DeclarationStatus.IN_TRANSIT, declaration_filter(user))
            .order_by(last.asc().nulls_first(), Declaration.id))


def in_transit(session: Session, user: User, now: datetime, limit: int | None = None,
               offset: int = 0) -> tuple[list[InTransit], int]:
    """Return one page of the declarations in transit (stalest position first) and how many there are.

    The page is chosen by each declaration's last fix time alone; only its own positions
    are then read, by declaration and fix time.
    """
    query = in_transit_query(user)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = session.execute(query.limit(limit).offset(offset)).all()
    fixes = _positions_at(session, [(d, at) for d, _ref, _kind, at in page if at is not None])
    alerts = _open_alerts_of(session, user, [row[0] for row in page], now)
    rows = []
    for d, ref, kind, last in page:
        fix, at = fixes.get(d), None if last is None else _aware(last)
        rows.append(InTransit(declaration_id=d, reference=ref, kind=str(kind), position_id=fix and fix.id,
                              fix_time=at, lat=fix and fix.lat, lon=fix and fix.lon,
                              age_s=None if at is None else (now - at).total_seconds(),
                              open_alerts=tuple(alerts.get(d, ()))))
    return rows, total


def _positions_at(session: Session, last: list[tuple[int, datetime]]) -> dict[int, Position]:
    """Return the fix of each declaration at the given time (its last one)."""
    if not last:
        return {}
    found = session.scalars(select(Position).where(or_(*[
        and_(Position.declaration_id == d, Position.fix_time == at) for d, at in last]))).all()
    return {fix.declaration_id: fix for fix in found if fix.declaration_id is not None}


def _severity_rank() -> Any:
    return case({s.value: rank for rank, s in enumerate(SEVERITY_ORDER)}, value=Alert.severity, else_=99)


def open_alerts(user: User, severity: AlertSeverity | None = None) -> Select:
    """Return the open alerts ``user`` may read (acknowledged and explained ones too: open until closed),
    most severe first, then oldest first."""
    query = select(Alert).where(Alert.status != AlertStatus.CLOSED, alert_filter(user))
    if severity is not None:
        query = query.where(Alert.severity == severity)
    return query.order_by(_severity_rank(), Alert.opened_at, Alert.id)


def _open_alerts_of(session: Session, user: User, declaration_ids: list[int],
                    now: datetime) -> dict[int, list[OpenAlert]]:
    if not declaration_ids:
        return {}
    query = open_alerts(user).where(Alert.declaration_id.in_(declaration_ids))
    found: dict[int, list[OpenAlert]] = {}
    for alert in session.scalars(query):
        found.setdefault(alert.declaration_id, []).append(open_alert_of(alert, now))
    return found


def open_alert_of(alert: Alert, now: datetime) -> OpenAlert:
    """Return an alert as the reports list it, with its age at ``now``."""
    return OpenAlert(alert.id, alert.declaration_id, alert.kind, alert.severity, alert.status, alert.opened_at,
                     (now - alert.opened_at).total_seconds())


def age_band(age: timedelta) -> str:
    """Return the name of the age band ``age`` falls in."""
    return next(name for name, upper in AGE_BANDS if upper is None or age < upper)


def open_alert_summary(session: Session, user: User, now: datetime) -> list[OpenAlertSummary]:
    """Return, per severity (most severe first), the open alerts' count, oldest and age bands.

    Counted in the database per severity and band (from the status and opening-time index).
    """
    bounds = [(name, now - upper) for name, upper in AGE_BANDS if upper is not None]
    band = case(*[(Alert.opened_at > since, name) for name, since in bounds], else_=AGE_BANDS[-1][0])
    rows = session.execute(
        select(Alert.severity, band, func.count(), func.min(Alert.opened_at))
        .where(Alert.status != AlertStatus.CLOSED, alert_filter(user)).group_by(Alert.severity, band)).all()
    summary = {s: OpenAlertSummary(s) for s in SEVERITY_ORDER}
    for severity, name, count, oldest in rows:
        entry = summary[AlertSeverity(severity)]
        entry.count += count
        entry.by_age[name] += count
        oldest = _aware(oldest)
        if entry.oldest_opened_at is None or oldest < entry.oldest_opened_at:
            entry.oldest_opened_at = oldest
    return list(summary.values())


def _aware(moment: datetime | str) -> datetime:
    """Return an aggregate's time as an aware UTC datetime (SQLite gives text and naive values)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
