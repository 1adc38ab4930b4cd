"""Transport declarations: finding them, creating and editing drafts, planned routes.

Submission, decisions and the movement life-cycle are in ``lifecycle``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, container_filter, declaration_filter, may, owns_declaration
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.lifecycle import move
from tracker.domain.plausibility import mass_problem
from tracker.domain.route_files import RouteFileError, route_from_waypoints
from tracker.domain.route_geometry import RouteGeometry, plan_geometry, refit_route, store_route
from tracker.domain.text import text
from tracker.models import (
    DEFAULT_CORRIDOR_M,
    HOME_COUNTRY,
    Checkpoint,
    Container,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    ExportConsent,
    ImportApproval,
    User,
)


@dataclass
class DraftInput:
    """What a trader fills in to start (or rewrite) a declaration.

    A party is chosen by dealer id, or a foreign party named by (name, ISO country);
    a foreign party not yet known is recorded on first use. The consignor is the
    trader's own dealer except for an import or transit, whose consignor is foreign;
    an import's consignee defaults to the trader's own dealer.
    """

    kind: str
    consignee_id: int | None
    origin_code: str
    destination_code: str
    items: list[tuple[str, int]] = field(default_factory=list)  # (SSCC, declared net g)
    waypoints: list[tuple[float, float]] = field(default_factory=list)  # (lat, lon)
    expected_checkpoint_codes: list[str] = field(default_factory=list)
    corridor_m: int = DEFAULT_CORRIDOR_M
    planned_departure: datetime | None = None
    planned_arrival: datetime | None = None
    vehicle: str = ""
    consignee_foreign: tuple[str, str] | None = None  # (legal name, country)
    consignor_id: int | None = None
    consignor_foreign: tuple[str, str] | None = None
    import_approval_id: int | None = None
    export_consent_id: int | None = None


def find_declaration(session: Session, user: User, declaration_id: int) -> Declaration:
    """Return the declaration if ``user`` may see it, else raise NotFound."""
    declaration = session.scalars(
        select(Declaration).where(Declaration.id == declaration_id, declaration_filter(user))
    ).one_or_none()
    if declaration is None:
        raise NotFound(text("no declaration {declaration_id}", declaration_id=declaration_id))
    return declaration


def _checkpoint(session: Session, code: str, field_name: str, errors: dict[str, str]) -> Checkpoint | None:
    checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one_or_none()
    if checkpoint is None:
        errors[field_name] = text("no checkpoint {code!r}", code=code)
    return checkpoint


#: A route as the trader gave it and the geometry planned for it (route_geometry.py).
PlannedRoute = tuple[LineString, RouteGeometry]


def _route(waypoints: list[tuple[float, float]], corridor_m: int, errors: dict[str, str]) -> PlannedRoute | None:
    """Return the waypoints' route and its planned geometry (None without waypoints or when refused)."""
    if not waypoints:
        return None
    try:
        uploaded = route_from_waypoints(waypoints)
        return uploaded, plan_geometry(uploaded, corridor_m if 0 < corridor_m <= 50_000 else DEFAULT_CORRIDOR_M)
    except RouteFileError as exc:
        errors["waypoints"] = str(exc)
        return None


def _items(session: Session, actor: User, items: list[tuple[str, int]],
           errors: dict[str, str]) -> list[DeclarationItem]:
    if len(items) > MAX_DECLARATION_ITEMS:
        errors["items"] = text("at most {limit} containers per declaration", limit=MAX_DECLARATION_ITEMS)
        return []
    held = {c.sscc: c for c in session.scalars(   # one query for the whole list, not one per container
        select(Container).where(Container.sscc.in_({sscc for sscc, _ in items}), container_filter(actor)))}
    rows = []
    for i, (sscc, mass) in enumerate(items):
        container = held.get(sscc)
        if container is None:
            errors[f"items[{i}].sscc"] = text("no container {sscc} held by your dealer", sscc=sscc)
        elif (problem := mass_problem(mass, capacity_g=container.capacity_g, sscc=sscc)) is not None:
            errors[f"items[{i}].declared_net_g"] = problem
        else:
            rows.append(DeclarationItem(container=container, declared_net_g=mass))
    return rows


