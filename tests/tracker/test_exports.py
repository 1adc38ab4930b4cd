"""Audit exports: GeoJSON, GPX, KML and CSV read back, who may download what, and streaming."""
from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import gpxpy
import pytest
from flask.testing import FlaskClient
from shapely.geometry import LineString, Point, shape
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD, post_at
from tracker.domain.alerts import open_alert
from tracker.domain.chain import append_to_chain
from tracker.domain.custody import record_custody_event
from tracker.domain.exports import CHUNK_CHARS, Period
from tracker.domain.exports.audit_tables import IN_TRANSIT_COLUMNS, flow_columns
from tracker.domain.exports.csv_tables import CUSTODY_COLUMNS, DECLARATION_COLUMNS, TRANSACTION_COLUMNS, \
    positions_csv
from tracker.models import (
    Alert,
    AlertSeverity,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationStatus,
    Position,
    Role,
    Transaction,
    TransactionKind,
    User,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

API = "/api/v1/exports"
KML = "{http://www.opengis.net/kml/2.2}"
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
NASTY_REMARKS = '=HYPERLINK("http://evil.example","click"), "quoted"\nsecond line'


def sign_in(client: FlaskClient, user: User) -> None:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def add_track(db: Session, declaration: Declaration, fixes: int, start: datetime = T0) -> list[tuple[float, float]]:
    """Store ``fixes`` fixes evenly along the declaration's route, one every 30 s; return them (lon, lat)."""
    route: LineString = declaration.route  # type: ignore[assignment]
    points = [route.interpolate(i / max(fixes - 1, 1), normalized=True) for i in range(fixes)]
    db.execute(insert(Position), [
        {"beacon_id": declaration.beacon_id, "declaration_id": declaration.id,
         "fix_time": start + timedelta(seconds=30 * i), "lat": p.y, "lon": p.x, "altitude_m": 1500.0 + i,
         "speed_kmh": 48.0, "satellites": 9, "hdop": 0.9, "flags": [], "protocol": "json", "raw": b"{}"}
        for i, p in enumerate(points)])
    return [(p.x, p.y) for p in points]


def custody(db: Session, officer: User, declaration: Declaration, kind: str, minutes: int,
            **extra: Any) -> CustodyEvent:
    """Record a custody event on the declaration's first flask at its origin (an arrival at its destination),
    ``minutes`` after T0 (UTC+6)."""
    post = declaration.destination if kind == "arrival" else declaration.origin
    body = {"client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
            "checkpoint": post.code, "kind": kind, "seal_intact": True,
            "event_time": (T0 + timedelta(minutes=minutes)).astimezone(timezone(timedelta(hours=6))).isoformat(),
            **extra}
    return record_custody_event(db, post_at(officer, post), body, now=T0 + timedelta(days=1)).event


@dataclass
class Journey:
    """A declaration on the road with its track, an alert, custody events and a sale; who is who."""

    declaration: Declaration
    fixes: list[tuple[float, float]]
    alert: Alert
    events: list[CustodyEvent]
    sale: Transaction
    trader: User
    officer: User


def make_journey(db: Session, make_tracked_declaration: Callable[..., Declaration],
                 make_user: Callable[..., User], fixes: int = 40) -> Journey:
    """Build a journey (see :class:`Journey`); the trader is the declarant's."""
    declaration = make_tracked_declaration(status="approved", planned_departure=T0 - timedelta(hours=1),
                                           planned_arrival=T0 + timedelta(days=1))
    trader = make_user(Role.TRADER, dealer=declaration.declarant)
    officer = make_user(Role.CUSTOMS_OFFICER)
    track = add_track(db, declaration, fixes)
    lon, lat = track[fixes // 2]
    alert = open_alert(db, kind="off_route", severity=AlertSeverity.WARNING, declaration=declaration,
                       lat=lat, lon=lon, at=T0 + timedelta(minutes=10), details={"distance_m": 812})
    events = [custody(db, officer, declaration, "departure", 0),
              custody(db, officer, declaration, "inspection", 5, remarks=NASTY_REMARKS, measured_net_g=34_480),
              custody(db, officer, declaration, "handover", 9, from_party_id=declaration.declarant_id,
                      to_party_id=declaration.consignee_id)]
    sale = Transaction(kind=TransactionKind.SALE, seller_id=declaration.declarant_id,
                       buyer_id=declaration.consignee_id, mass_g=34_500, place="@Osh, - market",
                       transaction_date=T0.date(), declaration_id=declaration.id)
    append_to_chain(db, sale)
    db.flush()
    return Journey(declaration, track, alert, events, sale, trader, officer)


@pytest.fixture
def journey(db: Session, make_tracked_declaration: Callable[..., Declaration],
            make_user: Callable[..., User]) -> Journey:
    return make_journey(db, make_tracked_declaration, make_user)


@pytest.fixture
def auditor_client(client: FlaskClient, make_user: Callable[..., User]) -> FlaskClient:
    sign_in(client, make_user(Role.AUDITOR))
    return client


def flat(points: list[tuple[float, ...]]) -> list[float]:
    return [value for point in points for value in point]


def read_csv(response: Any) -> list[dict[str, str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


# ---------------------------------------------------------------- GeoJSON, GPX, KML
def test_geojson_of_a_declaration_has_route_corridor_places_track_and_alert(
        auditor_client: FlaskClient, journey: Journey) -> None:
    declaration = journey.declaration
    response = auditor_client.get(f"{API}/declarations/{declaration.id}.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="declaration-{declaration.reference}.geojson"'
    document = json.loads(response.get_data(as_text=True))
    assert document["type"] == "FeatureCollection"
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for feature in document["features"]:
        by_layer.setdefault(feature["properties"]["layer"], []).append(feature)
    assert sorted(by_layer) == ["alert", "checkpoint", "corridor", "route", "track"]
    track = shape(by_layer["track"][0]["geometry"])
    assert len(track.coords) == len(journey.fixes) == by_layer["track"][0]["properties"]["fixes"]
    # RFC 7946: longitude first (the Kyrgyz road runs at about 73° E, 41° N)
    assert track.coords[0] == pytest.approx(journey.fixes[0], abs=1e-6) and 70 < track.coords[0][0] < 76
    corridor = shape(by_layer["corridor"][0]["geometry"])
    assert corridor.exterior.is_ccw, "RFC 7946: outer rings are counter-clockwise"
    assert all(corridor.contains(Point(p)) for p in journey.fixes)
    assert [f["properties"]["role"] for f in by_layer["checkpoint"]][:1] == ["origin"]
    alert = by_layer["alert"][0]
    assert alert["properties"]["kind"] == "off_route" and alert["properties"]["opened_at"] == "2026-03-02T04:10:00Z"


def test_gpx_of_a_declaration_reads_back_with_gpxpy(auditor_client: FlaskClient, journey: Journey) -> None:
    response = auditor_client.get(f"{API}/declarations/{journey.declaration.id}.gpx")
    assert response.status_code == 200 and response.mimetype == "application/gpx+xml"
    gpx = gpxpy.parse(response.get_data(as_text=True))
    points = gpx.tracks[0].segments[0].points
    assert len(points) == len(journey.fixes)
    assert (points[0].longitude, points[0].latitude) == pytest.approx(journey.fixes[0], abs=1e-6)
    assert points[1].time == T0 + timedelta(seconds=30)
    assert points[0].elevation == 1500.0 and points[0].satellites == 9
    assert gpx.waypoints[0].name == journey.declaration.origin.code
    assert gpx.waypoints[-1].name == journey.declaration.destination.code
    assert len(gpx.routes[0].points) == len(journey.declaration.route.coords)  # type: ignore[union-attr]


def test_kml_of_a_declaration_parses_with_corridor_route_track_and_alert(
        auditor_client: FlaskClient, journey: Journey) -> None:
    response = auditor_client.get(f"{API}/declarations/{journey.declaration.id}.kml")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.google-earth.kml+xml"
    root = ET.fromstring(response.get_data())
    placemarks = {p.findtext(f"{KML}name"): p for p in root.iter(f"{KML}Placemark")}
    assert {"Planned route", "Beacon track", f"off_route #{journey.alert.id}"} <= set(placemarks)
    track = placemarks["Beacon track"].findtext(f".//{KML}LineString/{KML}coordinates") or ""
    coordinates = [tuple(map(float, c.split(","))) for c in track.split()]
    assert flat(coordinates) == pytest.approx(flat(journey.fixes), abs=1e-6)
    assert placemarks["Beacon track"].findtext(f"{KML}TimeSpan/{KML}begin") == "2026-03-02T04:00:00Z"
    corridor = next(p for name, p in placemarks.items() if name and name.startswith("Corridor"))
    assert corridor.find(f".//{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing") is not None


def test_map_of_a_draft_without_track_still_exports(auditor_client: FlaskClient, make_declaration) -> None:
    draft = make_declaration()
    document = json.loads(auditor_client.get(f"{API}/declarations/{draft.id}.geojson").get_data(as_text=True))
    assert "track" not in {f["properties"]["layer"] for f in document["features"]}
    gpx = gpxpy.parse(auditor_client.get(f"{API}/declarations/{draft.id}.gpx").get_data(as_text=True))
    assert gpx.tracks[0].get_points_no() == 0


def test_alerts_geojson_of_a_period(auditor_client: FlaskClient, journey: Journey) -> None:
    inside = json.loads(auditor_client.get(f"{API}/alerts.geojson?from=2026-03-02&to=2026-03-02").get_data())
    assert [f["properties"]["alert_id"] for f in inside["features"]] == [journey.alert.id]
    before = json.loads(auditor_client.get(f"{API}/alerts.geojson?to=2026-03-01").get_data())
    assert before["features"] == []


# ---------------------------------------------------------------- CSV
def test_custody_events_csv_has_a_stable_header_utc_times_grams_and_rfc4180_quoting(
        auditor_client: FlaskClient, journey: Journey) -> None:
    response = auditor_client.get(f"{API}/custody-events.csv?from=2026-03-02&to=2026-03-02")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="custody-events_2026-03-02_2026-03-02.csv"'
    text = response.get_data(as_text=True)
    assert text.splitlines()[0].removeprefix("\ufeff") == ",".join(CUSTODY_COLUMNS)
    assert "\r\n" in text
    rows = read_csv(response)
    assert [r["kind"] for r in rows] == ["departure", "inspection", "handover"]
    inspection = rows[1]
    assert inspection["event_time"] == "2026-03-02T04:05:00Z" and inspection["event_time_zone"] == "UTC+06:00"
    assert inspection["measured_net_g"] == "34480" and inspection["seal_intact"] == "true"
    assert inspection["remarks"] == "'" + NASTY_REMARKS, "a formula cell is defused, commas/quotes/newline kept"
    assert inspection["sscc"] == journey.declaration.items[0].container.sscc
    assert inspection["officer"] == journey.officer.login and inspection["row_hash"] == journey.events[1].row_hash


def test_every_table_exports_with_its_header(auditor_client: FlaskClient, journey: Journey) -> None:
    declarations = read_csv(auditor_client.get(f"{API}/declarations.csv"))
    row = next(r for r in declarations if r["id"] == str(journey.declaration.id))
    assert list(row) == list(DECLARATION_COLUMNS)
    assert row["declared_net_g"] == "34500" and row["containers"] == "1" and row["status"] == "in_transit"
    transactions = read_csv(auditor_client.get(f"{API}/transactions.csv?from=2026-03-02&to=2026-03-02"))
    assert list(transactions[0]) == list(TRANSACTION_COLUMNS)
    assert [(t["mass_g"], t["place"]) for t in transactions] == [("34500", "'@Osh, - market")]
    alerts = read_csv(auditor_client.get(f"{API}/alerts.csv?from=2026-03-02"))
    assert alerts[0]["kind"] == "off_route" and json.loads(alerts[0]["details"]) == {"distance_m": 812}
    positions = read_csv(auditor_client.get(f"{API}/declarations/{journey.declaration.id}/positions.csv"))
    assert len(positions) == len(journey.fixes) and positions[0]["fix_time"] == "2026-03-02T04:00:00Z"
    balance = read_csv(auditor_client.get(f"{API}/balance.csv?from=2026-01-01&to=2026-12-31"))
    assert balance[-1]["dealer"] == "national total" and balance[-1]["dealer_id"] == ""
    reconciliation = auditor_client.get(f"{API}/reconciliation.csv?from=2026-03-01&to=2026-03-31")
    assert reconciliation.get_data(as_text=True).splitlines()[0].startswith("\ufeffkind,source,on,message")


def test_audit_reports_export_as_tables(auditor_client: FlaskClient, journey: Journey) -> None:
    in_transit = read_csv(auditor_client.get(f"{API}/in-transit.csv"))
    row = next(r for r in in_transit if r["declaration_id"] == str(journey.declaration.id))
    assert list(row) == list(IN_TRANSIT_COLUMNS)
    assert row["last_fix"] == "2026-03-02T04:19:30Z" and "off_route" in row["open_alert_kinds"].split(";")
    assert int(row["age_s"]) > 0 and row["worst_severity"] in ("warning", "critical")
    declaration = journey.declaration
    for group in ("route", "crossing", "dealer", "month"):
        response = auditor_client.get(f"{API}/flows.csv?group={group}")
        assert response.headers["Content-Disposition"] == f'attachment; filename="flows-{group}.csv"'
        assert response.get_data(as_text=True).splitlines()[0] == "\ufeff" + ",".join(flow_columns(group))
    routes = read_csv(auditor_client.get(f"{API}/flows.csv?group=route&kind=domestic"))
    mine = [r for r in routes if (r["origin"], r["destination"]) == (declaration.origin.code,
                                                                     declaration.destination.code)]
    assert [(r["declarations"], r["declared_g"]) for r in mine] == [("1", "34500")]
    assert auditor_client.get(f"{API}/flows.csv?group=planet").status_code == 422
    assert auditor_client.get(f"{API}/flows.csv?kind=smuggling").status_code == 422


def test_bad_period_or_table_is_refused(auditor_client: FlaskClient) -> None:
    bad = auditor_client.get(f"{API}/custody-events.csv?from=2026-13-01&to=2026-01-01")
    assert bad.status_code == 422 and "from" in bad.json["fields"]
    assert auditor_client.get(f"{API}/custody-events.csv?from=2026-02-01&to=2026-01-01").status_code == 422
    assert auditor_client.get(f"{API}/passwords.csv").status_code == 404
    assert auditor_client.get(f"{API}/declarations.csv?dealer_id=x").status_code == 422


# ---------------------------------------------------------------- access
def test_exports_need_a_signed_in_user(client: FlaskClient, journey: Journey) -> None:
    assert client.get(f"{API}/declarations/{journey.declaration.id}.gpx").status_code == 401
    assert client.get(f"{API}/custody-events.csv").status_code == 401


def test_trader_cannot_export_another_dealers_records(
        client: FlaskClient, db: Session, journey: Journey, make_user: Callable[..., User],
        make_tracked_declaration: Callable[..., Declaration]) -> None:
    other = make_journey(db, make_tracked_declaration, make_user, fixes=5)
    sign_in(client, journey.trader)
    mine, theirs = journey.declaration.id, other.declaration.id
    for suffix in (".geojson", ".gpx", ".kml", "/positions.csv"):
        response = client.get(f"{API}/declarations/{mine}{suffix}")
        assert response.status_code == 200 and response.get_data()
        assert client.get(f"{API}/declarations/{theirs}{suffix}").status_code == 404, suffix
    for table in ("declarations", "custody-events", "alerts", "transactions", "balance", "flows"):
        assert client.get(f"{API}/{table}.csv?dealer_id={other.declaration.declarant_id}").status_code == 404
    events = read_csv(client.get(f"{API}/custody-events.csv"))
    assert {r["declaration_id"] for r in events} == {str(mine)}
    declarations = read_csv(client.get(f"{API}/declarations.csv"))
    assert {r["id"] for r in declarations} == {str(mine)}
    transactions = read_csv(client.get(f"{API}/transactions.csv"))
    assert {r["id"] for r in transactions} == {str(journey.sale.id)}
    alerts = json.loads(client.get(f"{API}/alerts.geojson").get_data())
    assert {f["properties"]["declaration_id"] for f in alerts["features"]} == {mine}
    balance = read_csv(client.get(f"{API}/balance.csv"))
    assert [r["dealer_id"] for r in balance] == [str(journey.trader.dealer_id)]
    assert client.get(f"{API}/reconciliation.csv").status_code == 403
    in_transit = read_csv(client.get(f"{API}/in-transit.csv"))
    assert {r["declaration_id"] for r in in_transit} == {str(mine)}


def test_auditor_narrows_tables_to_one_dealer(auditor_client: FlaskClient, db: Session, journey: Journey,
                                              make_user, make_tracked_declaration) -> None:
    other = make_journey(db, make_tracked_declaration, make_user, fixes=5)
    rows = read_csv(auditor_client.get(f"{API}/declarations.csv?dealer_id={other.declaration.declarant_id}"))
    assert {r["id"] for r in rows} == {str(other.declaration.id)}
    assert auditor_client.get(f"{API}/declarations.csv?dealer_id=999999").status_code == 404


def _counts(db: Session) -> list[int]:
    return [db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Declaration, CustodyEvent, Alert, Position, Transaction, Dealer)]


def test_auditor_cannot_change_anything_through_exports(auditor_client: FlaskClient, db: Session,
                                                        journey: Journey) -> None:
    before = _counts(db)
    status = journey.declaration.status
    urls = [f"{API}/declarations/{journey.declaration.id}.geojson", f"{API}/declarations/{journey.declaration.id}.kml",
            f"{API}/custody-events.csv", f"{API}/custody-events.epcis.jsonld", f"{API}/balance.csv"]
    for url in urls:
        response = auditor_client.get(url)
        assert response.status_code == 200 and response.get_data()
        for method in ("post", "put", "patch", "delete"):
            assert getattr(auditor_client, method)(url, json={}).status_code == 405, (method, url)
    db.expire_all()
    assert _counts(db) == before and journey.declaration.status == status


# ---------------------------------------------------------------- streaming
def test_exports_are_streamed_responses(auditor_client: FlaskClient, journey: Journey) -> None:
    for url in (f"{API}/declarations/{journey.declaration.id}.gpx", f"{API}/custody-events.csv",
                f"{API}/custody-events.epcis.jsonld"):
        response = auditor_client.get(url)
        assert response.is_streamed, url
        assert response.headers.get("Content-Length") is None
        assert response.get_data()  # read it through: the stream's session closes at the end


def _peak_while_writing(db: Session, declaration: Declaration, period: Period) -> tuple[int, int]:
    """Return (characters written, peak bytes allocated) while exporting the declaration's positions."""
    tracemalloc.start()
    try:
        written = sum(len(chunk) for chunk in positions_csv(db, declaration, period))
        return written, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_track_leaves_in_chunks_with_bounded_memory(db: Session, make_tracked_declaration) -> None:
    declaration = make_tracked_declaration()
    add_track(db, declaration, 20_000)            # a week of fixes every 30 s: 2 March 04:00 to 9 March 02:39:30
    db.expire_all()
    chunks = positions_csv(db, declaration, Period())
    first = next(chunks)
    assert first.startswith("\ufeffid,beacon,fix_time") and "2026-03-02T04:00:00Z" in first
    assert "2026-03-09T02:39:30Z" not in first, "the first chunk leaves before the last fix is written"
    assert len(first) < 2 * CHUNK_CHARS
    chunks.close()
    two_days = Period(end=date(2026, 3, 3))
    _peak_while_writing(db, declaration, two_days)   # warm the statement cache
    small_written, small_peak = _peak_while_writing(db, declaration, two_days)
    written, peak = _peak_while_writing(db, declaration, Period())
    assert written > 3.5 * small_written
    assert peak < 1.5 * small_peak, f"memory grows with the export: {small_peak} then {peak} bytes"
