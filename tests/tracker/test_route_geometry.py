"""Route geometry has a cost ceiling: routes are simplified and bounded when saved, and what is
stored (the simplified route and its corridor outline) is what the gateway, maps and reports use."""
from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import numpy as np
import pytest
from flask.testing import FlaskClient
from pyproj import Transformer
from shapely import wkt
from shapely.geometry import LineString, box
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from beacon_gateway.evaluation import Rules
from beacon_gateway.evaluation.declared import plan_for_declaration
from tests.conftest import PASSWORD
from tracker import migrate
from tracker.db import make_engine
from tracker.domain import geography as geo
from tracker.domain.audit.compliance import coverage
from tracker.domain.corridor import Corridor
from tracker.domain.route_files import RouteFileError
from tracker.domain.route_geometry import (
    MAX_ROUTE_VERTICES,
    fitted_geometry,
    plan_geometry,
    store_route,
)
from tracker.models import Declaration, Position

pytestmark = pytest.mark.usefixtures("fast_passwords")

ROAD = geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Bishkek")
_TM = "+proj=tmerc +lat_0=41.4 +lon_0=72.97 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
TO_M = Transformer.from_crs("EPSG:4326", _TM, always_xy=True)
TO_DEG = Transformer.from_crs(_TM, "EPSG:4326", always_xy=True)
NOISE_M = 5.0


def along_road(n: int, offset_m: np.ndarray | float = 0.0) -> np.ndarray:
    """Return n points (lon, lat) evenly along the demo road, each ``offset_m`` to its left."""
    x, y = TO_M.transform([w.lon for w in ROAD], [w.lat for w in ROAD])
    s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    at = np.linspace(0.0, s[-1], n)
    px, py = np.interp(at, s, x), np.interp(at, s, y)
    dx, dy = np.gradient(px), np.gradient(py)
    norm = np.hypot(dx, dy)
    lon, lat = TO_DEG.transform(px - dy / norm * offset_m, py + dx / norm * offset_m)
    return np.column_stack([lon, lat])


def noisy(points: np.ndarray, seed: int = 1) -> np.ndarray:
    """Return the points moved by up to ±NOISE_M metres east and north (a recorded GPS track)."""
    x, y = TO_M.transform(points[:, 0], points[:, 1])
    jitter = np.random.default_rng(seed).uniform(-NOISE_M, NOISE_M, size=(len(points), 2))
    lon, lat = TO_DEG.transform(np.asarray(x) + jitter[:, 0], np.asarray(y) + jitter[:, 1])
    return np.column_stack([lon, lat])