def foreign_party(session: Session, name: str, country: str) -> Dealer:
    """Return the foreign party of that name and country, recording it on first use.

    Foreign parties have no taxpayer number here; a stable placeholder derived from
    the name keeps (country, taxpayer_number) unique.
    """
    key = " ".join(name.casefold().split())
    for dealer in session.scalars(select(Dealer).where(Dealer.country == country)):
        if " ".join(dealer.legal_name.casefold().split()) == key:
            return dealer
    dealer = Dealer(legal_name=" ".join(name.split()), country=country,
                    taxpayer_number="F-" + hashlib.sha256(key.encode()).hexdigest()[:24])
    session.add(dealer)
    return dealer


def _party(session: Session, dealer_id: int | None, foreign: tuple[str, str] | None,
           field_name: str, errors: dict[str, str]) -> Dealer | None:
    if dealer_id is not None:
        dealer = session.get(Dealer, dealer_id)
        if dealer is None:
            errors[field_name + "_id"] = text("no dealer {dealer_id}", dealer_id=dealer_id)
        return dealer
    if foreign is None:
        errors[field_name + "_id"] = text("choose a dealer by id, or name a foreign party with its country")
        return None
    name, country = foreign
    if not name.strip() or len(name) > 200:
        errors[field_name] = text("a foreign party's name (1–200 characters)")
    elif not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()) \
            or country == HOME_COUNTRY:
        errors[field_name] = text("a foreign party's country as an ISO 3166 alpha-2 code other than KG")
    else:
        return foreign_party(session, name, country)
    return None


def _parties(session: Session, actor: User, data: DraftInput,
             errors: dict[str, str]) -> tuple[Dealer | None, Dealer | None]:
    """Return (consignor, consignee) by the rules of :class:`DraftInput`."""
    own = session.get(Dealer, actor.dealer_id)
    foreign_consignor = data.kind in (DeclarationKind.IMPORT, DeclarationKind.TRANSIT)
    if foreign_consignor:
        consignor = _party(session, data.consignor_id, data.consignor_foreign, "consignor", errors)
    else:
        consignor = own
        if data.consignor_id not in (None, actor.dealer_id) or data.consignor_foreign is not None:
            errors["consignor_id"] = text("a {kind} declaration ships from your own dealer", kind=data.kind)
    if data.kind == DeclarationKind.IMPORT and data.consignee_id is None and data.consignee_foreign is None:
        return consignor, own
    return consignor, _party(session, data.consignee_id, data.consignee_foreign, "consignee", errors)


def _consent(session: Session, model: Any, record_id: int | None, kind: DeclarationKind, field_name: str,
             errors: dict[str, str]) -> Any:
    """Return the import approval or export consent ``record_id`` for a declaration of ``kind``."""
    if record_id is None:
        return None
    record = session.get(model, record_id)
    if record is None:
        errors[field_name] = (text("no import approval {record_id}", record_id=record_id)
                              if model is ImportApproval
                              else text("no export consent {record_id}", record_id=record_id))
    elif kind != DeclarationKind.IMPORT and model is ImportApproval:
        errors[field_name] = text("only an import refers to an import approval")
    elif kind != DeclarationKind.EXPORT and model is ExportConsent:
        errors[field_name] = text("only an export refers to an export consent")
    return record


