"""A declaration on the map (tracker.domain.mapdata) and its timeline (tracker.domain.timeline)."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon, shape
from sqlalchemy.orm import Session

from tests.conftest import post_at
from tracker.domain.alerts import acknowledge_alert, explain_alert, open_alert
from tracker.domain.corridor import Corridor
from tracker.domain.custody import record_custody_event
from tracker.domain.mapdata import Fix, declaration_map, excursions, thin
from tracker.domain.timeline import timeline
from tracker.models import Declaration, DeclarationItem, DeclarationStatus, Position, Role, User, Zone
from tracker.models.zones import ZoneKind

pytestmark = pytest.mark.usefixtures("fast_passwords")

#: The trip starts three hours ago (custody events may not lie in the future).
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
#: How far off the route the excursion goes, in degrees of longitude (about 2 km at 42° N).
EXCURSION_DEG = 0.025


def along(route: LineString, count: int) -> list[tuple[float, float]]:
    """Return ``count`` points (lon, lat) evenly along the route."""
    return [tuple(route.interpolate(i / (count - 1), normalized=True).coords[0]) for i in range(count)]


def drive(db: Session, declaration: Declaration, count: int = 60, excursion: range = range(0, 0),
          period_s: int = 30, silent: range = range(0, 0)) -> list[Position]:
    """Store ``count`` fixes along the route, ``excursion`` of them pushed off it, in shuffled order."""
    assert declaration.route is not None and declaration.beacon is not None
    positions = []
    for i, (lon, lat) in enumerate(along(declaration.route, count)):
        if i in silent:
            continue
        positions.append(Position(
            beacon_id=declaration.beacon.id, declaration_id=declaration.id, protocol="osmand", raw=b"fix",
            fix_time=START + timedelta(seconds=period_s * i),
            lon=lon + (EXCURSION_DEG if i in excursion else 0.0), lat=lat))
    random.Random(6).shuffle(positions)  # arrival order is not fix order
    db.add_all(positions)
    db.flush()
    return sorted(positions, key=lambda p: p.fix_time)


def scan(db: Session, officer: User, declaration: Declaration, kind: str, at: datetime,
         **extra: Any) -> None:
    """Record a custody event of the declaration's flask as an officer at the origin or destination."""
    checkpoint = declaration.origin if kind == "departure" else declaration.destination
    record_custody_event(db, post_at(officer, checkpoint), {
        "client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
        "checkpoint": checkpoint.code, "kind": kind, "seal_intact": True,
        "event_time": at.isoformat(), "device": "gate scanner", **extra})
    db.flush()


@pytest.fixture
def trip(db: Session, make_tracked_declaration: Callable[..., Declaration],
         make_user: Callable[..., User]) -> Declaration:
    """A declaration Khaidarkan → Ak-Jol that departed, drove with one excursion, and arrived."""
    declaration = make_tracked_declaration(status=DeclarationStatus.APPROVED,
                                           created_at=START - timedelta(days=1),
                                           planned_departure=START - timedelta(minutes=30),
                                           planned_arrival=START + timedelta(days=1))
    officer = make_user(Role.CUSTOMS_OFFICER, name="Aibek Osmonov")
    fixes = drive(db, declaration, excursion=range(20, 24))  # before the scans: they look for the beacon's fixes
    scan(db, officer, declaration, "departure", START - timedelta(minutes=5))
    off = fixes[21]
    open_alert(db, kind="off_route", severity="warning", declaration=declaration, lat=off.lat, lon=off.lon,
               at=off.fix_time, details={"distance_m": 2000})
    scan(db, officer, declaration, "arrival", fixes[-1].fix_time + timedelta(minutes=5), measured_net_g=34_500)
    db.refresh(declaration)
    return declaration


