"""Custody events: a container seen at a checkpoint, recorded by an officer or a station.

Every event first passes the custody check (``custody_check``): who may record it,
where and when, with the declaration's status, licences, approvals and planned window;
a refusal stores nothing. What the check lets through is kept as evidence (chained,
append-only) and rules that find something wrong open alerts:

- the custody check's own alerts (licence not holding at an arrival or inspection,
  departure outside the window with the officer's override, unexpected checkpoint,
  arrival before any departure);
- ``custody_unregistered_container`` — the SSCC scanned belongs to no registered container;
- ``custody_without_declaration`` — the container is on no approved, moving or arrived declaration;
- ``custody_out_of_order`` — the checkpoint comes before one already seen earlier (or after
  one seen later) on the declared route;
- ``custody_mass_discrepancy`` — the measured net mass is off the declared one beyond tolerance;
- ``custody_seal_broken`` — the seal is not intact;
- ``custody_partial_departure`` — the officer confirmed a departure with containers missing.

Idempotent on ``client_event_id``: the same event again is stored once; the same id
with other content is refused. An approved declaration moves to in transit when every
container has departed from the origin (or on a confirmed partial departure), and from
in transit to arrived at the first arrival at the destination. Each container follows
its own scans: in transit after departing, back in stock after arriving, held by the
``to_party`` named on the event (on arrival by default the consignee).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from tracker.domain import lifecycle
from tracker.domain.access import Action, custody_event_filter, may
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.chain import append_to_chain, lock_chain
from tracker.domain.custody_check import (
    DEFAULT_WINDOW_TOLERANCE,
    CustodyAnswer,
    Overrides,
    ProposedEvent,
    check_custody,
    enforce,
    read_overrides,
)
from tracker.domain.custody_input import Recorder, read_custody_event
from tracker.domain.custody_track import TRACK_KINDS, compare_with_beacon, event_details
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.loading import loading
from tracker.domain.text import text
from tracker.domain.tolerance import mass_discrepancy_g
from tracker.models import (
    Alert,
    AlertSeverity,
    Checkpoint,
    Container,
    ContainerStatus,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    DeviceKind,
    DeviceToken,
    User,
)

__all__ = ["CustodyOutcome", "Recorder", "record_custody_event", "open_declaration", "event_alerts",
           "alerts_of_events", "custody_events", "find_custody_event", "container_for_station"]

#: Declarations under which a container may be on the move and scanned.
MOVING = (DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT, DeclarationStatus.ARRIVED)
#: The fields that make an event the same event when its client id comes again.
SAME_EVENT_FIELDS = ("kind", "container_id", "checkpoint_id", "from_party_id", "to_party_id",
                     "event_time", "seal_intact", "measured_net_g", "remarks", "photo_digest",
                     "device", "lat", "lon", "unregistered_sscc")


@dataclass
class CustodyOutcome:
    """What recording an event did: the event, whether it is new, and the alerts it opened."""

    event: CustodyEvent
    created: bool
    alerts: list[Alert]


def _authorise(recorder: Recorder) -> None:
    if isinstance(recorder, DeviceToken):
        if recorder.kind != DeviceKind.STATION or recorder.revoked_at is not None:
            raise Forbidden(text("only a checkpoint station's token records custody events"))
    elif not may(recorder, Action.RECORD_CUSTODY):
        raise Forbidden(text("only customs officers and checkpoint stations record custody events"))


def _same_event(stored: CustodyEvent, candidate: CustodyEvent) -> bool:
    return all(getattr(stored, name) == getattr(candidate, name) for name in SAME_EVENT_FIELDS)


def open_declaration(session: Session, container_id: int) -> Declaration | None:
    """Return the approved, moving or arrived declaration carrying the container, if any."""
    return session.scalars(
        select(Declaration).join(DeclarationItem)
        .where(DeclarationItem.container_id == container_id, Declaration.status.in_(MOVING))
        .order_by(Declaration.id.desc()).limit(1)
    ).one_or_none()


def _read(session: Session, recorder: Recorder, data: Mapping[str, Any],
          now: datetime) -> tuple[CustodyEvent, Overrides]:
    """Read the event and the officer's overrides, reporting every bad field at once."""
    errors: dict[str, str] = {}
    candidate = overrides = None
    try:
        candidate = read_custody_event(session, recorder, data, now)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        overrides = read_overrides(data)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    assert candidate is not None and overrides is not None
    return candidate, overrides


