"""Flows: kilograms moved by route, by border crossing and direction, by dealer, by month.

A declaration counts once it has departed (in transit, arrived or closed), in the month
and period of its departure (UTC). Its mass is the declared net mass of its containers;
the received mass is added once the report of receipt gives it. The border crossings of
a declaration are those among its route's places (``Declaration.route_places``: origin,
expected checkpoints, destination), so an import from Torugart counts at Torugart though
no checkpoint between names it. Direction at a border crossing follows the kind: an import
enters, an export leaves, a transit enters at its first border crossing and leaves at its last. Every row names its key, from
which ``flow_declarations`` lists the declarations behind it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from tracker.domain.access import declaration_filter
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.models import (
    Checkpoint,
    CheckpointKind,
    CrossingDirection,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    Role,
    User,
)

FLOW_GROUPS = ("route", "crossing", "dealer", "month")
MOVED = (DeclarationStatus.IN_TRANSIT, DeclarationStatus.ARRIVED, DeclarationStatus.CLOSED)
ROLES = ("consignor", "consignee")


@dataclass(frozen=True)
class FlowFilter:
    """Which declarations a flow report covers: departed in [start, end] (days, UTC), of a kind, of a dealer."""

    start: date | None = None
    end: date | None = None
    kind: DeclarationKind | None = None
    dealer_id: int | None = None       # as declarant, consignor or consignee


@dataclass(frozen=True)
class FlowRow:
    """One row of a flow table: its key, what it names, and the mass behind it."""

    key: str
    names: dict[str, Any]
    declarations: int
    declared_g: int
    received_g: int                    # of the declarations already received
    extra: dict[str, int] = field(default_factory=dict)


def covered(user: User, f: FlowFilter) -> list[ColumnElement[bool]]:
    """Return the conditions selecting the declarations a flow report of ``user`` covers.

    A trader may only ask for their own dealer (Forbidden otherwise); they see what their
    access filter allows either way.
    """
    if user.role == Role.TRADER and f.dealer_id is not None and f.dealer_id != user.dealer_id:
        raise Forbidden("traders read the flows of their own dealer only")
    where = [Declaration.status.in_(MOVED), Declaration.departed_at.is_not(None), declaration_filter(user)]
    if f.start is not None:
        where.append(Declaration.departed_at >= _midnight(f.start))
    if f.end is not None:
        where.append(Declaration.departed_at < _midnight(f.end + timedelta(days=1)))
    if f.kind is not None:
        where.append(Declaration.kind == f.kind)
    if f.dealer_id is not None:
        where.append(or_(Declaration.declarant_id == f.dealer_id, Declaration.consignor_id == f.dealer_id,
                         Declaration.consignee_id == f.dealer_id))
    return where


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


def _per_declaration(user: User, f: FlowFilter, *columns: Any) -> Any:
    """Return one row per covered declaration: its id, ``columns``, and its declared and received grams.

    Summing per declaration first keeps each table a plain count (no DISTINCT), and a
    narrow filter still reaches the items through their primary key.
    """
    return (select(Declaration.id.label("id"), *columns,
                   func.sum(DeclarationItem.declared_net_g).label("declared_g"),
                   func.coalesce(func.sum(DeclarationItem.received_net_g), 0).label("received_g"))
            .join(DeclarationItem, DeclarationItem.declaration_id == Declaration.id)
            .where(*covered(user, f)).group_by(Declaration.id, *columns).subquery())


def _table(per: Any, *keys: Any) -> Select:
    """Return the grouped table of ``per`` by ``keys``: declarations, declared and received grams."""
    return select(*keys, func.count(), func.coalesce(func.sum(per.c.declared_g), 0),
                  func.coalesce(func.sum(per.c.received_g), 0)).group_by(*keys)


def flows(session: Session, user: User, group: str, f: FlowFilter) -> list[FlowRow]:
    """Return the flow table of ``group`` (route, crossing, dealer, month) over the filtered declarations."""
    if group not in FLOW_GROUPS:
        raise ValidationFailed({"group": f"one of {', '.join(FLOW_GROUPS)}"})
    return {"route": _by_route, "crossing": _by_crossing, "dealer": _by_dealer, "month": _by_month}[group](
        session, user, f)


def totals(session: Session, user: User, f: FlowFilter) -> tuple[int, int, int]:
    """Return how many declarations the filter covers and their declared and received grams."""
    declarations, declared, received = session.execute(_table(_per_declaration(user, f))).one()
    return int(declarations), int(declared), int(received)


def _checkpoints(session: Session, ids: set[int]) -> dict[int, Checkpoint]:
    return {c.id: c for c in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(ids)))} if ids else {}


def _place(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"id": checkpoint.id, "code": checkpoint.code, "name": checkpoint.name,
            "names": dict(checkpoint.names or {}), "country": checkpoint.country}


def _by_route(session: Session, user: User, f: FlowFilter) -> list[FlowRow]:
    per = _per_declaration(user, f, Declaration.origin_id, Declaration.destination_id)
    rows = session.execute(_table(per, per.c.origin_id, per.c.destination_id)).all()
    places = _checkpoints(session, {r[0] for r in rows} | {r[1] for r in rows})
    found = [FlowRow(f"{o}-{d}", {"origin": _place(places[o]), "destination": _place(places[d])}, n, int(g), int(r))
             for o, d, n, g, r in rows]
    return sorted(found, key=lambda row: (-row.declared_g, row.key))


#: The place of the destination on a route: after every expected checkpoint (whose ``seq`` is an int4).
LAST_PLACE = 2**31


def _border() -> Select:
    """Return the ids of the border crossings."""
    return select(Checkpoint.id).where(Checkpoint.kind == CheckpointKind.BORDER_CROSSING)


def _route_crossings(where: list[ColumnElement[bool]]) -> Any:
    """Return the border crossings among the route places of the declarations ``where`` selects.

    ``Declaration.route_places`` in SQL, kept to border crossings as each part is read:
    rows (declaration_id, kind, checkpoint_id, place), the origin at place -1, each expected
    checkpoint at its sequence number, the destination at ``LAST_PLACE``.
    """
    border = _border()
    return union_all(
        select(Declaration.id.label("declaration_id"), Declaration.kind.label("kind"),
               Declaration.origin_id.label("checkpoint_id"), literal(-1, BigInteger).label("place"))
        .where(*where, Declaration.origin_id.in_(border)),
        select(ExpectedCheckpoint.declaration_id, Declaration.kind, ExpectedCheckpoint.checkpoint_id,
               cast(ExpectedCheckpoint.seq, BigInteger))
        .join(Declaration, Declaration.id == ExpectedCheckpoint.declaration_id)
        .where(*where, ExpectedCheckpoint.checkpoint_id.in_(border)),
        select(Declaration.id, Declaration.kind, Declaration.destination_id, literal(LAST_PLACE, BigInteger))
        .where(*where, Declaration.destination_id.in_(border)),
    ).subquery("route_crossings")


def _crossing_places(where: list[ColumnElement[bool]]) -> Any:
    """Return each border crossing on a covered declaration's route once, with its first and last place there.

    An import's border-crossing origin and an export's border-crossing destination count
    as crossings as much as the expected checkpoints between them. Each row also carries
    the places of the declaration's first and last border crossing (a window over the
    grouped rows: the route is read once).
    """
    places = _route_crossings(where)
    first, last = func.min(places.c.place), func.max(places.c.place)
    return (select(places.c.declaration_id, places.c.kind, places.c.checkpoint_id, first.label("first"),
                   last.label("last"), func.min(first).over(partition_by=places.c.declaration_id).label("first_place"),
                   func.max(last).over(partition_by=places.c.declaration_id).label("last_place"))
            .group_by(places.c.declaration_id, places.c.kind, places.c.checkpoint_id).subquery("crossing_places"))


def _direction(crossings: Any) -> Any:
    """Return the way across the border at a crossing of the route (None: a transit's middle one)."""
    entering, leaving, kind = CrossingDirection.IMPORT.value, CrossingDirection.EXPORT.value, crossings.c.kind
    return case(
        (kind == DeclarationKind.IMPORT, entering),
        (kind == DeclarationKind.EXPORT, leaving),
        (and_(kind == DeclarationKind.TRANSIT, crossings.c.first == crossings.c.first_place), entering),
        (and_(kind == DeclarationKind.TRANSIT, crossings.c.last == crossings.c.last_place), leaving),
        else_=None)


def _crossings(query: Select, declaration_id: Any, where: list[ColumnElement[bool]]) -> tuple[Select, Any, Any]:
    """Join ``query`` to the border crossings on the route of ``declaration_id`` (one of those ``where`` covers).

    Return the joined query, the crossings (their ``checkpoint_id``) and the direction there.
    """
    crossings = _crossing_places(where)
    joined = query.join(crossings, crossings.c.declaration_id == declaration_id)
    return joined, crossings, _direction(crossings)


def _custody_at_crossings() -> Any:
    """Return each (declaration, border crossing) at which custody was recorded, once."""
    return (select(CustodyEvent.declaration_id, CustodyEvent.checkpoint_id)
            .where(CustodyEvent.declaration_id.is_not(None), CustodyEvent.checkpoint_id.in_(_border()))
            .distinct().subquery("custody_at_crossings"))


def _by_crossing(session: Session, user: User, f: FlowFilter) -> list[FlowRow]:
    """Sum the items of each (declaration, border crossing) by crossing and direction.

    A declaration passes a crossing once (the crossings are grouped per declaration), so
    its items add up exactly; joining the items straight away, rather than per-declaration
    sums, keeps PostgreSQL's estimates (and its JIT threshold) where they belong.
    """
    crossings = _crossing_places(covered(user, f))
    direction = _direction(crossings)
    seen = _custody_at_crossings()
    was_seen = seen.c.checkpoint_id.is_not(None)
    query = (select(crossings.c.checkpoint_id, direction, func.count(distinct(crossings.c.declaration_id)),
                    func.coalesce(func.sum(DeclarationItem.declared_net_g), 0),
                    func.coalesce(func.sum(DeclarationItem.received_net_g), 0),
                    func.count(distinct(case((was_seen, crossings.c.declaration_id)))),
                    func.coalesce(func.sum(case((was_seen, DeclarationItem.declared_net_g), else_=0)), 0))
             .select_from(crossings).join(DeclarationItem, DeclarationItem.declaration_id == crossings.c.declaration_id)
             .outerjoin(seen, and_(seen.c.declaration_id == crossings.c.declaration_id,
                                   seen.c.checkpoint_id == crossings.c.checkpoint_id))
             .where(direction.is_not(None)).group_by(crossings.c.checkpoint_id, direction))
    rows = session.execute(query).all()
    places = _checkpoints(session, {r[0] for r in rows})
    found = [FlowRow(f"{cp}:{way}", {"crossing": _place(places[cp]), "direction": way}, n, int(g), int(r),
                     {"crossed_declarations": int(cn), "crossed_g": int(cg)})
             for cp, way, n, g, r, cn, cg in rows]
    return sorted(found, key=lambda row: (row.names["crossing"]["code"], row.names["direction"]))


def _by_dealer(session: Session, user: User, f: FlowFilter) -> list[FlowRow]:
    per = _per_declaration(user, f, Declaration.consignor_id, Declaration.consignee_id)
    found = []
    for role in ROLES:
        column = per.c[f"{role}_id"]
        rows = session.execute(_table(per, column)).all()
        dealers = {d.id: d for d in session.scalars(select(Dealer).where(Dealer.id.in_({r[0] for r in rows})))}
        found += [FlowRow(f"{d}:{role}", {"dealer": {"id": d, "legal_name": dealers[d].legal_name,
                                                      "country": dealers[d].country}, "role": role},
                          n, int(g), int(r)) for d, n, g, r in rows]
    return sorted(found, key=lambda row: (-row.declared_g, row.key))


def month_of(session: Session, column: Any) -> Any:
    """Return the SQL for the month (YYYY-MM, UTC) of a timestamp column, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _by_month(session: Session, user: User, f: FlowFilter) -> list[FlowRow]:
    per = _per_declaration(user, f, month_of(session, Declaration.departed_at).label("month"))
    rows = session.execute(_table(per, per.c.month).order_by(per.c.month)).all()
    return [FlowRow(m, {"month": m}, n, int(g), int(r)) for m, n, g, r in rows]


# ---------------------------------------------------------------- the records behind a row
_KEYS = {"route": re.compile(r"^(\d+)-(\d+)$"), "crossing": re.compile(r"^(\d+):(import|export)$"),
         "dealer": re.compile(r"^(\d+):(consignor|consignee)$"), "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")}


def flow_declarations(user: User, group: str, key: str, f: FlowFilter) -> Select:
    """Return the declarations behind one row of a flow table (by its key), earliest departure first."""
    if group not in FLOW_GROUPS:
        raise ValidationFailed({"group": f"one of {', '.join(FLOW_GROUPS)}"})
    match = _KEYS[group].match(key or "")
    if match is None:
        raise ValidationFailed({"key": f"not a key of the {group} table"})
    a, b = match.groups()
    query = select(Declaration).where(*covered(user, f))
    if group == "route":
        query = query.where(Declaration.origin_id == int(a), Declaration.destination_id == int(b))
    elif group == "dealer":
        query = query.where(getattr(Declaration, f"{b}_id") == int(a))
    elif group == "month":
        start = date(int(a), int(b), 1)
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        query = query.where(Declaration.departed_at >= _midnight(start), Declaration.departed_at < _midnight(following))
    else:
        query, crossings, direction = _crossings(query, Declaration.id, covered(user, f))
        query = query.where(crossings.c.checkpoint_id == int(a), direction == b)
    return query.order_by(Declaration.departed_at, Declaration.id)
