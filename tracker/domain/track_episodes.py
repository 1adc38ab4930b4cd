"""What the gateway's route evaluation found on a declaration's track, read from the alerts it stored.

Excursions, unscheduled stops and signal gaps are judged once, by the gateway (with the
route's corridor, authorised stops and dead zones); every page that shows them reads them
here: the route-compliance report and the declaration's timeline alike, so the two cannot
disagree. Each alert's details carry the episode's start, end, duration and (excursions)
the farthest distance; alerts the evaluation withdrew are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.models import Alert, AlertStatus

EXCURSION, STOP, SIGNAL_GAP = AlertKind.OFF_ROUTE, AlertKind.UNSCHEDULED_STOP, AlertKind.SIGNAL_LOST
TRACK_EPISODES = (EXCURSION, STOP, SIGNAL_GAP)


@dataclass(frozen=True)
class Episode:
    """An excursion, a stop or a signal gap as the gateway stored it, by its alert."""

    alert_id: int
    kind: str
    status: AlertStatus
    start: datetime
    end: datetime | None                # None: still going on
    duration_s: float | None
    lat: float | None
    lon: float | None
    max_distance_m: float | None = None  # excursions only


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def episode_of(alert: Alert) -> Episode:
    """Return the episode an evaluation alert describes (its details are the episode's summary)."""
    d = alert.details
    start = _time(d.get("start")) or alert.opened_at
    end = _time(d.get("end"))
    duration = d.get("duration_s")
    if duration is None and end is not None:
        duration = (end - start).total_seconds()
    distance = d.get("max_distance_m")
    return Episode(alert.id, alert.kind, alert.status, start, end, None if duration is None else float(duration),
                   alert.lat, alert.lon, None if distance is None else float(distance))


def track_episodes(session: Session, declaration_id: int,
                   kinds: Sequence[AlertKind] = TRACK_EPISODES) -> list[Episode]:
    """Return the declaration's episodes of ``kinds`` that the gateway raised and did not withdraw, in order."""
    alerts = session.scalars(select(Alert).where(
        Alert.declaration_id == declaration_id, Alert.kind.in_([k.value for k in kinds]))
        .order_by(Alert.opened_at, Alert.id)).all()
    return [episode_of(a) for a in alerts if not a.details.get("withdrawn")]


def signal_gaps(session: Session, declaration_id: int) -> list[Episode]:
    """Return the declaration's signal gaps: the silences the gateway judged too long (dead zones allowed for)."""
    return track_episodes(session, declaration_id, (SIGNAL_GAP,))
