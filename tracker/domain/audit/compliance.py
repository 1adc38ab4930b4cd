"""Route compliance of one declaration: how much of the trip stayed in the corridor, and what did not.

- Coverage is geometry over the stored fixes (fix-time order): a hop between two
  consecutive located fixes counts inside when both fixes lie in the corridor
  (the outline stored with the route, ``tracker.domain.route_geometry``); its geodesic
  length and its duration add to the totals.
- Excursions, unscheduled stops and signal gaps are the episodes the gateway's route
  evaluation found and stored as alerts (their details carry start, end, duration and
  the farthest distance): the report reads them (``tracker.domain.track_episodes``, as the
  declaration's timeline does) instead of judging the track a second way, and each links
  to its alert. Alerts the evaluation withdrew are left out.
- Custody events, in time order, against the checkpoints the declaration expects:
  origin, the expected checkpoints in sequence, destination.
- The receipt discrepancy per container, with the tolerance the report of receipt uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon
from sqlalchemy import Float, Select, String, case, cast, func, or_, select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.corridor import geodesic_m
from tracker.domain.declarations import find_declaration
from tracker.domain.route_geometry import corridor_outline, inside
from tracker.domain.tolerance import mass_discrepancy_g, mass_tolerance_g
from tracker.domain.track_episodes import EXCURSION, SIGNAL_GAP, STOP, Episode, track_episodes
from tracker.models import Alert, Checkpoint, CustodyEvent, CustodyKind, Declaration, PlaceRole, Position, User

#: Flags after which a fix says nothing reliable about where the vehicle is (the gateway's
#: ``beacon_gateway.evaluation.track.NOT_A_LOCATION``; a test keeps the two equal).
NOT_A_LOCATION = frozenset({"invalid_fix", "null_island", "future_fix", "week_rollover", "approximate",
                            "impossible_jump"})
RECEIPT_KINDS = (AlertKind.RECEIPT_SHORTAGE, AlertKind.RECEIPT_EXCESS, AlertKind.SEAL_BROKEN)


@dataclass(frozen=True)
class Coverage:
    """How much of the tracked trip, by distance and by time, lay inside the corridor."""

    positions: int                      # fixes stored for the declaration
    located: int                        # of which usable as locations
    first_fix: datetime | None
    last_fix: datetime | None
    distance_m: float
    inside_distance_m: float
    time_s: float
    inside_time_s: float

    @property
    def distance_share(self) -> float | None:
        """Return the share of the distance inside the corridor (None: no distance yet)."""
        return self.inside_distance_m / self.distance_m if self.distance_m > 0 else None

    @property
    def time_share(self) -> float | None:
        """Return the share of the time inside the corridor (None: no time yet)."""
        return self.inside_time_s / self.time_s if self.time_s > 0 else None


@dataclass(frozen=True)
class Passage:
    """One expected checkpoint and the custody events recorded there for the declaration."""

    role: str                            # origin, checkpoint, destination; or unexpected
    seq: int | None
    checkpoint_id: int
    code: str
    kind: str
    event_ids: tuple[int, ...]
    first_seen: datetime | None

    @property
    def status(self) -> str:
        """Return seen, missing or unexpected (out of order is judged by the sequence)."""
        if self.role == "unexpected":
            return "unexpected"
        return "seen" if self.event_ids else "missing"


@dataclass(frozen=True)
class CustodyStep:
    """One custody event of the declaration, in time order."""

    id: int
    kind: CustodyKind                    # an enum, so that pages name it in their language
    checkpoint_id: int
    code: str
    checkpoint_kind: str
    event_time: datetime
    container_id: int | None
    seal_intact: bool
    measured_net_g: int | None


@dataclass(frozen=True)
class ReceiptLine:
    """One container: declared and received mass, the difference, and the seal."""

    container_id: int
    sscc: str
    declared_g: int
    received_g: int | None
    seal_intact: bool | None

    @property
    def difference_g(self) -> int | None:
        """Return received − declared (negative: shortage), None before the receipt."""
        return None if self.received_g is None else self.received_g - self.declared_g

    @property
    def tolerance_g(self) -> int:
        """Return the difference the report of receipt tolerates."""
        return mass_tolerance_g(self.declared_g)

    @property
    def beyond_tolerance(self) -> bool:
        """Tell whether the difference is beyond the tolerance."""
        return self.received_g is not None and mass_discrepancy_g(self.declared_g, self.received_g) is not None


@dataclass(frozen=True)
class Compliance:
    """The route-compliance report of one declaration."""

    declaration_id: int
    reference: str | None
    status: str
    corridor_m: int
    coverage: Coverage | None            # None: the declaration has no route
    excursions: tuple[Episode, ...]
    stops: tuple[Episode, ...]
    signal_gaps: tuple[Episode, ...]
    passages: tuple[Passage, ...]
    out_of_order: tuple[int, ...]        # checkpoint ids first seen before an earlier expected one
    custody: tuple[CustodyStep, ...]
    receipt: tuple[ReceiptLine, ...]
    receipt_alert_ids: tuple[int, ...]
    received_at: datetime | None

    @property
    def declared_g(self) -> int:
        """Return the declared net mass of every container."""
        return sum(line.declared_g for line in self.receipt)

    @property
    def received_g(self) -> int | None:
        """Return the received net mass, None before the report of receipt."""
        if any(line.received_g is None for line in self.receipt) or not self.receipt:
            return None
        return sum(line.received_g or 0 for line in self.receipt)


def compliance(session: Session, user: User, declaration_id: int) -> Compliance:
    """Return the route-compliance report of a declaration ``user`` may read (else NotFound)."""
    declaration = find_declaration(session, user, declaration_id)
    episodes = track_episodes(session, declaration.id)
    custody = _custody(session, declaration.id)
    passages = _passages(declaration, custody)
    receipt = tuple(ReceiptLine(i.container_id, i.container.sscc, i.declared_net_g, i.received_net_g,
                                i.seal_intact) for i in declaration.items)
    receipt_alerts = session.scalars(select(Alert.id).where(
        Alert.declaration_id == declaration.id, Alert.kind.in_(RECEIPT_KINDS)).order_by(Alert.id)).all()
    return Compliance(
        declaration_id=declaration.id, reference=declaration.reference, status=declaration.status.value,
        corridor_m=declaration.corridor_m, coverage=coverage(session, declaration),
        excursions=tuple(e for e in episodes if e.kind == EXCURSION),
        stops=tuple(e for e in episodes if e.kind == STOP),
        signal_gaps=tuple(e for e in episodes if e.kind == SIGNAL_GAP),
        passages=passages, out_of_order=out_of_order(passages), custody=custody, receipt=receipt,
        receipt_alert_ids=tuple(receipt_alerts), received_at=declaration.received_at)


# ---------------------------------------------------------------- coverage
def read_track(session: Session, declaration_id: int) -> tuple[int, NDArray[np.float64], NDArray[np.float64],
                                                               NDArray[np.float64]]:
    """Return how many fixes are stored and the located ones' epoch seconds, longitudes and latitudes.

    One range read of ``ix_positions_declaration_fix_time`` returning only numbers: the
    time as epoch seconds and whether the fix is a location, both worked out by the database.
    """
    rows = plain_rows(session, track_query(session, declaration_id))
    track = np.array(rows, dtype=float).reshape(-1, 4)
    keep = track[:, 3] > 0
    return len(track), track[keep, 0], track[keep, 1], track[keep, 2]


def track_query(session: Session, declaration_id: int) -> Select:
    """Return the query of a declaration's fixes: epoch seconds, longitude, latitude, 1 if a location."""
    return (select(epoch_seconds(session, Position.fix_time), Position.lon, Position.lat, is_location())
            .where(Position.declaration_id == declaration_id).order_by(Position.fix_time))


