"""Planned routes from real GPX files (track or route) and waypoints; hostile files are refused."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD, DATA
from tracker.domain.route_files import MAX_GPX_BYTES
from tracker.models import DeclarationStatus

pytestmark = pytest.mark.usefixtures("fast_passwords")

GPX = DATA / "gpx"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" creator="x"><trk><name>&secret;</name><trkseg>
<trkpt lat="40.528" lon="72.799"/><trkpt lat="42.875" lon="74.590"/></trkseg></trk></gpx>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx version="1.1" creator="x"><rte><name>&lol3;</name>
<rtept lat="40.5" lon="72.8"/><rtept lat="42.8" lon="74.5"/></rte></gpx>"""


def points(path: Path, tag: str) -> list[tuple[float, float]]:
    """Return the (lat, lon) of every ``tag`` element of a GPX file, read independently of gpxpy."""
    text = path.read_text(encoding="utf-8-sig")
    return [(float(lat), float(lon)) for lat, lon in re.findall(rf'<{tag} lat="([-\d.]+)" lon="([-\d.]+)"', text)]


@pytest.fixture
def draft(client: FlaskClient, make_submittable):
    """A signed-in trader's draft declaration."""
    trader, declaration = make_submittable()
    assert client.post("/api/v1/session", json={"login": trader.login, "password": PASSWORD}).status_code == 200
    return declaration


def upload(client: FlaskClient, declaration, body: bytes, content_type: str = "application/gpx+xml",
           **headers: str):
    return client.post(f"/api/v1/declarations/{declaration.id}/route", data=body, content_type=content_type,
                       headers=headers)


def test_a_planned_route_gpx_file_becomes_the_route_without_the_points_it_can_do_without(
        client: FlaskClient, draft) -> None:
    expected = points(GPX / "route.gpx", "rtept")
    response = upload(client, draft, (GPX / "route.gpx").read_bytes())
    assert response.status_code == 200, response.json
    route = [tuple(p) for p in response.json["route"]]
    assert route[0] == expected[0] and route[-1] == expected[-1] and set(route) <= set(expected)
    assert 2 < len(route) < len(expected) and response.json["route_tolerance_m"] == 25


def test_a_recorded_track_is_taken_from_its_track_points(client: FlaskClient, draft) -> None:
    expected = points(GPX / "cerknicko-jezero.gpx", "trkpt")
    response = upload(client, draft, (GPX / "cerknicko-jezero.gpx").read_bytes(), "application/xml")
    assert response.status_code == 200
    assert 2 < len(response.json["route"]) <= len(expected) and response.json["route"][0] == list(expected[0])


def test_a_file_with_a_byte_order_mark_and_only_waypoints_is_refused_as_having_no_route(
        client: FlaskClient, draft) -> None:
    response = upload(client, draft, (GPX / "unicode_with_bom.gpx").read_bytes())
    assert response.status_code == 422
    assert "no track or route" in response.json["fields"]["route"]


@pytest.mark.parametrize("hostile", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_gpx_is_refused_and_the_route_is_unchanged(client: FlaskClient, db: Session, draft,
                                                          hostile: bytes) -> None:
    before = draft.route.wkt
    response = upload(client, draft, hostile)
    assert response.status_code == 422
    assert "DTDs and entities are not allowed" in response.json["fields"]["route"]
    db.refresh(draft)
    assert draft.route.wkt == before


def test_an_oversized_file_is_refused_before_it_is_read(client: FlaskClient, draft) -> None:
    response = upload(client, draft, b"<gpx>" + b" " * MAX_GPX_BYTES + b"</gpx>")
    assert response.status_code == 413


def test_malformed_xml_is_refused_with_the_reason(client: FlaskClient, draft) -> None:
    response = upload(client, draft, b"<gpx><trk>")
    assert response.status_code == 422 and "not well-formed" in response.json["fields"]["route"]


def test_only_gpx_media_types_pass_and_only_on_the_route_endpoint(client: FlaskClient, draft) -> None:
    body = (GPX / "route.gpx").read_bytes()
    assert upload(client, draft, body, "text/plain").status_code == 415
    assert upload(client, draft, body, "multipart/form-data; boundary=x").status_code == 415
    response = client.post(f"/api/v1/declarations/{draft.id}/submit", data=body, content_type="application/gpx+xml")
    assert response.status_code == 415


def test_a_cross_site_upload_is_refused(client: FlaskClient, draft) -> None:
    body = (GPX / "route.gpx").read_bytes()
    assert upload(client, draft, body, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert upload(client, draft, body, Origin="https://evil.example").status_code == 403


def test_waypoints_as_json_set_the_route_and_corridor(client: FlaskClient, draft) -> None:
    response = client.post(f"/api/v1/declarations/{draft.id}/route", json={
        "waypoints": [[40.528, 72.799], [41.873, 72.941], [42.875, 74.590]], "corridor_m": 800})
    assert response.status_code == 200
    assert response.json["route"][1] == [41.873, 72.941] and response.json["corridor_m"] == 800


def test_an_uploaded_route_meets_the_submission_rules(client: FlaskClient, db: Session, make_submittable,
                                                      make_checkpoint) -> None:
    track = points(GPX / "around-visnjan-with-car.gpx", "trkpt")
    (lat0, lon0), (lat1, lon1) = track[0], track[-1]
    trader, declaration = make_submittable(origin=make_checkpoint(lat=lat0 + 0.005, lon=lon0),  # ~550 m
                                           destination=make_checkpoint(lat=lat1, lon=lon1))
    client.post("/api/v1/session", json={"login": trader.login, "password": PASSWORD})
    assert upload(client, declaration, (GPX / "around-visnjan-with-car.gpx").read_bytes()).status_code == 200
    response = client.post(f"/api/v1/declarations/{declaration.id}/submit")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "submitted"


def test_the_route_of_a_submitted_declaration_cannot_be_replaced(client: FlaskClient, db: Session, draft) -> None:
    draft.status = DeclarationStatus.SUBMITTED
    db.flush()
    response = upload(client, draft, (GPX / "route.gpx").read_bytes())
    assert response.status_code == 409 and "only a draft or a rejected declaration" in response.json["message"]
