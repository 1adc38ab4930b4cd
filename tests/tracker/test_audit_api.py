"""Audit API: the reports over HTTP, their links to the records, who may read them, and that they only read."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from shapely.geometry import LineString
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.alerts import open_alert
from tracker.models import (
    Alert,
    AlertEvent,
    Declaration,
    DeclarationStatus,
    Position,
    Role,
)

def sign_in(client: FlaskClient, user: Any) -> None:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


@pytest.fixture
def trip(db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any]) -> Declaration:
    """A domestic declaration in transit since yesterday, two fixes on its route (20 and 10 minutes ago), one
    open alert."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    d = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon(), corridor_m=500,
                         route=LineString([(74.0, 42.0), (74.0, 42.1)]), departed_at=now - timedelta(days=1))
    db.execute(insert(Position), [
        {"beacon_id": d.beacon_id, "declaration_id": d.id, "fix_time": now - timedelta(minutes=m), "lat": lat,
         "lon": 74.0, "flags": [], "protocol": "json", "raw": b"{}"} for m, lat in ((20, 42.0), (10, 42.01))])
    open_alert(db, kind="off_route", severity="warning", declaration=d, at=now - timedelta(hours=2),
               details={"start": "2026-11-20T04:00:00Z", "end": "2026-11-20T04:05:00Z", "duration_s": 300.0,
                        "max_distance_m": 700.0})
    db.flush()
    return d


def test_the_auditor_sees_what_moves_now_with_links_to_the_records(
        client: FlaskClient, make_user: Callable[..., Any], trip: Declaration) -> None:
    sign_in(client, make_user(Role.AUDITOR))
    body = client.get("/api/v1/audit/now?per_page=200").json
    [row] = [r for r in body["in_transit"]["items"] if r["declaration_id"] == trip.id]
    assert row["last_position"]["lat"] == 42.01 and 600 <= row["last_position"]["age_s"] < 900
    [alert] = row["open_alerts"]
    assert alert["kind"] == "off_route" and alert["severity"] == "warning"
    assert client.get(row["url"]).json["id"] == trip.id
    assert client.get(alert["url"]).json["id"] == alert["id"]
    warning = next(s for s in body["open_alerts"] if s["severity"] == "warning")
    assert warning["count"] >= 1 and warning["by_age"]["1h_to_24h"] >= 1
    listed = client.get(warning["url"]).json
    assert alert["id"] in [a["id"] for a in listed["items"]] and {a["severity"] for a in listed["items"]} == {"warning"}


def test_compliance_report_over_http(client: FlaskClient, make_user: Callable[..., Any], trip: Declaration) -> None:
    sign_in(client, make_user(Role.AUDITOR))
    body = client.get(f"/api/v1/audit/declarations/{trip.id}/compliance").json
    assert body["coverage"]["positions"] == 2 and body["coverage"]["time_share"] == 1.0
    assert body["coverage"]["time_s"] == 600.0
    [excursion] = body["excursions"]
    assert (excursion["duration_s"], excursion["max_distance_m"]) == (300.0, 700.0)
    assert client.get(excursion["url"]).json["kind"] == "off_route"
    assert [c["status"] for c in body["checkpoints"]] == ["missing", "missing"]
    assert body["receipt"]["declared_g"] == 34_500 and body["receipt"]["received_g"] is None
    assert client.get(body["receipt"]["containers"][0]["url"]).status_code == 200


def test_flows_over_http_link_each_row_to_its_declarations(
        client: FlaskClient, make_user: Callable[..., Any], trip: Declaration) -> None:
    sign_in(client, make_user(Role.LICENSING_ADMIN))
    day = trip.departed_at.date().isoformat()
    body = client.get(f"/api/v1/audit/flows?group=route&from={day}&to={day}&kind=domestic&per_page=200").json
    [row] = [r for r in body["items"] if r["key"] == f"{trip.origin_id}-{trip.destination_id}"]
    assert (row["declarations"], row["declared_g"], row["origin"]["code"]) == (1, 34_500, trip.origin.code)
    listed = client.get(row["declarations_url"]).json
    assert [d["id"] for d in listed["items"]] == [trip.id]
    assert client.get(listed["items"][0]["compliance_url"]).status_code == 200
    for group in ("crossing", "dealer", "month"):
        assert client.get(f"/api/v1/audit/flows?group={group}").status_code == 200