def epoch_seconds(session: Session, column: Any) -> Any:
    """Return the SQL for a stored UTC time as epoch seconds (SQLite: to the millisecond)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)


def is_location() -> Any:
    """Return the SQL telling (1 or 0) whether a fix's flags leave it a usable location."""
    text = cast(Position.flags, String)
    return case((text == "[]", 1), (or_(*[text.like(f'%"{flag}"%') for flag in sorted(NOT_A_LOCATION)]), 0),
                else_=1)


def plain_rows(session: Session, query: Select) -> list[tuple[Any, ...]]:
    """Run ``query`` in the session's transaction and return the driver's plain tuples.

    A long track is 10^5 to 10^7 rows: building a result row object for each costs more
    than reading them, and psycopg reads numbers fastest in binary. Only columns needing
    no conversion may be selected here.
    """
    connection = session.connection()
    compiled = query.compile(connection)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    dbapi = connection.connection
    cursor = dbapi.driver_connection.cursor(binary=True) if connection.dialect.driver == "psycopg" else dbapi.cursor()
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def coverage(session: Session, declaration: Declaration) -> Coverage | None:
    """Return the share of distance and time inside the corridor (None without a route)."""
    if declaration.route is None:
        return None
    stored, t, lon, lat = read_track(session, declaration.id)
    return measure(stored, t, lon, lat, corridor_outline(declaration))


