"""What the trip replay receives: the fixes in time order with their flags, within a ceiling.

Each row is ``[epoch seconds, lat, lon, flags, located]``: ``flags`` are the gateway's
(``future_fix``, ``impossible_jump``, ``frozen``...), ``located`` is false for a fix that
says nothing reliable about where the vehicle was (``compliance.NOT_A_LOCATION``); the
replay lists such a fix but never moves the vehicle to it. A long track is thinned to
an even spread of its located fixes, and every flagged fix is kept up to its own ceiling:
the fixes an auditor must see are never thinned away first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from tracker.domain.audit.compliance import NOT_A_LOCATION, Compliance, epoch_seconds, read_track
from tracker.domain.audit.report_pdf import evenly_spaced
from tracker.models import Alert, Position

#: The most unflagged fixes the replay receives (a browser moves a marker over a few thousand smoothly).
REPLAY_POINTS = 5_000
#: The most flagged fixes it receives besides (a trip with more has a beacon to replace).
FLAGGED_POINTS = 2_000

Row = list[Any]


def flagged_fixes(session: Session, declaration_id: int, limit: int = FLAGGED_POINTS) -> list[Row]:
    """Return the declaration's flagged fixes as replay rows, oldest first, at most ``limit``."""
    rows = session.execute(
        select(epoch_seconds(session, Position.fix_time), Position.lat, Position.lon, Position.flags)
        .where(Position.declaration_id == declaration_id, cast(Position.flags, String) != "[]")
        .order_by(Position.fix_time, Position.id).limit(limit)).all()
    return [[round(float(t), 3), round(lat, 6), round(lon, 6), sorted(flags),
             not NOT_A_LOCATION.intersection(flags)] for t, lat, lon, flags in rows if flags]


def replay_rows(session: Session, declaration_id: int, limit: int = REPLAY_POINTS) -> list[Row]:
    """Return the replay's rows (see the module docstring) in time order."""
    _stored, t, lon, lat = read_track(session, declaration_id)
    rows = {(round(float(t[i]), 3), round(float(lat[i]), 6), round(float(lon[i]), 6)): []
            for i in evenly_spaced(len(t), limit)}
    flagged = flagged_fixes(session, declaration_id)
    for row in flagged:
        rows.pop((row[0], row[1], row[2]), None)
    plain = [[t_, lat_, lon_, [], True] for (t_, lat_, lon_) in rows]
    return sorted(plain + flagged, key=lambda row: row[0])


@dataclass(frozen=True)
class TripAlert:
    """An alert of the trip and the moment the replay jumps to for it."""

    alert: Alert
    start: datetime       # the start of its excursion, stop or gap; else when it was opened


def trip_alerts(session: Session, report: Compliance) -> list[TripAlert]:
    """Return the declaration's alerts, oldest first, each with where the replay should show it."""
    episodes = (*report.excursions, *report.stops, *report.signal_gaps)
    starts = {e.alert_id: e.start for e in episodes if e.alert_id is not None}
    alerts = session.scalars(select(Alert).where(Alert.declaration_id == report.declaration_id)
                             .order_by(Alert.opened_at, Alert.id))
    return [TripAlert(a, starts.get(a.id, a.opened_at)) for a in alerts]
