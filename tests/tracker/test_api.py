"""The JSON API: writes, validation reported per field, errors as JSON, the OpenAPI document."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.declarations import MAX_DECLARATION_ITEMS
from tracker.domain.gs1 import make_sscc
from tracker.models import Container, Declaration


def sign_in(client: FlaskClient, user) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def test_trader_registers_a_flask(client: FlaskClient, make_user) -> None:
    trader = make_user("trader")
    sign_in(client, trader)
    sscc = make_sscc(0, "470000002", 901)
    response = client.post("/api/v1/containers", json={
        "sscc": sscc, "container_type": "flask_34_5kg", "tare_g": 2700, "capacity_g": 34500,
        "net_g": 34500, "seal_number": "KG-S-0001"})
    assert response.status_code == 201
    assert response.json["owner"]["id"] == trader.dealer_id and response.json["custodian"]["id"] == trader.dealer_id
    assert client.get(f"/api/v1/containers/{sscc}").json["net_g"] == 34500


def test_registering_bad_container_reports_every_field_and_stores_nothing(
        client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("trader"))
    before = db.scalar(select(func.count()).select_from(Container))
    response = client.post("/api/v1/containers", json={
        "sscc": "106141411234567890", "container_type": "barrel", "tare_g": 0,
        "capacity_g": 34500, "net_g": 40000})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"sscc", "container_type", "tare_g", "net_g"}
    assert "check digit should be 7" in response.json["fields"]["sscc"]
    assert db.scalar(select(func.count()).select_from(Container)) == before


def test_registering_an_sscc_twice_is_a_conflict(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    body = {"sscc": make_sscc(0, "470000002", 902), "container_type": "flask_34_5kg",
            "tare_g": 2700, "capacity_g": 34500, "net_g": 34500}
    assert client.post("/api/v1/containers", json=body).status_code == 201
    response = client.post("/api/v1/containers", json=body)
    assert response.status_code == 409 and "already registered" in response.json["message"]


def test_trader_files_a_draft_declaration(client: FlaskClient, make_user, make_dealer, make_container,
                                          make_checkpoint) -> None:
    trader = make_user("trader")
    flask_ = make_container(owner=trader.dealer)
    make_checkpoint(code="OSH-T")
    make_checkpoint(code="BSK-T", lat=42.875, lon=74.59)
    consignee = make_dealer()
    sign_in(client, trader)
    response = client.post("/api/v1/declarations", json={
        "kind": "domestic", "consignee_id": consignee.id, "origin": "OSH-T", "destination": "BSK-T",
        "items": [{"sscc": flask_.sscc, "declared_net_g": 34500}],
        "waypoints": [[40.528, 72.799], [41.873, 72.941], [42.875, 74.590]],
        "planned_departure": "2026-12-01T08:00:00+06:00", "planned_arrival": "2026-12-02T18:00:00+06:00"})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "draft" and body["reference"] is None
    assert body["declared_net_g"] == 34500 and body["corridor_m"] == 500
    assert body["route"][0] == [40.528, 72.799]
    assert body["planned_departure"] == "2026-12-01T02:00:00Z"


def test_draft_with_many_mistakes_reports_them_all_and_stores_nothing(
        client: FlaskClient, db: Session, make_user, make_container) -> None:
    trader = make_user("trader")
    other_dealers_flask = make_container()
    sign_in(client, trader)
    before = db.scalar(select(func.count()).select_from(Declaration))
    response = client.post("/api/v1/declarations", json={
        "kind": "smuggling", "consignee_id": 999999, "origin": "NOWHERE", "destination": "NOWHERE2",
        "items": [{"sscc": other_dealers_flask.sscc, "declared_net_g": 34500}],
        "waypoints": [[91, 72]], "corridor_m": 0})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"kind", "consignee_id", "origin", "destination",
                                            "items[0].sscc", "waypoints", "corridor_m"}
    assert db.scalar(select(func.count()).select_from(Declaration)) == before



def test_a_declaration_of_more_containers_than_a_truck_carries_is_refused_without_a_lookup_each(
        client: FlaskClient, db: Session, make_user, make_container, make_checkpoint) -> None:
    trader = make_user("trader")
    flask_ = make_container(owner=trader.dealer)
    make_checkpoint(code="OSH-T")
    make_checkpoint(code="BSK-T", lat=42.875, lon=74.59)
    sign_in(client, trader)
    before = db.scalar(select(func.count()).select_from(Declaration))
    items = [{"sscc": flask_.sscc, "declared_net_g": 34500}] * (MAX_DECLARATION_ITEMS + 1)
    response = client.post("/api/v1/declarations", json={
        "kind": "domestic", "consignee_id": trader.dealer.id, "origin": "OSH-T", "destination": "BSK-T",
        "items": items})
    assert response.status_code in (400, 422)
    assert str(MAX_DECLARATION_ITEMS) in str(response.json)
    assert db.scalar(select(func.count()).select_from(Declaration)) == before

def test_non_json_write_is_refused(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/containers", data="sscc=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json["error"] == "unsupported_media_type"


def test_unknown_route_and_bad_query_are_json_errors(client: FlaskClient, make_user) -> None:
    assert client.get("/api/v1/no-such-thing").json["error"] == "not_found"
    sign_in(client, make_user("auditor"))
    response = client.get("/api/v1/declarations?status=lost")
    assert response.status_code == 422 and "status" in response.json["fields"]


def test_unexpected_error_is_500_json_without_a_stack_trace(app: Flask, client: FlaskClient) -> None:
    @app.get("/api/v1/_boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    response = client.get("/api/v1/_boom")
    assert response.status_code == 500
    assert response.json == {"error": "internal_error",
                             "message": "an unexpected error occurred; it has been logged"}
    assert "secret internals" not in response.get_data(as_text=True)


def test_pagination(client: FlaskClient, make_user, make_container) -> None:
    trader = make_user("trader")
    for _ in range(5):
        make_container(owner=trader.dealer)
    sign_in(client, trader)
    page = client.get("/api/v1/containers?per_page=2&page=3").json
    assert page["total"] == 5 and page["page"] == 3 and len(page["items"]) == 1


def test_openapi_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    validate(client.get("/api/v1/openapi.json").json)


def test_openapi_documents_every_api_route(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_malformed_draft_shapes_are_reported_per_field(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/declarations", json={
        "kind": "domestic", "consignee_id": True, "origin": "A", "destination": "B",
        "items": "flask", "waypoints": [[40.5]], "expected_checkpoints": "OSH", "corridor_m": 500.5,
        "planned_departure": "tomorrow"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"consignee_id", "items", "waypoints", "expected_checkpoints",
                                            "corridor_m", "planned_departure"}


def test_body_that_is_not_a_json_object_is_refused(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    for body in ("[1, 2]", "not json", "null"):
        response = client.post("/api/v1/declarations", data=body, content_type="application/json")
        assert response.status_code == 422 and response.json["fields"] == {"body": "a JSON object is required"}


def test_an_answer_outside_the_openapi_document_fails_the_test_that_receives_it() -> None:
    from tests.openapi_contract import ContractViolation, check_response

    check_response("GET", "/api/v1/declarations/7", 404, "application/json", {"error": "not_found", "message": "x"})
    with pytest.raises(ContractViolation, match="does not document"):
        check_response("GET", "/api/v1/declarations/7", 418, "application/json", {})
    with pytest.raises(ContractViolation, match="breaks its schema"):
        check_response("GET", "/api/v1/declarations/7", 404, "application/json", {"error": 404})
    with pytest.raises(ContractViolation, match="documented: application/json"):
        check_response("GET", "/api/v1/declarations/7", 200, "application/octet-stream", None)
