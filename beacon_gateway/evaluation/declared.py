"""The plan of a stored declaration: its corridor, zones, stops and checkpoints from the database."""
from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

from typing import Any, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, undefer

from tracker.domain.corridor import Corridor
from beacon_gateway.evaluation.plan import Area, Circle, Plan
from beacon_gateway.evaluation.rules import Rules
from tracker.models import Checkpoint, Declaration, ExpectedCheckpoint, Zone, ZoneKind

#: Corridors are derived from the route alone, so a process may keep them (never state that matters);
#: declarations on the same road share one. The stored route is simplified and has at most
#: MAX_ROUTE_VERTICES points (tracker/domain/route_geometry.py), so building one is bounded.
_CORRIDORS: OrderedDict[tuple[bytes, int, float], Corridor] = OrderedDict()
_CORRIDOR_CACHE_SIZE = 2048
#: Plans kept per process: one per declaration on the road (the design load is 10,000 beacons).
_PLAN_CACHE_SIZE = 20_000
#: Plans (stops, checkpoints, zones) are re-read after this long, so edits show within it.
PLAN_TTL_S = 30.0
#: declaration id -> (the plan's key when read, when read, the plan)
_PLANS: OrderedDict[int, tuple[tuple[object, ...], float, Plan]] = OrderedDict()


def corridor_of(declaration: Declaration, rules: Rules) -> Corridor:
    """Return the declaration's corridor, built once per process for an unchanged route."""
    assert declaration.route is not None
    key = (hashlib.blake2b(declaration.route.wkb, digest_size=16).digest(), declaration.corridor_m,
           rules.inner_margin_m)
    corridor = _CORRIDORS.get(key)
    if corridor is None:
        corridor = Corridor(declaration.route, declaration.corridor_m,
                            inner_margin_m=min(rules.inner_margin_m, declaration.corridor_m / 2))
        _CORRIDORS[key] = corridor
        while len(_CORRIDORS) > _CORRIDOR_CACHE_SIZE:
            _CORRIDORS.popitem(last=False)
    _CORRIDORS.move_to_end(key)
    return corridor


def _circle(checkpoint: Checkpoint) -> Circle:
    return Circle(checkpoint.code, checkpoint.lat, checkpoint.lon, checkpoint.radius_m)


def plan_for_declaration(session: Session, declaration: Declaration, rules: Rules) -> Plan:
    """Return the plan a declaration's track is judged against (re-read every ``PLAN_TTL_S``)."""
    return plans_for(session, [declaration], rules)[declaration.id]


def plans_for(session: Session, declarations: Sequence[Declaration], rules: Rules) -> dict[int, Plan]:
    """Return the plans of several declarations; those not cached are read in a few queries in all.

    The stops, checkpoints and beacons of the declarations missing from the cache are
    loaded together (selectinload), and the zones once for all of them, instead of the
    half-dozen lazy loads per declaration that reading one plan at a time costs.
    """
    plans, missing = {}, []
    for declaration in declarations:
        cached = cached_plan(declaration, rules)
        if cached is not None:
            plans[declaration.id] = cached
        else:
            missing.append(declaration)
    if missing:
        _load_plan_parts(session, [d.id for d in missing])
        zones = _zones_by_declaration(session, [d.id for d in missing])
        for declaration in missing:
            plan = _read_plan(declaration, zones.get(declaration.id, zones[None]), rules)
            _PLANS[declaration.id] = (_plan_key(declaration, rules), time.monotonic(), plan)
            plans[declaration.id] = plan
        while len(_PLANS) > _PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
    return plans


def cached_plan(declaration: Any, rules: Rules) -> Plan | None:
    """Return the plan cached for a declaration (or a row with its plan's key columns), if still fresh."""
    cached = _PLANS.get(declaration.id)
    if cached is None or time.monotonic() - cached[1] >= PLAN_TTL_S or cached[0] != _plan_key(declaration, rules):
        return None
    return cached[2]


#: The declaration's columns a plan depends on (besides its route, stops, checkpoints, zones and beacon).
PLAN_KEY_COLUMNS = ("id", "created_at", "origin_id", "destination_id", "corridor_m", "planned_arrival",
                    "departed_at", "beacon_id")


def _plan_key(declaration: Any, rules: Rules) -> tuple[object, ...]:
    return (*(getattr(declaration, column) for column in PLAN_KEY_COLUMNS), rules)


def _load_plan_parts(session: Session, ids: list[int]) -> None:
    """Load the related rows plans need into the session, a query per relationship for all ``ids``."""
    session.scalars(select(Declaration).where(Declaration.id.in_(ids)).options(
        undefer(Declaration.route), selectinload(Declaration.origin), selectinload(Declaration.destination),
        selectinload(Declaration.beacon), selectinload(Declaration.authorised_stops),
        selectinload(Declaration.expected_checkpoints).selectinload(ExpectedCheckpoint.checkpoint))).all()


def _zones_by_declaration(session: Session, ids: list[int]) -> dict[int | None, list[Zone]]:
    """Return the zones applying to each declaration (global ones included); ``None``: global only."""
    zones = session.scalars(select(Zone).where(or_(Zone.declaration_id.is_(None), Zone.declaration_id.in_(ids)))
                            .order_by(Zone.id)).all()
    shared = [z for z in zones if z.declaration_id is None]
    by_declaration: dict[int | None, list[Zone]] = {None: shared}
    for zone in zones:
        if zone.declaration_id is not None:
            by_declaration.setdefault(zone.declaration_id, list(shared)).append(zone)
    for own in by_declaration.values():
        own.sort(key=lambda z: z.id)            # the order reading one declaration's zones gives
    return by_declaration


def _read_plan(declaration: Declaration, zones: list[Zone], rules: Rules) -> Plan:
    beacon = declaration.beacon
    return Plan(
        corridor=corridor_of(declaration, rules),
        origin=_circle(declaration.origin), destination=_circle(declaration.destination),
        stops=tuple(Circle(s.name, s.lat, s.lon, s.radius_m) for s in declaration.authorised_stops),
        checkpoints=tuple(_circle(e.checkpoint) for e in declaration.expected_checkpoints),
        dead_zones=tuple(Area(z.name, z.polygon) for z in zones if z.kind == ZoneKind.DEAD_ZONE),
        prohibited=tuple(Area(z.name, z.polygon) for z in zones if z.kind == ZoneKind.PROHIBITED),
        reporting_period_s=float(beacon.reporting_period_s if beacon else rules.default_reporting_period_s),
        planned_arrival=declaration.planned_arrival,
        departed_at=declaration.departed_at,
    )