def test_bad_flow_arguments_are_reported_per_field(client: FlaskClient, make_user: Callable[..., Any]) -> None:
    sign_in(client, make_user(Role.AUDITOR))
    response = client.get("/api/v1/audit/flows?group=river&from=yesterday&kind=smuggling")
    assert response.status_code == 422 and set(response.json["fields"]) == {"group"}
    response = client.get("/api/v1/audit/flows?from=yesterday&to=2026-01-01&kind=smuggling&dealer_id=x")
    assert response.status_code == 422 and set(response.json["fields"]) == {"from", "kind", "dealer_id"}
    assert client.get("/api/v1/audit/flows/declarations?group=route&key=osh").status_code == 422


def test_traders_cannot_reach_the_reports_of_other_dealers(
        client: FlaskClient, make_user: Callable[..., Any], trip: Declaration) -> None:
    stranger = make_user(Role.TRADER)
    sign_in(client, stranger)
    assert client.get(f"/api/v1/audit/declarations/{trip.id}/compliance").status_code == 404
    assert client.get(f"/api/v1/audit/flows?dealer_id={trip.declarant_id}").status_code == 403
    assert client.get(f"/api/v1/audit/flows/declarations?group=route&key={trip.origin_id}-{trip.destination_id}"
                      f"&dealer_id={trip.declarant_id}").status_code == 403
    assert client.get("/api/v1/audit/flows?group=route").json["totals"]["declarations"] == 0
    now = client.get("/api/v1/audit/now").json
    assert now["in_transit"]["total"] == 0 and sum(s["count"] for s in now["open_alerts"]) == 0
    assert client.get("/api/v1/audit/now/alerts").json["total"] == 0
    own = make_user(Role.TRADER, dealer=trip.declarant, login="own.trader")
    client.delete("/api/v1/session")
    sign_in(client, own)
    assert client.get(f"/api/v1/audit/declarations/{trip.id}/compliance").status_code == 200
    assert [r["declaration_id"] for r in client.get("/api/v1/audit/now").json["in_transit"]["items"]] == [trip.id]


def test_customs_officers_read_the_reports_of_submitted_declarations(
        client: FlaskClient, make_user: Callable[..., Any], make_declaration: Callable[..., Declaration],
        trip: Declaration) -> None:
    draft = make_declaration()
    sign_in(client, make_user(Role.CUSTOMS_OFFICER))
    assert client.get(f"/api/v1/audit/declarations/{trip.id}/compliance").status_code == 200
    assert client.get(f"/api/v1/audit/declarations/{draft.id}/compliance").status_code == 404


def test_the_reports_need_a_signed_in_user(client: FlaskClient) -> None:
    for url in ("/api/v1/audit/now", "/api/v1/audit/flows", "/api/v1/audit/declarations/1/compliance"):
        assert client.get(url).status_code == 401


def test_the_auditor_cannot_change_anything_from_the_reports(
        client: FlaskClient, db: Session, make_user: Callable[..., Any], trip: Declaration) -> None:
    sign_in(client, make_user(Role.AUDITOR))
    urls = ["/api/v1/audit/now", "/api/v1/audit/now/alerts", f"/api/v1/audit/declarations/{trip.id}/compliance",
            "/api/v1/audit/flows", "/api/v1/audit/flows/declarations?group=month&key=2026-11"]
    counted = (Declaration, Alert, AlertEvent, Position)

    def counts() -> list[int]:
        return [db.scalar(select(func.count()).select_from(model)) for model in counted]

    before, status = counts(), db.get(Declaration, trip.id).status
    for url in urls:
        assert client.get(url).status_code == 200
        for method in (client.post, client.put, client.patch, client.delete):
            assert method(url, json={}).status_code == 405
    db.expire_all()
    assert counts() == before and db.get(Declaration, trip.id).status == status
