"""Filing a declaration step by step: what each step offers the trader, and the parts the
draft itself does not cover (the beacon, the order of expected checkpoints).

Each step rewrites the whole draft through :func:`tracker.domain.declarations.update_draft`,
starting from :func:`draft_of` (the draft as it stands) with only that step's fields changed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.declarations import DraftInput, editable_declaration
from tracker.domain.errors import ValidationFailed
from tracker.domain.route_files import locate_on_route
from tracker.domain.submission import HOLDING
from tracker.domain.text import text
from tracker.models import (
    HOME_COUNTRY,
    Beacon,
    Checkpoint,
    Container,
    ContainerStatus,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    User,
)

#: Which step of the form shows each field the domain may name in an error.
STEP_OF_FIELD = {
    "kind": "parties", "consignor": "parties", "consignor_id": "parties", "consignee": "parties",
    "consignee_id": "parties", "declarant": "parties", "import_approval_id": "parties",
    "export_consent_id": "parties", "origin": "parties", "destination": "parties",
    "items": "containers",
    "route": "route", "route.start": "route", "route.end": "route", "waypoints": "route",
    "corridor_m": "route", "expected_checkpoints": "route", "planned_departure": "route",
    "planned_arrival": "route", "beacon": "route", "vehicle": "route",
}
STEPS = ("parties", "containers", "route", "review")


def step_of(field_name: str) -> str:
    """Return the step whose form holds ``field_name`` (``items[2].sscc`` → containers)."""
    return STEP_OF_FIELD.get(field_name.split("[")[0], "review")


def draft_of(declaration: Declaration) -> DraftInput:
    """Return the declaration as the input that would write it again (its route is kept apart)."""
    foreign_consignor = declaration.kind in (DeclarationKind.IMPORT, DeclarationKind.TRANSIT)
    return DraftInput(
        kind=declaration.kind.value, consignee_id=declaration.consignee_id,
        origin_code=declaration.origin.code, destination_code=declaration.destination.code,
        items=[(i.container.sscc, i.declared_net_g) for i in declaration.items],
        expected_checkpoint_codes=[e.checkpoint.code for e in declaration.expected_checkpoints],
        corridor_m=declaration.corridor_m, planned_departure=declaration.planned_departure,
        planned_arrival=declaration.planned_arrival, vehicle=declaration.vehicle,
        consignor_id=declaration.consignor_id if foreign_consignor else None,
        import_approval_id=declaration.import_approval_id, export_consent_id=declaration.export_consent_id,
    )


def with_changes(declaration: Declaration, **changes: Any) -> DraftInput:
    """Return :func:`draft_of` with some fields changed (a step's fields)."""
    return replace(draft_of(declaration), **changes)


def stock_containers(session: Session, actor: User, declaration: Declaration | None = None) -> list[Container]:
    """Return the containers the actor's dealer holds in stock and no open declaration holds,
    plus those already on ``declaration``; by SSCC."""
    held = (select(DeclarationItem.container_id).join(Declaration)
            .where(Declaration.status.in_(HOLDING)))
    if declaration is not None:
        held = held.where(Declaration.id != declaration.id)
    query = select(Container).where(Container.custodian_id == actor.dealer_id,
                                    Container.status == ContainerStatus.IN_STOCK,
                                    Container.id.not_in(held))
    found = {c.id: c for c in session.scalars(query)}
    for item in declaration.items if declaration is not None else []:
        found.setdefault(item.container.id, item.container)
    return sorted(found.values(), key=lambda c: c.sscc)


def dealer_beacons(session: Session, actor: User) -> list[Beacon]:
    """Return the beacons the actor's dealer owns, by device id."""
    return list(session.scalars(select(Beacon).where(Beacon.owner_id == actor.dealer_id)
                                .order_by(Beacon.device_id)))


def counterparties(session: Session, actor: User) -> list[Dealer]:
    """Return the domestic dealers other than the actor's own, by name (consignees, buyers, sellers)."""
    return list(session.scalars(select(Dealer).where(Dealer.country == HOME_COUNTRY,
                                                     Dealer.id != actor.dealer_id)
                                .order_by(Dealer.legal_name)))


def checkpoints(session: Session) -> list[Checkpoint]:
    """Return every checkpoint by code (origins, destinations, expected checkpoints)."""
    return list(session.scalars(select(Checkpoint).order_by(Checkpoint.code)))


def order_along_route(codes: list[str], places: dict[str, Checkpoint], route: LineString | None) -> list[str]:
    """Return checkpoint ``codes`` in the order the route passes them (as given without a route)."""
    if route is None:
        return codes
    return sorted(codes, key=lambda code: locate_on_route(places[code].lat, places[code].lon, route)[1]
                  if code in places else 0.0)


def assign_beacon(session: Session, actor: User, declaration_id: int, beacon_id: int | None) -> Declaration:
    """Fit one of the dealer's beacons to a draft (or none); another dealer's beacon is refused."""
    declaration = editable_declaration(session, actor, declaration_id)
    if beacon_id is None:
        declaration.beacon = None
        return declaration
    beacon = session.get(Beacon, beacon_id)
    if beacon is None or beacon.owner_id != actor.dealer_id:
        raise ValidationFailed({"beacon": text("choose one of your dealer's beacons")})
    declaration.beacon = beacon
    session.flush()
    return declaration
