"""The watch never loses sight: a beacon that never reported, a road past its own destination,
fixes from the future."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon_gateway.evaluation import Fix, evaluate, plan_for_route
from beacon_gateway.evaluation.overdue import overdue_candidates
from beacon_gateway.evaluation import check_overdue, reevaluate
from beacon_gateway.position import FLAG_FUTURE, Position as Decoded
from tests.gateway.test_evaluation_alerts import alerts_of, chunks, deliver
from tracker.domain import last_position
from tracker.domain.audit.now import in_transit
from tracker.domain.mapdata import declaration_map
from tracker.models import Alert, Declaration, DeclarationStatus, Role

DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
#: A loop that passes through its own destination a fifth of the way along, then comes back to it.
D = (72.85, 40.505)
LOOP = LineString([(72.80, 40.505), D, (72.90, 40.505), (72.90, 40.55), (72.85, 40.55), D])


def drive(route: LineString, start: datetime, step_deg: float = 0.002, period_s: int = 60,
          parked: int = 5) -> list[Decoded]:
    """Fixes along ``route`` every ``period_s`` (``step_deg`` apart), then ``parked`` more at its end."""
    count = int(route.length / step_deg)
    points = [route.interpolate(n * step_deg) for n in range(count + 1)] + [route.interpolate(1.0, normalized=True)] * parked
    return [Decoded("dev", start + timedelta(seconds=n * period_s), p.y, p.x, "json", speed_kmh=None if n > count else 12.0)
            for n, p in enumerate(points)]


@pytest.fixture
def on_loop(make_tracked_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Any]) -> Declaration:
    return make_tracked_declaration(
        route=LOOP, corridor_m=250, reporting_period_s=60, departed_at=DEPARTED,
        origin=make_checkpoint(lat=40.505, lon=72.80, radius_m=300),
        destination=make_checkpoint(lat=D[1], lon=D[0], radius_m=300),
        planned_departure=DEPARTED, planned_arrival=DEPARTED + timedelta(hours=12))


def first_back_at_destination(fixes: list[Decoded]) -> datetime:
    """The first fix within the end zone after the loop (the fixes of the first pass are close together)."""
    near = [f.fix_time for f in fixes if abs(f.lon - D[0]) < 0.003 and abs(f.lat - D[1]) < 0.0025]
    return next(t for prev, t in zip(near, near[1:]) if t - prev > timedelta(minutes=30))


#: Up a valley past the destination and back down the same road to it.
VALLEY = LineString([(72.80, 40.505), D, (72.85, 40.60), D])


# ------------------------------------------------------------------ arrival is progress, not proximity
@pytest.mark.parametrize("route", [LOOP, VALLEY], ids=["ring road", "out and back"])
def test_offline_a_road_through_its_own_destination_arrives_only_at_the_end(route: LineString) -> None:
    fixes = drive(route, DEPARTED)
    plan = plan_for_route(route, 250, end_radius_m=300, reporting_period_s=60)
    arrived = [e for e in evaluate([Fix.of(p) for p in fixes], plan) if e.kind == "arrived"]
    assert [e.start for e in arrived] == [first_back_at_destination(fixes)]
    half_way = [f for f in fixes if f.fix_time < DEPARTED + timedelta(minutes=40)]
    assert [e.kind for e in evaluate([Fix.of(p) for p in half_way], plan)] == []   # passing by is not arriving


def test_live_a_road_through_its_own_destination_arrives_only_at_the_end(db: Session, on_loop: Declaration) -> None:
    fixes = drive(LOOP, DEPARTED)
    deliver(db, on_loop, chunks(fixes[:40], 5))        # the first pass, in windows shorter than the trip
    assert alerts_of(db, on_loop) == []
    deliver(db, on_loop, chunks(fixes[40:], 5))
    alerts = alerts_of(db, on_loop)
    assert [(a["kind"], a["opened_at"]) for a in alerts] == [("arrived", first_back_at_destination(fixes))]


def test_a_custody_arrival_ends_the_trip_without_any_fix_in_the_end_zone(db: Session, on_loop: Declaration) -> None:
    fixes = drive(LOOP, DEPARTED)[:30]
    on_loop.arrived_at = fixes[-1].fix_time + timedelta(minutes=1)
    deliver(db, on_loop, chunks(fixes, 5))
    assert [(a["kind"], a["opened_at"]) for a in alerts_of(db, on_loop)] == [("arrived", on_loop.arrived_at)]


# ------------------------------------------------------------------ a beacon that never reported
def test_no_fix_since_departure_raises_signal_lost_after_two_periods_then_closes_at_the_first_fix(
        db: Session, on_loop: Declaration) -> None:
    assert check_overdue(db, DEPARTED + timedelta(seconds=110)) and alerts_of(db, on_loop) == []   # within 2 periods
    check_overdue(db, DEPARTED + timedelta(minutes=30))
    check_overdue(db, DEPARTED + timedelta(minutes=31))                                  # raised once
    [lost] = alerts_of(db, on_loop)
    assert (lost["kind"], lost["status"], lost["opened_at"]) == ("signal_lost", "open", DEPARTED + timedelta(seconds=120))
    assert lost["details"]["departed_at"] == "2026-11-20T04:00:00Z" and (lost["details"]["lat"], lost["details"]["lon"]) == (40.505, 72.80)
    first = drive(LOOP, DEPARTED + timedelta(minutes=40))[:3]
    deliver(db, on_loop, [first])
    [lost] = alerts_of(db, on_loop)
    assert (lost["status"], lost["closed_at"]) == ("closed", first[0].fix_time)


def test_a_first_fix_within_two_periods_of_departure_raises_nothing(db: Session, on_loop: Declaration) -> None:
    deliver(db, on_loop, [drive(LOOP, DEPARTED + timedelta(seconds=100))[:3]])
    check_overdue(db, DEPARTED + timedelta(seconds=200))
    assert alerts_of(db, on_loop) == []


def test_a_declaration_not_departed_yet_is_not_lost(db: Session, on_loop: Declaration) -> None:
    on_loop.status, on_loop.departed_at = DeclarationStatus.APPROVED, None
    check_overdue(db, DEPARTED + timedelta(hours=3))
    assert alerts_of(db, on_loop) == []


def test_offline_check_route_counts_silence_from_departure_too() -> None:
    plan = plan_for_route(LOOP, 250, end_radius_m=300, reporting_period_s=60, departed_at=DEPARTED)
    fixes = [Fix.of(p) for p in drive(LOOP, DEPARTED + timedelta(minutes=10))]
    [lost] = [e for e in evaluate(fixes, plan) if e.kind == "signal_lost"]
    assert (lost.start, lost.end) == (DEPARTED, DEPARTED + timedelta(minutes=10))


# ------------------------------------------------------------------ fixes from the future
def test_the_gateway_flag_is_the_one_the_tracker_passes_over() -> None:
    assert last_position.FUTURE_FIX == FLAG_FUTURE


def test_a_fix_from_the_future_is_never_the_last_position_nor_proof_of_life(
        db: Session, on_loop: Declaration, make_user: Callable[..., Any]) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    on_loop.departed_at = now - timedelta(hours=1)
    real = drive(LOOP, now - timedelta(minutes=50))[:10]
    future = Decoded("dev", now + timedelta(days=3), 41.0, 75.0, "json", flags=(FLAG_FUTURE,))
    deliver(db, on_loop, [real, [future]])
    auditor = make_user(Role.AUDITOR)
    rows, _ = in_transit(db, auditor, now)
    [row] = [r for r in rows if r.declaration_id == on_loop.id]
    assert (row.fix_time, row.lat, row.lon) == (real[-1].fix_time, real[-1].lat, real[-1].lon)
    [track] = [f for f in declaration_map(db, on_loop)["features"] if f["properties"]["layer"] == "track"]
    assert track["properties"]["last_fix"] == real[-1].fix_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tuple(track["geometry"]["coordinates"][-1]) == (round(real[-1].lon, 6), round(real[-1].lat, 6))
    assert on_loop.id in overdue_candidates(db, now)                     # silent for 40 minutes
    check_overdue(db, now)
    assert "signal_lost" in [a["kind"] for a in alerts_of(db, on_loop)]
