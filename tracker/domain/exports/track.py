"""What the map exports of one declaration share: its places, its track and its alerts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tracker.domain.exports import Period, stream_rows
from tracker.models import Alert, Checkpoint, Declaration, PlaceRole, Position


@dataclass(frozen=True)
class Place:
    """A checkpoint or authorised stop of a declaration, by its part in the journey."""

    role: str            # origin, expected, destination, authorised_stop
    code: str
    name: str
    lat: float
    lon: float
    radius_m: int
    kind: str | None = None      # a checkpoint's kind (station, border crossing...); None for a stop
    names: dict[str, str] = field(default_factory=dict)   # a checkpoint's names in other languages


def places(declaration: Declaration) -> list[Place]:
    """Return origin, expected checkpoints, destination and authorised stops, in journey order."""
    def of(role: str, checkpoint: Checkpoint) -> Place:
        return Place(role, checkpoint.code, checkpoint.name, checkpoint.lat, checkpoint.lon, checkpoint.radius_m,
                     checkpoint.kind.value, dict(checkpoint.names or {}))

    roles = {PlaceRole.CHECKPOINT: "expected"}  # the exports' word for a checkpoint on the way
    found = [of(roles.get(place.role, place.role.value), place.checkpoint) for place in declaration.route_places]
    found += [Place("authorised_stop", f"stop-{s.seq}", s.name, s.lat, s.lon, s.radius_m)
              for s in declaration.authorised_stops]
    return found


def track_query(declaration: Declaration, period: Period | None = None) -> Select[Any]:
    """Return the query of the declaration's fixes, oldest first."""
    query = (select(Position.fix_time, Position.lat, Position.lon, Position.altitude_m, Position.speed_kmh,
                    Position.course, Position.hdop, Position.satellites)
             .where(Position.declaration_id == declaration.id)
             .order_by(Position.fix_time, Position.id))
    return (period or Period()).bound(query, Position.fix_time)


def track(session: Session, declaration: Declaration, period: Period | None = None) -> Iterator[Any]:
    """Yield the declaration's fixes, oldest first, a batch at a time."""
    return stream_rows(session, track_query(declaration, period))


@dataclass(frozen=True)
class Span:
    """How many fixes a track has, and the times of its first and last."""

    fixes: int
    first: datetime | None
    last: datetime | None


def track_span(session: Session, declaration: Declaration, period: Period | None = None) -> Span:
    """Return the size and time span of the declaration's track (read before the track is streamed)."""
    summary = track_query(declaration, period).order_by(None).with_only_columns(
        func.count(), func.min(Position.fix_time), func.max(Position.fix_time))
    fixes, first, last = session.execute(summary).one()
    return Span(int(fixes or 0), first, last)


def located_alerts(session: Session, declaration: Declaration) -> list[Alert]:
    """Return the declaration's alerts that have a place, oldest first (a handful per journey)."""
    return list(session.scalars(
        select(Alert).where(Alert.declaration_id == declaration.id, Alert.lat.is_not(None), Alert.lon.is_not(None))
        .order_by(Alert.opened_at, Alert.id)))
