"""Filing a declaration step by step: what each step offers the trader, and the parts the
draft itself does not cover (the beacon, the order of expected checkpoints).

Each step rewrites the whole draft through :func:`tracker.domain.declarations.update_draft`,
starting from :func:`draft_of` (the draft as it stands) with only that step's fields changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.declarations import DraftInput, editable_declaration
from tracker.domain.errors import ValidationFailed
from tracker.domain.route_files import locate_on_route
from tracker.domain.standing import licence_lapse
from tracker.domain.submission import ACTIVITY_OF_KIND, HOLDING, Failure, rule_parties_licensed
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

STEPS = ("parties", "containers", "route", "review")
#: The review's rows: (field, the step whose form holds it, the error keys shown beside it).
REVIEW_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kind", "parties", ("kind",)), ("consignor", "parties", ("consignor", "consignor_id")),
    ("consignee", "parties", ("consignee", "consignee_id")), ("declarant", "parties", ("declarant",)),
    ("import_approval_id", "parties", ("import_approval_id",)),
    ("export_consent_id", "parties", ("export_consent_id",)),
    ("origin", "parties", ("origin",)), ("destination", "parties", ("destination",)),
    ("items", "containers", ("items",)),
    ("route", "route", ("route", "route.start", "route.end", "waypoints", "gpx")),
    ("corridor_m", "route", ("corridor_m",)), ("expected_checkpoints", "route", ("expected_checkpoints",)),
    ("planned_departure", "route", ("planned_departure",)), ("planned_arrival", "route", ("planned_arrival",)),
    ("beacon", "route", ("beacon",)), ("vehicle", "route", ("vehicle",)),
)
STEP_OF_ROW = {name: step for name, step, _keys in REVIEW_FIELDS}
ROW_OF_KEY = {key: name for name, _step, keys in REVIEW_FIELDS for key in keys}


@dataclass(frozen=True)
class PlacedFailure:
    """One failure as the review shows it: the message, and the step whose form can correct it.

    ``step`` is None when no step can (the trader's own licence is suspended, say); ``why`` then
    says what the trader can do instead.
    """

    message: str
    step: str | None
    why: str = ""


@dataclass
class PlacedFailures:
    """The submission rules' failures placed beside the review's rows.

    ``beside`` maps a row of :data:`REVIEW_FIELDS` to its failures, ``by_sscc`` a container
    to its failures; ``unplaced`` keeps any failure whose field the review does not show.
    """

    beside: dict[str, list[PlacedFailure]] = field(default_factory=dict)
    by_sscc: dict[str, list[PlacedFailure]] = field(default_factory=dict)
    unplaced: list[PlacedFailure] = field(default_factory=list)


def _indexed(key: str) -> tuple[str, int | None]:
    """Split ``items[2].sscc`` into ("items", 2); a key without an index gives (key, None)."""
    head, _bracket, rest = key.partition("[")
    index = rest.split("]")[0]
    return head, int(index) if index.isdigit() else None


def _own_licence_remedy(session: Session, declaration: Declaration, dealer: Dealer,
                        today: date) -> tuple[str | None, str]:
    """Where the trader's own dealer's licence failure is corrected: the window (step 3) when a licence
    for the activity is in force today and only its dates do not cover the window; else nowhere."""
    activity = ACTIVITY_OF_KIND[declaration.kind]
    lapse = licence_lapse(session, dealer, today)
    if lapse is not None and lapse.licence is not None:
        return None, text("no step of this form can correct it: licence {licence} is {status}; "
                          "contact the licensing authority", licence=lapse.licence.number, status=lapse.status)
    if lapse is not None:
        return None, text("no step of this form can correct it: your dealer holds no licence; "
                          "contact the licensing authority")
    if any(lic.covers(activity, today) for lic in dealer.licenses):
        return "route", ""
    return None, text("no step of this form can correct it: your dealer's licence does not cover {activity}; "
                      "contact the licensing authority", activity=activity)


def remedy(session: Session, declaration: Declaration, failure: Failure, today: date) -> tuple[str | None, str]:
    """Return the step whose form can correct ``failure`` (None: none can) and, when none can, what to do."""
    head, index = _indexed(failure.field)
    if failure.rule == rule_parties_licensed.__name__:
        dealer = getattr(declaration, failure.field)
        if dealer.id == declaration.declarant_id:
            return _own_licence_remedy(session, declaration, dealer, today)
        return "parties", ""   # another consignee can be chosen
    if failure.field in ROW_OF_KEY:
        return STEP_OF_ROW[ROW_OF_KEY[failure.field]], ""
    if head == "items" and index is not None:
        return "containers", ""
    if head == "expected_checkpoints":
        return "route", ""
    return None, ""


def place_failures(session: Session, declaration: Declaration, found: list[Failure],
                   today: date) -> PlacedFailures:
    """Place every failure by field, by container (``items[i]`` is the i-th item) or in general,
    each with the step that can correct it."""
    placed = PlacedFailures()
    for failure in found:
        head, index = _indexed(failure.field)
        shown = PlacedFailure(failure.message, *remedy(session, declaration, failure, today))
        if failure.field in ROW_OF_KEY:
            placed.beside.setdefault(ROW_OF_KEY[failure.field], []).append(shown)
        elif head == "items" and index is not None and index < len(declaration.items):
            placed.by_sscc.setdefault(declaration.items[index].container.sscc, []).append(shown)
        elif head == "expected_checkpoints" and index is not None:
            placed.beside.setdefault("expected_checkpoints", []).append(shown)
        else:
            placed.unplaced.append(shown)
    return placed


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