def layer(collection: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [f for f in collection["features"] if f["properties"]["layer"] == name]


def test_the_corridor_contains_the_planned_route(db: Session, trip: Declaration) -> None:
    collection = declaration_map(db, trip)
    [corridor] = layer(collection, "corridor")
    [route] = layer(collection, "route")
    polygon = shape(corridor["geometry"])
    assert corridor["properties"]["width_m"] == trip.corridor_m == 500
    assert polygon.geom_type == "Polygon" and polygon.buffer(1e-6).contains(shape(route["geometry"]))
    # 500 m each side: a point 2 km off the road is outside.
    lon, lat = trip.route.coords[5]
    assert not polygon.contains(Point(lon + EXCURSION_DEG, lat))


def test_the_track_runs_in_fix_time_order_whatever_order_the_fixes_arrived(
        db: Session, trip: Declaration) -> None:
    [track] = layer(declaration_map(db, trip), "track")
    expected = [(round(lon + (EXCURSION_DEG if 20 <= i < 24 else 0), 6), round(lat, 6))
                for i, (lon, lat) in enumerate(along(trip.route, 60))]
    coordinates = [c for point in track["geometry"]["coordinates"] for c in point]
    assert coordinates == pytest.approx([c for point in expected for c in point], abs=2e-6)
    assert track["properties"]["fixes"] == track["properties"]["shown"] == 60
    assert track["properties"]["first_fix"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_alert_and_both_custody_events_are_points_with_their_facts(db: Session, trip: Declaration) -> None:
    collection = declaration_map(db, trip)
    [alert] = layer(collection, "alert")
    assert {"kind": "off_route", "severity": "warning", "status": "open"}.items() <= alert["properties"].items()
    lon, lat = along(trip.route, 60)[21]
    assert alert["geometry"]["coordinates"] == pytest.approx([lon + EXCURSION_DEG, lat], abs=2e-6)
    custody = layer(collection, "custody")
    assert [c["properties"]["kind"] for c in custody] == ["departure", "arrival"]
    departure, arrival = custody
    assert departure["geometry"]["coordinates"] == pytest.approx([trip.origin.lon, trip.origin.lat])
    assert arrival["geometry"]["coordinates"] == pytest.approx([trip.destination.lon, trip.destination.lat])
    [flask] = arrival["properties"]["containers"]
    assert flask | {"event_time": None} == {"sscc": trip.items[0].container.sscc, "seal_intact": True,
                                            "measured_net_g": 34_500, "event_time": None}
    assert arrival["properties"]["seal_intact"] is True
    roles = [c["properties"]["role"] for c in layer(collection, "checkpoint")]
    assert roles == ["origin", "destination"]


def test_the_flasks_of_one_truck_scanned_at_one_gate_share_one_point_and_one_timeline_entry(
        db: Session, make_tracked_declaration: Callable[..., Declaration], make_container: Callable[..., Any],
        make_user: Callable[..., User]) -> None:
    declaration = make_tracked_declaration(status=DeclarationStatus.APPROVED, planned_departure=START,
                                           planned_arrival=START + timedelta(days=1))
    declaration.items.append(DeclarationItem(container=make_container(owner=declaration.declarant),
                                             declared_net_g=34_500))
    db.flush()
    officer = make_user(Role.CUSTOMS_OFFICER)
    first, second = (item.container.sscc for item in declaration.items)
    scan(db, officer, declaration, "departure", START, sscc=first)
    scan(db, officer, declaration, "departure", START + timedelta(minutes=1), sscc=second, seal_intact=False)
    [departure] = layer(declaration_map(db, declaration), "custody")
    assert [c["sscc"] for c in departure["properties"]["containers"]] == [first, second]
    assert departure["properties"]["seal_intact"] is False
    [entry] = [e for e in timeline(db, declaration) if e.kind == "custody"]
    assert [e.sscc for e in entry.subject] == [first, second] and entry.at == START


def test_zones_of_the_declaration_and_shared_zones_near_it_are_shown_far_ones_not(
        db: Session, trip: Declaration) -> None:
    lon, lat = trip.route.coords[3]
    square = lambda x, y, d=0.01: Polygon([(x - d, y - d), (x + d, y - d), (x + d, y + d), (x - d, y + d)])  # noqa: E731
    db.add_all([Zone(name="Tunnel", kind=ZoneKind.DEAD_ZONE, polygon=square(lon, lat)),
                Zone(name="Far border strip", kind=ZoneKind.PROHIBITED, polygon=square(79.0, 41.0)),
                Zone(name="Own depot", kind=ZoneKind.PROHIBITED, polygon=square(79.5, 41.5), declaration=trip)])
    db.flush()
    names = {z["properties"]["name"] for z in layer(declaration_map(db, trip), "zone")}
    assert names == {"Tunnel", "Own depot"}


def test_a_long_track_is_thinned_keeping_first_last_and_every_fix_off_the_corridor() -> None:
    route = LineString([(72.0, 41.0), (73.0, 41.0)])
    outline = Corridor(route, 500).outline()
    fixes = [Fix(START + timedelta(seconds=i), 72.0 + i / 10_000, 41.0 + (0.05 if 4_001 <= i <= 4_003 else 0))
             for i in range(10_000)]
    shown = thin(fixes, outline, limit=1_000)
    assert len(shown) < 1_100
    assert shown[0] == fixes[0] and shown[-1] == fixes[-1]
    assert {fixes[4_001], fixes[4_002], fixes[4_003]} <= set(shown)
    assert [f.at for f in shown] == sorted(f.at for f in shown)


def test_a_track_mostly_off_the_corridor_is_thinned_too_keeping_where_each_excursion_starts_and_ends() -> None:
    outside = np.zeros(20_000, dtype=bool)
    outside[1_000:9_000] = outside[12_000:19_000] = True
    kept = excursions(outside, limit=1_000)
    assert kept.sum() < 1_100 and not kept[~outside].any()
    assert kept[[1_000, 8_999, 12_000, 18_999]].all()


def test_a_declaration_without_route_or_fixes_has_only_its_checkpoints(
        db: Session, make_declaration: Callable[..., Declaration]) -> None:
    draft = make_declaration(route=None)
    collection = declaration_map(db, draft)
    assert {f["properties"]["layer"] for f in collection["features"]} == {"checkpoint"}


def test_the_timeline_lists_what_happened_in_time_order_with_who(
        db: Session, trip: Declaration, make_user: Callable[..., User]) -> None:
    officer = make_user(Role.CUSTOMS_OFFICER, name="Nurlan Asanov")
    [alert] = [e.subject for e in timeline(db, trip) if e.kind == "alert_opened"]
    acknowledge_alert(db, alert, officer, at=alert.opened_at + timedelta(minutes=1))
    trader = make_user(Role.TRADER, dealer=trip.declarant, name="Bakyt Trader")
    explain_alert(db, alert, trader, "Road works: detour ordered by the police",
                  at=alert.opened_at + timedelta(minutes=2))
    entries = timeline(db, trip)
    kinds = [e.kind for e in entries]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert kinds.index("created") < kinds.index("custody") < kinds.index("first_position")
    assert kinds.index("first_position") < kinds.index("alert_opened") < kinds.index("alert_acknowledged")
    assert kinds.index("alert_explained") < kinds.index("last_position") < len(kinds) - 1
    assert kinds[-1] == "custody" and kinds.count("custody") == 2
    who = {e.kind: e.who for e in entries}
    assert who["alert_acknowledged"] == "Nurlan Asanov" and who["alert_explained"] == "Bakyt Trader"
    assert who["custody"] == "Aibek Osmonov"
    assert next(e for e in entries if e.kind == "alert_explained").details["note"].startswith("Road works")
