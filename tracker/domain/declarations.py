"""Transport declarations: finding them and creating drafts.

Submission, approval and the movement life-cycle build on this (issue #3).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, container_filter, declaration_filter, may
from tracker.domain.errors import Forbidden, NotFound, ValidationFailed
from tracker.models import (
    DEFAULT_CORRIDOR_M,
    Checkpoint,
    Container,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    ExpectedCheckpoint,
    User,
)


@dataclass
class DraftInput:
    """What a trader fills in to start a declaration."""

    kind: str
    consignee_id: int
    origin_code: str
    destination_code: str
    items: list[tuple[str, int]] = field(default_factory=list)  # (SSCC, declared net g)
    waypoints: list[tuple[float, float]] = field(default_factory=list)  # (lat, lon)
    expected_checkpoint_codes: list[str] = field(default_factory=list)
    corridor_m: int = DEFAULT_CORRIDOR_M
    planned_departure: datetime | None = None
    planned_arrival: datetime | None = None
    vehicle: str = ""


def find_declaration(session: Session, user: User, declaration_id: int) -> Declaration:
    """Return the declaration if ``user`` may see it, else raise NotFound."""
    declaration = session.scalars(
        select(Declaration).where(Declaration.id == declaration_id, declaration_filter(user))
    ).one_or_none()
    if declaration is None:
        raise NotFound(f"no declaration {declaration_id}")
    return declaration


def _checkpoint(session: Session, code: str, field_name: str, errors: dict[str, str]) -> Checkpoint | None:
    checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one_or_none()
    if checkpoint is None:
        errors[field_name] = f"no checkpoint {code!r}"
    return checkpoint


def _route(waypoints: list[tuple[float, float]], errors: dict[str, str]) -> LineString | None:
    if not waypoints:
        return None
    if len(waypoints) < 2:
        errors["waypoints"] = "a route needs at least two points"
        return None
    for i, (lat, lon) in enumerate(waypoints):
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors["waypoints"] = f"point {i} is off the globe: {lat}, {lon}"
            return None
    return LineString([(lon, lat) for lat, lon in waypoints])


def _items(session: Session, actor: User, items: list[tuple[str, int]],
           errors: dict[str, str]) -> list[DeclarationItem]:
    rows = []
    for i, (sscc, mass) in enumerate(items):
        container = session.scalars(
            select(Container).where(Container.sscc == sscc, container_filter(actor))
        ).one_or_none()
        if container is None:
            errors[f"items[{i}].sscc"] = f"no container {sscc} held by your dealer"
        elif not isinstance(mass, int) or isinstance(mass, bool) or mass <= 0:
            errors[f"items[{i}].declared_net_g"] = "whole grams > 0"
        else:
            rows.append(DeclarationItem(container=container, declared_net_g=mass))
    return rows


def create_draft(session: Session, actor: User, data: DraftInput) -> Declaration:
    """Create a draft declaration for the acting trader's dealer; report every bad field."""
    if not may(actor, Action.DECLARE):
        raise Forbidden("only a trader files declarations")
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in DeclarationKind}:
        errors["kind"] = f"one of {', '.join(k.value for k in DeclarationKind)}"
    if session.get(Dealer, data.consignee_id) is None:
        errors["consignee_id"] = f"no dealer {data.consignee_id}"
    origin = _checkpoint(session, data.origin_code, "origin", errors)
    destination = _checkpoint(session, data.destination_code, "destination", errors)
    expected = [_checkpoint(session, code, "expected_checkpoints", errors)
                for code in data.expected_checkpoint_codes]
    if len(set(data.expected_checkpoint_codes)) != len(data.expected_checkpoint_codes):
        errors["expected_checkpoints"] = "a checkpoint is listed twice"
    route = _route(data.waypoints, errors)
    items = _items(session, actor, data.items, errors)
    if not 0 < data.corridor_m <= 50_000:
        errors["corridor_m"] = "1..50000 metres"
    for name in ("planned_departure", "planned_arrival"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            errors[name] = "give a time zone (ISO 8601 with offset)"
    if (not errors and data.planned_departure and data.planned_arrival
            and data.planned_arrival <= data.planned_departure):
        errors["planned_arrival"] = "must be after the planned departure"
    if errors:
        raise ValidationFailed(errors)
    declaration = Declaration(
        kind=DeclarationKind(data.kind), declarant_id=actor.dealer_id, consignor_id=actor.dealer_id,
        consignee_id=data.consignee_id, origin=origin, destination=destination, route=route,
        corridor_m=data.corridor_m, planned_departure=data.planned_departure,
        planned_arrival=data.planned_arrival, vehicle=data.vehicle, created_by=actor, items=items,
        expected_checkpoints=[ExpectedCheckpoint(seq=i, checkpoint=c) for i, c in enumerate(expected)],
    )
    session.add(declaration)
    session.flush()
    return declaration