def gpx(points: np.ndarray) -> bytes:
    """Return a GPX track of the points."""
    body = "".join(f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"/>' for lon, lat in points)
    return (f'<?xml version="1.0"?><gpx version="1.1" creator="test"><trk><trkseg>{body}'
            "</trkseg></trk></gpx>").encode()


@pytest.fixture(scope="module")
def recorded_track() -> tuple[LineString, LineString]:
    """(the noise-free road as 49,999 points, a recorded track of it with ±5 m noise)."""
    clean = along_road(49_999)
    return LineString(clean), LineString(noisy(clean))


@pytest.fixture
def draft(client: FlaskClient, make_submittable):
    """A signed-in trader's draft declaration."""
    trader, declaration = make_submittable()
    assert client.post("/api/v1/session", json={"login": trader.login, "password": PASSWORD}).status_code == 200
    return declaration


def test_a_noisy_50000_point_track_is_kept_as_a_route_of_a_few_thousand_points_within_the_tolerance(
        recorded_track: tuple[LineString, LineString]) -> None:
    _, track = recorded_track
    planned = plan_geometry(track, 500)
    assert planned.tolerance_m == 25
    assert 2 < len(planned.route.coords) < MAX_ROUTE_VERTICES
    assert set(planned.route.coords) <= set(track.coords)
    assert planned.route.coords[0] == track.coords[0] and planned.route.coords[-1] == track.coords[-1]
    uploaded = np.asarray(track.coords)
    farthest = Corridor(planned.route, 500).distances_m(uploaded[:, 0], uploaded[:, 1]).max()
    assert farthest <= 25.0 * 1.001          # the projection's scale error: a few millimetres


def test_points_beyond_the_tolerance_are_judged_as_the_unsimplified_route_judges_them(
        recorded_track: tuple[LineString, LineString]) -> None:
    clean, track = recorded_track
    judged = Corridor(plan_geometry(track, 500).route, 500)
    # Distances to the noise-free road; the track is within NOISE_M·√2 of it, the stored route 25 m more.
    margin = 25.0 + NOISE_M * 2 ** 0.5 + 1.0
    rng = np.random.default_rng(3)
    offsets = rng.uniform(-1_200, 1_200, 4_000)
    sample = along_road(4_000, offsets)
    reference = Corridor(clean, 500).distances_m(sample[:, 0], sample[:, 1])
    clearly_in, clearly_out = reference < 500 - margin, reference > 500 + margin
    assert clearly_in.sum() > 1_000 and clearly_out.sum() > 1_000
    inside = judged.contains(sample[:, 0], sample[:, 1])
    assert inside[clearly_in].all() and not inside[clearly_out].any()


def test_a_route_that_stays_too_detailed_is_refused_saying_the_limit(client: FlaskClient, db: Session,
                                                                   draft: Declaration) -> None:
    zigzag = along_road(12_000, np.where(np.arange(12_000) % 2 == 0, 30.0, -30.0))
    before = draft.route
    response = client.post(f"/api/v1/declarations/{draft.id}/route", data=gpx(zigzag),
                           content_type="application/gpx+xml")
    assert response.status_code == 422
    message = response.json["fields"]["route"]
    assert "12000 points after leaving out those within 25.0 m" in message and "the limit is 10000" in message
    db.refresh(draft)
    assert draft.route == before


def test_a_route_doubling_back_on_itself_is_refused(client: FlaskClient, draft: Declaration) -> None:
    osh = np.asarray(TO_M.transform(72.8, 40.53))
    scribble = [[float(lat), float(lon)] for lon, lat in np.column_stack(TO_DEG.transform(
        osh[0] + np.linspace(0, 2_000, 2_000), osh[1] + np.where(np.arange(2_000) % 2 == 0, 200.0, -200.0)))]
    response = client.post(f"/api/v1/declarations/{draft.id}/route", json={"waypoints": scribble})
    assert response.status_code == 422
    assert "runs back over itself too often" in response.json["fields"]["route"]


def test_a_route_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(RouteFileError, match="the limit is 5000 km"):
        plan_geometry(LineString([(0, 0), (90, 0), (179, 0)]), 500)


def test_the_route_as_uploaded_is_kept_and_a_new_corridor_width_simplifies_it_again(
        client: FlaskClient, db: Session, draft: Declaration) -> None:
    track = noisy(along_road(3_000))
    response = client.post(f"/api/v1/declarations/{draft.id}/route", data=gpx(track),
                           content_type="application/gpx+xml")
    assert response.status_code == 200 and response.json["route_tolerance_m"] == 25
    narrow = len(response.json["route"])
    db.refresh(draft)
    assert len(draft.route_uploaded.coords) == 3_000 and len(draft.route.coords) == narrow
    narrow_area = draft.corridor_outline.area

    response = client.patch(f"/api/v1/declarations/{draft.id}", json={"corridor_m": 2_000})
    assert response.status_code == 200, response.json
    assert response.json["route_tolerance_m"] == 100 and len(response.json["route"]) < narrow
    db.refresh(draft)
    assert len(draft.route_uploaded.coords) == 3_000 and draft.corridor_outline.area > 3 * narrow_area


def _in_transit_with_stored_route(make_tracked_declaration: Callable[..., Declaration], uploaded: LineString,
                                  corridor_m: int = 500) -> Declaration:
    declaration = make_tracked_declaration(corridor_m=corridor_m)
    store_route(declaration, uploaded, plan_geometry(uploaded, corridor_m))
    return declaration


def test_the_gateway_judges_pings_by_the_stored_route(db: Session, make_tracked_declaration,
                                                       recorded_track: tuple[LineString, LineString]) -> None:
    declaration = _in_transit_with_stored_route(make_tracked_declaration, recorded_track[1])
    db.flush()
    plan = plan_for_declaration(db, declaration, Rules())
    assert list(plan.corridor.route.coords) == list(declaration.route.coords)
    assert len(plan.corridor.route.coords) < len(recorded_track[1].coords)


def test_the_compliance_report_uses_the_stored_corridor_outline(db: Session, make_tracked_declaration) -> None:
    declaration = _in_transit_with_stored_route(make_tracked_declaration, geo.route_line(ROAD))
    db.flush()
    start = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
    fixes = along_road(20)
    db.execute(insert(Position), [
        {"beacon_id": declaration.beacon_id, "declaration_id": declaration.id,
         "fix_time": start + timedelta(minutes=10 * i), "lat": lat, "lon": lon, "flags": [], "protocol": "json",
         "raw": b"{}"} for i, (lon, lat) in enumerate(fixes)])
    assert coverage(db, declaration).time_share == 1.0
    declaration.corridor_outline = box(fixes[0, 0] - 0.01, fixes[0, 1] - 0.01, fixes[0, 0] + 0.01, fixes[0, 1] + 0.01)
    assert coverage(db, declaration).time_share == 0.0


def test_a_route_saved_before_the_ceiling_is_fitted_to_it_however_detailed() -> None:
    zigzag = LineString(along_road(12_000, np.where(np.arange(12_000) % 2 == 0, 30.0, -30.0)))
    with pytest.raises(RouteFileError):
        plan_geometry(zigzag, 500)
    fitted = fitted_geometry(zigzag, 500)
    assert len(fitted.route.coords) <= MAX_ROUTE_VERTICES and fitted.tolerance_m > 25
    assert fitted.outline.is_valid and not fitted.outline.is_empty



def test_routes_saved_before_the_ceiling_are_simplified_by_the_migration_and_kept_as_uploaded(tmp_path) -> None:
    path = tmp_path / "before.sqlite3"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, "0007")
    detailed = LineString(along_road(12_000, np.where(np.arange(12_000) % 2 == 0, 30.0, -30.0))).wkt
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("INSERT INTO dealers (id, legal_name, taxpayer_number, country, address, created_at)"
                           " VALUES (1, 'Combine', '1', 'KG', '', '2026-11-20 04:00:00')")
        connection.execute("INSERT INTO checkpoints (id, code, name, kind, lat, lon, radius_m, country)"
                           " VALUES (1, 'OSH', 'Osh', 'customs_post', 40.528, 72.799, 500, 'KG')")
        connection.execute(
            "INSERT INTO declarations (id, kind, status, declarant_id, consignor_id, consignee_id, origin_id,"
            " destination_id, corridor_m, vehicle, created_at, decision_reason, receipt_remarks, route)"
            " VALUES (1, 'domestic', 'draft', 1, 1, 1, 1, 1, 500, '', '2026-11-20 04:00:00', '', '', ?)", (detailed,))
        connection.commit()
    engine = make_engine(url)
    try:
        migrate.upgrade(url)
        with engine.connect() as connection:
            route, uploaded, tolerance, outline = connection.execute(text(
                "SELECT route, route_uploaded, route_tolerance_m, corridor_outline FROM declarations")).one()
        assert uploaded == detailed and len(wkt.loads(route).coords) <= MAX_ROUTE_VERTICES and tolerance > 25
        assert wkt.loads(outline).contains(wkt.loads(route))
        migrate.downgrade(url, "0007")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT route FROM declarations")).scalar_one() == detailed
    finally:
        engine.dispose()


def test_the_portal_refuses_a_too_detailed_track_beside_the_file_field_and_stores_nothing(
        client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    from tests.tracker.test_portal_trader import field_error

    trader, draft = make_submittable(route=None, vehicle="")
    auth.sign_in_as(trader)
    zigzag = along_road(12_000, np.where(np.arange(12_000) % 2 == 0, 30.0, -30.0))
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=route", {
        "gpx": (io.BytesIO(gpx(zigzag)), "track.gpx"), "corridor_m": "400", "vehicle": "01 KG 123 ABC"},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "the limit is 10000" in field_error(response.get_data(as_text=True), "gpx")
    db.refresh(draft)
    assert draft.route is None and draft.corridor_m == 500 and draft.vehicle == ""
