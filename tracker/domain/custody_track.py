"""Custody against the track: was the declaration's beacon with the cargo when custody was recorded?

At each custody event of a declaration that has a beacon, the beacon's fix nearest the
event time, at most ``WINDOW`` (10 minutes) either way, is compared with where the event
happened: the phone's reported position when the event carries one, else the checkpoint.

- Further apart than the limit (setting ``CUSTODY_BEACON_DISTANCE_M``, default 2 km): a
  ``beacon_not_with_cargo`` alert (critical): the beacon may ride on another truck.
- No fix in the window: a ``no_beacon_position_at_custody`` alert (warning).

Fixes whose flags make them no location (``NOT_A_LOCATION``: future, null island, jumps...)
are ignored. A declaration without a beacon is not compared: there is nothing to compare.
One range read of the positions' (beacon, fix time) index per event.

A fix can reach the system after the event: the beacon buffered it offline, or it was
taken a few minutes after the scan. So a "no beacon position" alert is provisional: the
gateway's ``custody_track`` handler calls :func:`settle_with_new_fixes` for the beacons
that delivered fixes, which compares again and, when a fix within the window has arrived,
closes the alert as a rule (saying where the fix was) and, should that fix lie beyond the
limit, opens ``beacon_not_with_cargo`` in its place. An alert someone closed stays closed.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db import among
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import close_alert, open_alert
from tracker.domain.audit.compliance import epoch_seconds, is_location
from tracker.domain.geography import Waypoint, haversine_m
from tracker.models import Alert, AlertStatus, Checkpoint, CustodyEvent, Declaration, Position

__all__ = ["WINDOW", "DEFAULT_DISTANCE_M", "TRACK_KINDS", "compare_with_beacon", "event_details", "nearest_fix",
           "settle_with_new_fixes", "use_distance_limit", "distance_limit_m"]

#: How far from the event time a fix may be and still say where the beacon was.
WINDOW = timedelta(minutes=10)
#: Beyond this many metres between the custody event and the beacon, the beacon is not with the cargo.
DEFAULT_DISTANCE_M = 2_000
#: The alerts this check opens (a custody event's alerts, found by its id in their details).
TRACK_KINDS = (AlertKind.BEACON_NOT_WITH_CARGO, AlertKind.NO_BEACON_POSITION_AT_CUSTODY)
UNCLOSED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.EXPLAINED)


class _Limit:
    """The configured distance limit of this process; read from the settings once, then kept."""

    metres: int | None = None


def use_distance_limit(metres: int) -> None:
    """Judge custody against the track with ``metres`` as the limit from now on (the app's setting)."""
    _Limit.metres = metres


def distance_limit_m() -> int:
    """Return the configured distance limit (``CUSTODY_BEACON_DISTANCE_M``, read once), default 2 km."""
    if _Limit.metres is None:
        from tracker.config import load_settings

        _Limit.metres = load_settings().custody_beacon_distance_m
    return _Limit.metres


def nearest_fix(session: Session, beacon_id: int, at: datetime, window: timedelta = WINDOW) -> Position | None:
    """Return the beacon's located fix nearest ``at``, at most ``window`` away, else None.

    One range read of the unique (beacon, fix time) index; the few fixes in the window are
    ordered by their distance in time (the earlier of two equally near ones first).
    """
    distance_s = func.abs(epoch_seconds(session, Position.fix_time) - at.timestamp())
    return session.scalars(
        select(Position).where(Position.beacon_id == beacon_id, Position.fix_time >= at - window,
                               Position.fix_time <= at + window, is_location() == 1)
        .order_by(distance_s, Position.fix_time).limit(1)).first()


def _place(session: Session, event: CustodyEvent) -> tuple[Waypoint, str]:
    """Return where the event happened and how it is known: the phone's position, else the checkpoint."""
    if event.lat is not None and event.lon is not None:
        return Waypoint(event.lat, event.lon), "reported_position"
    checkpoint = session.get(Checkpoint, event.checkpoint_id)
    assert checkpoint is not None
    return Waypoint(checkpoint.lat, checkpoint.lon), "checkpoint"


def event_details(event: CustodyEvent, checkpoint: Checkpoint) -> dict[str, Any]:
    """Return what every alert a custody event opens says of the event, the officer's remarks among them.

    The remarks go under ``remarks``, as a receipt's do; empty remarks add nothing.
    """
    details: dict[str, Any] = {"custody_event_id": event.id, "client_event_id": event.client_event_id,
                               "sscc": event.sscc, "checkpoint": checkpoint.code}
    if event.remarks:
        details["remarks"] = event.remarks
    return details


def _open(session: Session, kind: AlertKind, event: CustodyEvent, declaration: Declaration,
          at: datetime, **details: Any) -> Alert:
    place, measured_from = _place(session, event)
    checkpoint = session.get(Checkpoint, event.checkpoint_id)
    assert checkpoint is not None and declaration.beacon is not None
    return open_alert(session, kind=kind, declaration=declaration, lat=place.lat, lon=place.lon, at=at, details={
        **event_details(event, checkpoint), "event_time": event.event_time.isoformat(),
        "beacon": declaration.beacon.device_id, "measured_from": measured_from, **details})


def _fix_details(place: Waypoint, fix: Position) -> dict[str, Any]:
    return {"distance_m": round(haversine_m(place, Waypoint(fix.lat, fix.lon))),
            "fix_time": fix.fix_time.isoformat(), "fix_lat": fix.lat, "fix_lon": fix.lon}


def compare_with_beacon(session: Session, event: CustodyEvent, declaration: Declaration,
                        limit_m: int | None = None) -> list[Alert]:
    """Compare a new custody event with the declaration beacon's position then; return the alerts opened.

    ``limit_m`` defaults to the configured distance limit (:func:`distance_limit_m`).
    """
    if declaration.beacon_id is None:
        return []
    fix = nearest_fix(session, declaration.beacon_id, event.event_time)
    if fix is None:
        return [_open(session, AlertKind.NO_BEACON_POSITION_AT_CUSTODY, event, declaration, event.recorded_at,
                      window_s=int(WINDOW.total_seconds()))]
    details = _fix_details(_place(session, event)[0], fix)
    if details["distance_m"] <= (distance_limit_m() if limit_m is None else limit_m):
        return []
    return [_open(session, AlertKind.BEACON_NOT_WITH_CARGO, event, declaration, event.recorded_at, **details)]


def _waiting(session: Session, beacon_ids: list[int]) -> list[Alert]:
    """Return the unclosed "no beacon position at custody" alerts of declarations carrying the beacons."""
    return list(session.scalars(
        select(Alert).join(Declaration, Declaration.id == Alert.declaration_id)
        .where(among(session, Declaration.beacon_id, beacon_ids), Alert.kind == AlertKind.NO_BEACON_POSITION_AT_CUSTODY,
               Alert.status.in_(UNCLOSED)).order_by(Alert.id)))


def settle_with_new_fixes(session: Session, earliest_new_fix: Mapping[int, datetime], now: datetime,
                          limit_m: int | None = None) -> list[Alert]:
    """Compare again the waiting custody events of beacons that just delivered fixes.

    ``earliest_new_fix`` maps a beacon id to the earliest fix time newly stored for it (a
    beacon's fixes before departure belong to no declaration, so beacons, not declarations).
    Only events within the window of a new fix are compared again; an alert whose event now
    has a fix is closed by the rule. Returns the ``beacon_not_with_cargo`` alerts opened.
    """
    opened: list[Alert] = []
    for alert in _waiting(session, sorted(earliest_new_fix)) if earliest_new_fix else []:
        event = session.get(CustodyEvent, alert.details.get("custody_event_id"))
        declaration = alert.declaration
        if event is None or declaration is None or declaration.beacon_id not in earliest_new_fix:
            continue
        if event.event_time + WINDOW < earliest_new_fix[declaration.beacon_id]:
            continue
        fix = nearest_fix(session, declaration.beacon_id, event.event_time)
        if fix is not None:
            opened += _settle(session, alert, event, declaration, fix, now, limit_m)
    return opened


def _settle(session: Session, alert: Alert, event: CustodyEvent, declaration: Declaration, fix: Position,
            now: datetime, limit_m: int | None) -> list[Alert]:
    """Close a "no beacon position" alert now that a fix has come; open the distance alert if it is far."""
    details = _fix_details(_place(session, event)[0], fix)
    close_alert(session, alert, None, f"a beacon fix of {fix.fix_time:%Y-%m-%d %H:%M:%S} UTC arrived later, "
                                      f"{details['distance_m']} m from the custody event", at=now)
    if details["distance_m"] <= (distance_limit_m() if limit_m is None else limit_m):
        return []
    return [_open(session, AlertKind.BEACON_NOT_WITH_CARGO, event, declaration, now, late_fix=True, **details)]