def measure(stored: int, t: NDArray[np.float64], lon: NDArray[np.float64], lat: NDArray[np.float64],
            outline: Polygon) -> Coverage:
    """Return the coverage of a track: hops with both ends in the corridor count inside."""
    first = last = None
    if len(t):
        first, last = _utc(t[0]), _utc(t[-1])
    if len(t) < 2:
        return Coverage(stored, len(t), first, last, 0.0, 0.0, 0.0, 0.0)
    within = inside(outline, lon, lat)
    hops = geodesic_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    durations = np.diff(t)
    both = within[:-1] & within[1:]
    return Coverage(stored, len(t), first, last, float(hops.sum()), float(hops[both].sum()),
                    float(durations.sum()), float(durations[both].sum()))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), timezone.utc)


# ---------------------------------------------------------------- custody against the expected checkpoints
def _custody(session: Session, declaration_id: int) -> tuple[CustodyStep, ...]:
    rows = session.execute(
        select(CustodyEvent.id, CustodyEvent.kind, CustodyEvent.checkpoint_id, Checkpoint.code,
               Checkpoint.kind, CustodyEvent.event_time, CustodyEvent.container_id, CustodyEvent.seal_intact,
               CustodyEvent.measured_net_g)
        .join(Checkpoint, Checkpoint.id == CustodyEvent.checkpoint_id)
        .where(CustodyEvent.declaration_id == declaration_id)
        .order_by(CustodyEvent.event_time, CustodyEvent.id)).all()
    return tuple(CustodyStep(r[0], CustodyKind(r[1]), r[2], r[3], str(r[4]), r[5], r[6], r[7], r[8]) for r in rows)


def expected_route(declaration: Declaration) -> list[tuple[str, int | None, Checkpoint]]:
    """Return the checkpoints the declaration expects, in order: origin, each expected one, destination."""
    stops: list[tuple[str, int | None, Checkpoint]] = []
    for place in declaration.route_places:
        seq = len(stops) - 1 if place.role == PlaceRole.CHECKPOINT else None  # the n-th checkpoint, from 0
        stops.append((place.role.value, seq, place.checkpoint))
    seen: set[int] = set()
    unique = []
    for role, seq, checkpoint in stops:
        if checkpoint.id not in seen:
            seen.add(checkpoint.id)
            unique.append((role, seq, checkpoint))
    return unique


def _passages(declaration: Declaration, custody: tuple[CustodyStep, ...]) -> tuple[Passage, ...]:
    by_checkpoint: dict[int, list[CustodyStep]] = {}
    for step in custody:
        by_checkpoint.setdefault(step.checkpoint_id, []).append(step)
    expected = expected_route(declaration)
    passages = [Passage(role, seq, cp.id, cp.code, cp.kind.value, tuple(s.id for s in by_checkpoint.get(cp.id, ())),
                        by_checkpoint[cp.id][0].event_time if cp.id in by_checkpoint else None)
                for role, seq, cp in expected]
    known = {cp.id for _, _, cp in expected}
    for checkpoint_id, steps in by_checkpoint.items():
        if checkpoint_id not in known:
            first = steps[0]
            passages.append(Passage("unexpected", None, checkpoint_id, first.code, first.checkpoint_kind,
                                    tuple(s.id for s in steps), first.event_time))
    return tuple(passages)


def out_of_order(passages: tuple[Passage, ...]) -> tuple[int, ...]:
    """Return the expected checkpoints first seen before a checkpoint that comes earlier on the route."""
    latest: datetime | None = None
    found = []
    for passage in passages:
        if passage.role == "unexpected" or passage.first_seen is None:
            continue
        if latest is not None and passage.first_seen < latest:
            found.append(passage.checkpoint_id)
        latest = passage.first_seen if latest is None else max(latest, passage.first_seen)
    return tuple(found)
