"""The plan of a stored declaration: its corridor, zones, stops and checkpoints from the database."""
from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from beacon_gateway.corridor import Corridor
from beacon_gateway.evaluation.plan import Area, Circle, Plan
from beacon_gateway.evaluation.rules import Rules
from tracker.models import Checkpoint, Declaration, Zone, ZoneKind

#: Corridors are derived from the route alone, so a process may keep them (never state that matters);
#: declarations on the same road share one.
_CORRIDORS: OrderedDict[tuple[str, int, float], Corridor] = OrderedDict()
_CORRIDOR_CACHE_SIZE = 2048
#: Plans (stops, checkpoints, zones) are re-read after this long, so edits show within it.
PLAN_TTL_S = 30.0
_PLANS: OrderedDict[tuple[object, ...], tuple[float, Plan]] = OrderedDict()


def corridor_of(declaration: Declaration, rules: Rules) -> Corridor:
    """Return the declaration's corridor, built once per process for an unchanged route."""
    assert declaration.route is not None
    key = (declaration.route.wkt, declaration.corridor_m, rules.inner_margin_m)
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


def zones_for(session: Session, declaration_id: int) -> list[Zone]:
    """Return the zones that apply to a declaration: its own and the global ones."""
    return list(session.scalars(select(Zone).where(
        or_(Zone.declaration_id.is_(None), Zone.declaration_id == declaration_id)).order_by(Zone.id)))


def plan_for_declaration(session: Session, declaration: Declaration, rules: Rules) -> Plan:
    """Return the plan a declaration's track is judged against (re-read every ``PLAN_TTL_S``)."""
    key = (declaration.id, declaration.created_at, declaration.origin_id, declaration.destination_id,
           declaration.corridor_m, declaration.planned_arrival, declaration.beacon_id, rules)
    cached = _PLANS.get(key)
    if cached is not None and time.monotonic() - cached[0] < PLAN_TTL_S:
        return cached[1]
    plan = _read_plan(session, declaration, rules)
    _PLANS[key] = (time.monotonic(), plan)
    while len(_PLANS) > _CORRIDOR_CACHE_SIZE:
        _PLANS.popitem(last=False)
    return plan


def _read_plan(session: Session, declaration: Declaration, rules: Rules) -> Plan:
    zones = zones_for(session, declaration.id)
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
    )
