"""Custody events: a container seen at a checkpoint, recorded by an officer or a station.

The event is always kept as evidence (chained, append-only); rules that find
something wrong open alerts instead of refusing it:

- ``custody_unregistered_container`` — the SSCC scanned belongs to no registered container;
- ``custody_without_declaration`` — the container is on no approved, moving or arrived declaration;
- ``custody_unexpected_checkpoint`` — the checkpoint is not the origin, an expected checkpoint
  or the destination of the container's declaration;
- ``custody_out_of_order`` — the checkpoint comes before one already seen earlier (or after
  one seen later) on the declared route, or an arrival comes before any departure;
- ``custody_mass_discrepancy`` — the measured net mass is off the declared one beyond tolerance;
- ``custody_seal_broken`` — the seal is not intact.

Idempotent on ``client_event_id``: the same event again is stored once; the same id
with other content is refused. A departure scanned at the origin moves an approved
declaration to in transit (the first such scan of any of its containers), an arrival
at the destination moves it from in transit to arrived. Each container follows its
own scans: in transit after departing, back in stock after arriving, held by the
``to_party`` named on the event (on arrival by default the consignee).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from tracker.domain import lifecycle
from tracker.domain.access import Action, custody_event_filter, may
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.chain import append_to_chain, lock_chain
from tracker.domain.custody_input import Recorder, read_custody_event
from tracker.domain.custody_track import TRACK_KINDS, compare_with_beacon
from tracker.domain.errors import Conflict, Forbidden, NotFound
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
           "alerts_of_events", "custody_events", "find_custody_event", "container_for_station", "route_of"]

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


def record_custody_event(session: Session, recorder: Recorder, data: Mapping[str, Any],
                         now: datetime | None = None) -> CustodyOutcome:
    """Record a custody event (or recognise a replay of one), apply its rules and return the outcome.

    ``data`` is the station contract's JSON object. Takes the custody chain lock first:
    on SQLite call it at the start of a transaction.
    """
    _authorise(recorder)
    lock_chain(session, CustodyEvent)
    candidate = read_custody_event(session, recorder, data, now or datetime.now(timezone.utc))
    stored = session.scalars(select(CustodyEvent).where(
        CustodyEvent.client_event_id == candidate.client_event_id)).one_or_none()
    if stored is not None:
        if not _same_event(stored, candidate):
            raise Conflict(text("client event id {client_event_id} was already used for a different event",
                                client_event_id=candidate.client_event_id))
        return CustodyOutcome(stored, False, [])
    declaration = open_declaration(session, candidate.container_id) if candidate.container_id else None
    candidate.declaration_id = declaration.id if declaration else None
    append_to_chain(session, candidate)
    alerts = _apply_rules(session, candidate, declaration)
    alerts += compare_with_beacon(session, candidate, declaration) if declaration is not None else []
    _move(session, candidate, declaration, alerts)
    return CustodyOutcome(candidate, True, alerts)


def _alert(session: Session, event: CustodyEvent, kind: AlertKind,
           declaration: Declaration | None, **details: Any) -> Alert:
    checkpoint = session.get(Checkpoint, event.checkpoint_id)
    assert checkpoint is not None
    return open_alert(session, kind=kind, declaration=declaration,
                      lat=event.lat if event.lat is not None else checkpoint.lat,
                      lon=event.lon if event.lon is not None else checkpoint.lon, at=event.recorded_at,
                      details={"custody_event_id": event.id, "client_event_id": event.client_event_id,
                               "sscc": event.sscc, "checkpoint": checkpoint.code, **details})


def route_of(declaration: Declaration) -> list[int]:
    """Return the checkpoint ids in route order: origin, expected checkpoints, destination."""
    return declaration.route_checkpoint_ids


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
    route = route_of(declaration)
    if event.checkpoint_id not in route:
        alerts.append(_alert(session, event, AlertKind.CUSTODY_UNEXPECTED_CHECKPOINT, declaration))
    elif _out_of_order(session, event, route):
        alerts.append(_alert(session, event, AlertKind.CUSTODY_OUT_OF_ORDER, declaration))
    item = next(i for i in declaration.items if i.container_id == event.container_id)
    if event.measured_net_g is not None:
        difference = mass_discrepancy_g(item.declared_net_g, event.measured_net_g)
        if difference is not None:
            alerts.append(_alert(session, event, AlertKind.CUSTODY_MASS_DISCREPANCY, declaration,
                                 declared_net_g=item.declared_net_g, measured_net_g=event.measured_net_g,
                                 difference_g=difference))
    return alerts


def _move(session: Session, event: CustodyEvent, declaration: Declaration | None, alerts: list[Alert]) -> None:
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
        if declaration.status == DeclarationStatus.APPROVED:
            lifecycle.depart(declaration, at=event.event_time)
    elif event.kind == CustodyKind.ARRIVAL and event.checkpoint_id == declaration.destination_id:
        if declaration.status == DeclarationStatus.APPROVED:
            alerts.append(_alert(session, event, AlertKind.CUSTODY_OUT_OF_ORDER, declaration,
                                 reason="arrival at the destination before any departure at the origin"))
            return
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


def container_for_station(session: Session, device: DeviceToken, sscc: str) -> Container:
    """Return the container a checkpoint station asks about (stations see every container)."""
    if device.kind != DeviceKind.STATION:
        raise Forbidden(text("only a checkpoint station's token reads containers"))
    container = session.scalars(select(Container).where(Container.sscc == sscc)).one_or_none()
    if container is None:
        raise NotFound(text("no container {sscc}", sscc=sscc))
    return container