def proposed(session: Session, recorder: Recorder, candidate: CustodyEvent, declaration: Declaration | None,
             overrides: Overrides = Overrides(),
             window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> ProposedEvent:
    """Return the unsaved event as the custody check reads it."""
    checkpoint = session.get(Checkpoint, candidate.checkpoint_id)
    assert checkpoint is not None
    container = session.get(Container, candidate.container_id) if candidate.container_id else None
    return ProposedEvent(recorder, CustodyKind(candidate.kind), checkpoint, container, declaration,
                         candidate.event_time, overrides, window_tolerance)


def record_custody_event(session: Session, recorder: Recorder, data: Mapping[str, Any],
                         now: datetime | None = None,
                         window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> CustodyOutcome:
    """Check a custody event with the custody check, record it (or recognise a replay) and return the outcome.

    ``data`` is the station contract's JSON object. A refusal raises Forbidden (not posted
    here) or CustodyRefused (409, every reason in words) and stores nothing. Takes the
    custody chain lock first: on SQLite call it at the start of a transaction.
    """
    _authorise(recorder)
    lock_chain(session, CustodyEvent)
    candidate, overrides = _read(session, recorder, data, now or datetime.now(timezone.utc))
    stored = session.scalars(select(CustodyEvent).where(
        CustodyEvent.client_event_id == candidate.client_event_id)).one_or_none()
    if stored is not None:
        if not _same_event(stored, candidate):
            raise Conflict(text("client event id {client_event_id} was already used for a different event",
                                client_event_id=candidate.client_event_id))
        return CustodyOutcome(stored, False, [])
    declaration = open_declaration(session, candidate.container_id) if candidate.container_id else None
    candidate.declaration_id = declaration.id if declaration else None
    answer = check_custody(session, proposed(session, recorder, candidate, declaration, overrides, window_tolerance))
    enforce(answer)
    append_to_chain(session, candidate)
    alerts = [_alert(session, candidate, f.alert, declaration, **f.details) for f in answer.alerts if f.alert]
    # Further rules that judge the recorded event and open alerts (e.g. the beacon's position
    # against the checkpoint) belong in AFTER_RECORDING, each taking (session, event, declaration).
    for rule in AFTER_RECORDING:
        alerts += rule(session, candidate, declaration)
    _move(session, candidate, declaration, overrides, alerts)
    return CustodyOutcome(candidate, True, alerts)


def _alert(session: Session, event: CustodyEvent, kind: AlertKind,
           declaration: Declaration | None, **details: Any) -> Alert:
    checkpoint = session.get(Checkpoint, event.checkpoint_id)
    assert checkpoint is not None
    return open_alert(session, kind=kind, declaration=declaration,
                      lat=event.lat if event.lat is not None else checkpoint.lat,
                      lon=event.lon if event.lon is not None else checkpoint.lon, at=event.recorded_at,
                      details={**event_details(event, checkpoint), **details})


def _out_of_order(session: Session, event: CustodyEvent, route: list[int]) -> bool:
    here = route.index(event.checkpoint_id)
    earlier = session.scalars(select(CustodyEvent).where(
        CustodyEvent.declaration_id == event.declaration_id, CustodyEvent.container_id == event.container_id,
        CustodyEvent.id != event.id))
    for other in earlier:
        if other.checkpoint_id not in route:
            continue
        there = route.index(other.checkpoint_id)
        if (other.event_time < event.event_time and there > here) or (
                other.event_time > event.event_time and there < here):
            return True
    return False


def _apply_rules(session: Session, event: CustodyEvent, declaration: Declaration | None) -> list[Alert]:
    """Open an alert for each rule the event breaks."""
    alerts = []
    if not event.seal_intact:
        alerts.append(_alert(session, event, AlertKind.CUSTODY_SEAL_BROKEN, declaration))
    if event.container_id is None:
        alerts.append(_alert(session, event, AlertKind.CUSTODY_UNREGISTERED_CONTAINER, None))
        return alerts
    if declaration is None:
        alerts.append(_alert(session, event, AlertKind.CUSTODY_WITHOUT_DECLARATION, None))
        return alerts
    route = declaration.route_checkpoint_ids
    if event.checkpoint_id in route and _out_of_order(session, event, route):
        alerts.append(_alert(session, event, AlertKind.CUSTODY_OUT_OF_ORDER, declaration))
    item = next(i for i in declaration.items if i.container_id == event.container_id)
    if event.measured_net_g is not None:
        difference = mass_discrepancy_g(item.declared_net_g, event.measured_net_g)
        if difference is not None:
            alerts.append(_alert(session, event, AlertKind.CUSTODY_MASS_DISCREPANCY, declaration,
                                 declared_net_g=item.declared_net_g, measured_net_g=event.measured_net_g,
                                 difference_g=difference))
    return alerts


#: Rules run on a recorded event, after the custody check; each returns the alerts it opened.
def _beacon_at_custody(session: Session, event: CustodyEvent, declaration: Declaration | None) -> list[Alert]:
    """Compare the event with the declaration beacon's position at that time (a moved beacon)."""
    return compare_with_beacon(session, event, declaration) if declaration is not None else []


AFTER_RECORDING: list[Callable[[Session, CustodyEvent, Declaration | None], list[Alert]]] = [
    _apply_rules, _beacon_at_custody]


def _depart(session: Session, event: CustodyEvent, declaration: Declaration, overrides: Overrides,
            alerts: list[Alert]) -> None:
    """Move the declaration to in transit once every container has departed, or on a confirmed partial departure."""
    left = loading(session, declaration).missing
    if left and not overrides.partial_reason:
        return
    if left:
        alerts.append(_alert(session, event, AlertKind.CUSTODY_PARTIAL_DEPARTURE, declaration,
                             missing=list(left), reason=overrides.partial_reason))
    lifecycle.depart(declaration, at=event.event_time)


def _move(session: Session, event: CustodyEvent, declaration: Declaration | None, overrides: Overrides,
          alerts: list[Alert]) -> None:
    """Move the declaration and the container as the event says."""
    container = session.get(Container, event.container_id) if event.container_id else None
    if container is None:
        return
    if event.to_party_id is not None:
        container.custodian_id = event.to_party_id
    if declaration is None:
        return
    if event.kind == CustodyKind.DEPARTURE and event.checkpoint_id == declaration.origin_id:
        container.status = ContainerStatus.IN_TRANSIT
        session.flush()
        if declaration.status == DeclarationStatus.APPROVED:
            _depart(session, event, declaration, overrides, alerts)
    elif event.kind == CustodyKind.ARRIVAL and event.checkpoint_id == declaration.destination_id:
        if declaration.status == DeclarationStatus.APPROVED:
            return  # the custody check opened custody_out_of_order: kept as evidence, nothing moves
        container.status = ContainerStatus.IN_STOCK
        container.custodian_id = event.to_party_id or declaration.consignee_id
        if declaration.status == DeclarationStatus.IN_TRANSIT:
            lifecycle.arrive(declaration, at=event.event_time)
    session.flush()


def alerts_of_events(session: Session, event_ids: list[int]) -> dict[int, list[Alert]]:
    """Return the alerts each event opened (found by the event id in their details), in one query."""
    if not event_ids:
        return {}
    opened_by = Alert.details["custody_event_id"].as_integer()
    found: dict[int, list[Alert]] = {}
    for alert in session.scalars(select(Alert).where(or_(Alert.kind.like("custody_%"), Alert.kind.in_(TRACK_KINDS)),
                                                      opened_by.in_(event_ids))
                                 .order_by(Alert.id)):
        found.setdefault(alert.details["custody_event_id"], []).append(alert)
    return found


def event_alerts(session: Session, event: CustodyEvent) -> list[Alert]:
    """Return the alerts the event opened."""
    return alerts_of_events(session, [event.id]).get(event.id, [])


def custody_events(user: User, sscc: str | None = None, checkpoint: str | None = None,
                   declaration_id: int | None = None) -> Select[tuple[CustodyEvent]]:
    """Return the custody events ``user`` may read, newest first, by container, checkpoint or declaration.

    Each row comes with its container, checkpoint and declaration, joined to the page's statement.
    """
    query = select(CustodyEvent).where(custody_event_filter(user))
    if sscc:
        query = query.where(or_(CustodyEvent.container_id.in_(select(Container.id).where(Container.sscc == sscc)),
                                CustodyEvent.unregistered_sscc == sscc))
    if checkpoint:
        # "=" on the one checkpoint (codes are unique) lets the page walk its (checkpoint, time) index.
        query = query.where(CustodyEvent.checkpoint_id == select(Checkpoint.id).where(
            Checkpoint.code == checkpoint).scalar_subquery())
    if declaration_id is not None:
        query = query.where(CustodyEvent.declaration_id == declaration_id)
    return query.order_by(CustodyEvent.event_time.desc(), CustodyEvent.id.desc()).options(
        joinedload(CustodyEvent.container), joinedload(CustodyEvent.checkpoint),
        joinedload(CustodyEvent.declaration))


def find_custody_event(session: Session, event_id: int) -> CustodyEvent:
    """Return the custody event by id, or raise NotFound."""
    event = session.get(CustodyEvent, event_id)
    if event is None:
        raise NotFound(text("no custody event {event_id}", event_id=event_id))
    return event


def station_answer(session: Session, device: DeviceToken, container: Container, kind: CustodyKind,
                   now: datetime, window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> CustodyAnswer:
    """Return the custody check's answer to ``kind`` recorded now by the station at its own checkpoint.

    What the station shows the officer when the label is read; the event it then sends is
    checked again when it arrives (the answer may have changed in between).
    """
    checkpoint = session.get(Checkpoint, device.checkpoint_id)
    assert checkpoint is not None  # a station token always names its checkpoint (a database check)
    return check_custody(session, ProposedEvent(device, kind, checkpoint, container,
                                                open_declaration(session, container.id), now,
                                                window_tolerance=window_tolerance))


def container_for_station(session: Session, device: DeviceToken, sscc: str) -> Container:
    """Return the container a checkpoint station asks about (stations see every container)."""
    if device.kind != DeviceKind.STATION:
        raise Forbidden(text("only a checkpoint station's token reads containers"))
    container = session.scalars(select(Container).where(Container.sscc == sscc)).one_or_none()
    if container is None:
        raise NotFound(text("no container {sscc}", sscc=sscc))
    return container