def _resolve(session: Session, actor: User, data: DraftInput) -> dict[str, Any]:
    """Check every field of ``data``; return the declaration's attributes or raise with all errors."""
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in DeclarationKind}:
        errors["kind"] = text("one of {values}", values=", ".join(k.value for k in DeclarationKind))
    consignor, consignee = _parties(session, actor, data, errors)
    origin = _checkpoint(session, data.origin_code, "origin", errors)
    destination = _checkpoint(session, data.destination_code, "destination", errors)
    expected = [_checkpoint(session, code, "expected_checkpoints", errors)
                for code in data.expected_checkpoint_codes]
    if len(set(data.expected_checkpoint_codes)) != len(data.expected_checkpoint_codes):
        errors["expected_checkpoints"] = text("a checkpoint is listed twice")
    route = _route(data.waypoints, data.corridor_m, errors)
    items = _items(session, actor, data.items, errors)
    if len({sscc for sscc, _ in data.items}) != len(data.items):
        errors.setdefault("items", text("a container is listed twice"))
    approval = _consent(session, ImportApproval, data.import_approval_id, data.kind, "import_approval_id", errors)
    consent = _consent(session, ExportConsent, data.export_consent_id, data.kind, "export_consent_id", errors)
    if not 0 < data.corridor_m <= MAX_CORRIDOR_M:
        errors["corridor_m"] = text("1–50000 metres")
    for name in ("planned_departure", "planned_arrival"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            errors[name] = text("give a time zone (ISO 8601 with offset)")
    if (not errors and data.planned_departure and data.planned_arrival
            and data.planned_arrival <= data.planned_departure):
        errors["planned_arrival"] = text("must be after the planned departure")
    if errors:
        raise ValidationFailed(errors)
    return dict(
        kind=DeclarationKind(data.kind), consignor=consignor, consignee=consignee, origin=origin,
        destination=destination, corridor_m=data.corridor_m, planned_departure=data.planned_departure,
        planned_arrival=data.planned_arrival, vehicle=data.vehicle, import_approval=approval,
        export_consent=consent,
        route=route, items=items,
        expected_checkpoints=[ExpectedCheckpoint(seq=i, checkpoint=c) for i, c in enumerate(expected)],
    )


def create_draft(session: Session, actor: User, data: DraftInput) -> Declaration:
    """Create a draft declaration for the acting trader's dealer; report every bad field."""
    if not may(actor, Action.DECLARE):
        raise Forbidden(text("only a trader files declarations"))
    with session.begin_nested():  # a foreign party recorded for a refused draft is undone
        attributes = _resolve(session, actor, data)
    route = attributes.pop("route")
    declaration = Declaration(declarant_id=actor.dealer_id, created_by=actor, **attributes)
    if route is not None:
        store_route(declaration, *route)
    session.add(declaration)
    session.flush()
    return declaration


#: The widest route corridor a declaration may have, in metres.
MAX_CORRIDOR_M = 50_000
#: The most containers one declaration may list: a 20 t truck carries about 580 flasks of 34.5 kg.
MAX_DECLARATION_ITEMS = 1_000

#: A declaration in one of these may still be edited by its declarant (a rejected one goes back to draft).
EDITABLE_STATUSES = (DeclarationStatus.DRAFT, DeclarationStatus.REJECTED)


def editable_declaration(session: Session, actor: User, declaration_id: int) -> Declaration:
    """Return the actor's own declaration if it may still be edited (draft or rejected).

    A rejected declaration goes back to draft when edited.
    """
    declaration = find_declaration(session, actor, declaration_id)
    if not owns_declaration(actor, declaration):
        raise Forbidden(text("only a trader of the declaring dealer edits a declaration"))
    if declaration.status not in EDITABLE_STATUSES:
        raise Conflict(text("declaration {declaration} is {status}; "
                            "only a draft or a rejected declaration can be edited",
                            declaration=declaration.label, status=declaration.status))
    return declaration


def update_draft(session: Session, actor: User, declaration_id: int, data: DraftInput) -> Declaration:
    """Rewrite a draft (or rejected) declaration with ``data``; report every bad field."""
    declaration = editable_declaration(session, actor, declaration_id)
    with session.begin_nested():
        attributes = _resolve(session, actor, data)
    if declaration.status == DeclarationStatus.REJECTED:
        move(declaration, DeclarationStatus.DRAFT)
    # Drop the old rows first: items and checkpoints are keyed by (declaration, container/seq).
    declaration.items, declaration.expected_checkpoints = [], []
    session.flush()
    route = attributes.pop("route")
    for name, value in attributes.items():
        setattr(declaration, name, value)
    if route is not None:
        store_route(declaration, *route)
    else:
        _refit(declaration)     # an uploaded route stays unless waypoints replace it, planned for the width
    session.flush()
    return declaration


def _refit(declaration: Declaration) -> None:
    try:
        refit_route(declaration)
    except RouteFileError as exc:
        raise ValidationFailed({"corridor_m": str(exc)}) from None


def set_route(session: Session, actor: User, declaration_id: int, route: LineString,
              corridor_m: int | None = None, field_name: str = "route") -> Declaration:
    """Replace the planned route of a draft (or rejected) declaration, e.g. from a GPX file.

    A route beyond the geometry ceiling (route_geometry.py) is refused under ``field_name``.
    """
    declaration = editable_declaration(session, actor, declaration_id)
    if corridor_m is not None and not 0 < corridor_m <= MAX_CORRIDOR_M:
        raise ValidationFailed({"corridor_m": text("1–50000 metres")})
    try:
        geometry = plan_geometry(route, corridor_m or declaration.corridor_m)
    except RouteFileError as exc:
        raise ValidationFailed({field_name: str(exc)}) from None
    if declaration.status == DeclarationStatus.REJECTED:
        move(declaration, DeclarationStatus.DRAFT)
    store_route(declaration, route, geometry)
    if corridor_m is not None:
        declaration.corridor_m = corridor_m
    session.flush()
    return declaration
