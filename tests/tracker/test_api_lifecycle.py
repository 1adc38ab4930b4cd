"""The HTTP side of licensing, the declaration life-cycle, receipts and alert handling, by role."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.alerts import open_alert
from tracker.domain.references import validate_reference
from tracker.models import DeclarationStatus, utcnow

pytestmark = pytest.mark.usefixtures("fast_passwords")


def sign_in(client: FlaskClient, user) -> None:
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def post(client: FlaskClient, path: str, body: dict | None = None):
    return client.post(f"/api/v1{path}", json=body if body is not None else {})


# ---------------------------------------------------------------- licences and approvals
def test_admin_issues_and_suspends_a_licence_over_http(client: FlaskClient, make_user, make_dealer) -> None:
    dealer = make_dealer(licensed=False)
    sign_in(client, make_user("licensing_admin"))
    response = post(client, "/licences", {"dealer_id": dealer.id, "number": "KG-HG-API-1",
                                          "valid_from": "2026-01-01", "valid_to": "2027-12-31",
                                          "annual_quota_g": 900_000, "activities": ["export", "storage"]})
    assert response.status_code == 201, response.json
    licence_id = response.json["id"]
    response = post(client, f"/licences/{licence_id}/suspend", {"reason": "store inspection failed"})
    assert response.status_code == 200 and response.json["status"] == "suspended"
    assert [h["action"] for h in response.json["history"]] == ["issued", "suspended"]
    assert post(client, f"/licences/{licence_id}/suspend", {"reason": "again"}).status_code == 409
    assert post(client, f"/licences/{licence_id}/reinstate", {"reason": "re-inspected"}).json["status"] == "active"
    assert post(client, f"/licences/{licence_id}/revoke", {"reason": "fraud"}).json["status"] == "revoked"


def test_bad_licence_fields_are_all_reported(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("licensing_admin"))
    response = post(client, "/licences", {"dealer_id": "one", "valid_from": "soon", "activities": "export"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"dealer_id", "number", "valid_from", "valid_to", "annual_quota_g",
                                            "activities"}


def test_a_trader_reads_only_its_own_licences_and_cannot_issue(client: FlaskClient, make_user, make_dealer) -> None:
    trader = make_user("trader")
    other = make_dealer()
    sign_in(client, trader)
    listed = client.get("/api/v1/licences").json["items"]
    assert [lic["dealer"]["id"] for lic in listed] == [trader.dealer_id]
    assert client.get(f"/api/v1/licences/{other.licenses[0].id}").status_code == 404
    assert post(client, "/licences", {"dealer_id": trader.dealer_id}).status_code == 403
    assert post(client, f"/licences/{listed[0]['id']}/suspend", {"reason": "x"}).status_code == 403


def test_import_approval_is_recorded_and_listed_with_what_remains(client: FlaskClient, make_user,
                                                                  make_dealer) -> None:
    importer = make_dealer()
    sign_in(client, make_user("licensing_admin"))
    body = {"number": "KG-HG-IMP-9", "importer_id": importer.id, "exporter_name": "Guizhou Recycling Co.",
            "exporter_country": "CN", "quantity_g": 200_000, "intended_use": "dental amalgam",
            "source_not_primary_mining": True, "source_statement": "recovered from lamps",
            "valid_until": "2027-06-30"}
    response = post(client, "/import-approvals", body)
    assert response.status_code == 201, response.json
    assert response.json["remaining_g"] == 200_000
    refused = post(client, "/import-approvals", {**body, "number": "KG-HG-IMP-10",
                                                 "source_not_primary_mining": False})
    assert refused.status_code == 422 and set(refused.json["fields"]) == {"source_not_primary_mining"}
    assert [a["number"] for a in client.get("/api/v1/import-approvals").json["items"]] == ["KG-HG-IMP-9"]


def test_export_consent_is_recorded_and_a_trader_sees_only_its_own(client: FlaskClient, make_user) -> None:
    trader, other = make_user("trader"), make_user("trader")
    sign_in(client, make_user("licensing_admin"))
    for dealer in (trader.dealer, other.dealer):
        response = post(client, "/export-consents", {
            "number": f"EXP-{dealer.id}", "exporter_id": dealer.id, "importer_name": "Almaty Chemicals LLP",
            "importer_country": "KZ", "quantity_g": 69_000, "intended_use": "laboratory reagents",
            "valid_until": "2027-06-30"})
        assert response.status_code == 201, response.json
    assert response.json["remaining_g"] == 69_000
    assert post(client, "/export-consents", {"number": "EXP-X"}).status_code == 422
    sign_in(client, trader)
    assert [c["number"] for c in client.get("/api/v1/export-consents").json["items"]] == [f"EXP-{trader.dealer_id}"]


# ---------------------------------------------------------------- declarations
def test_trader_edits_submits_and_admin_approves_over_http(client: FlaskClient, make_user, make_submittable) -> None:
    trader, declaration = make_submittable()
    sign_in(client, trader)
    response = client.patch(f"/api/v1/declarations/{declaration.id}", json={"vehicle": "09 KG 482 AAH"})
    assert response.status_code == 200 and response.json["vehicle"] == "09 KG 482 AAH"
    assert response.json["items"][0]["declared_net_g"] == 34_500  # untouched fields are kept
    submitted = post(client, f"/declarations/{declaration.id}/submit")
    assert submitted.status_code == 200 and submitted.json["status"] == "submitted"
    assert post(client, f"/declarations/{declaration.id}/approve").status_code == 403   # a trader cannot approve
    sign_in(client, make_user("licensing_admin"))
    approved = post(client, f"/declarations/{declaration.id}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert validate_reference(approved.json["reference"]) == approved.json["reference"]


def test_submit_reports_every_failing_rule_by_field(client: FlaskClient, db: Session, make_submittable) -> None:
    past = datetime.now(timezone.utc) - timedelta(days=1)
    trader, declaration = make_submittable(planned_departure=past, planned_arrival=past + timedelta(days=200))
    declaration.items[0].declared_net_g = 50_000
    db.flush()
    sign_in(client, trader)
    response = post(client, f"/declarations/{declaration.id}/submit")
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"planned_departure", "planned_arrival", "items[0].declared_net_g"}
    assert client.get(f"/api/v1/declarations/{declaration.id}").json["status"] == "draft"


def test_another_dealers_declaration_is_404(client: FlaskClient, make_user, make_submittable) -> None:
    _, declaration = make_submittable()
    sign_in(client, make_user("trader"))
    assert client.patch(f"/api/v1/declarations/{declaration.id}", json={"vehicle": "x"}).status_code == 404
    assert post(client, f"/declarations/{declaration.id}/submit").status_code == 404
    assert post(client, f"/declarations/{declaration.id}/cancel").status_code == 404


def test_rejection_needs_a_reason_and_a_patch_returns_it_to_draft(client: FlaskClient, make_user,
                                                                  make_declaration) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status=DeclarationStatus.SUBMITTED)
    sign_in(client, make_user("customs_officer"))
    assert post(client, f"/declarations/{declaration.id}/reject", {}).status_code == 422
    response = post(client, f"/declarations/{declaration.id}/reject", {"reason": "seal numbers missing"})
    assert response.json["status"] == "rejected" and response.json["decision_reason"] == "seal numbers missing"
    sign_in(client, trader)
    assert client.patch(f"/api/v1/declarations/{declaration.id}", json={}).json["status"] == "draft"


def test_patch_names_a_foreign_consignee_by_name_and_country(client: FlaskClient, make_user,
                                                             make_declaration) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer)
    sign_in(client, trader)
    response = client.patch(f"/api/v1/declarations/{declaration.id}", json={
        "kind": "export", "consignee": {"name": "Almaty Chemicals LLP", "country": "KZ"}})
    assert response.status_code == 200, response.json
    assert response.json["consignee"]["legal_name"] == "Almaty Chemicals LLP"
    assert response.json["consignee"]["country"] == "KZ" and response.json["kind"] == "export"
    bad = client.patch(f"/api/v1/declarations/{declaration.id}", json={"consignee": {"name": "X", "country": "KG"}})
    assert bad.status_code == 422 and "consignee" in bad.json["fields"]


def test_cancel_before_departure_and_a_conflict_after(client: FlaskClient, make_user, make_declaration) -> None:
    trader = make_user("trader")
    waiting = make_declaration(declarant=trader.dealer, status=DeclarationStatus.APPROVED)
    moving = make_declaration(declarant=trader.dealer, status=DeclarationStatus.IN_TRANSIT)
    sign_in(client, trader)
    cancelled = post(client, f"/declarations/{waiting.id}/cancel", {"reason": "buyer withdrew"})
    assert cancelled.json["status"] == "cancelled"
    response = post(client, f"/declarations/{moving.id}/cancel")
    assert response.status_code == 409 and "in_transit; it cannot become cancelled" in response.json["message"]


# ---------------------------------------------------------------- receipt and alerts
def test_receipt_with_a_shortage_then_explanation_acknowledgement_and_closing(
        client: FlaskClient, make_user, make_declaration) -> None:
    receiver = make_user("trader")
    declaration = make_declaration(consignee=receiver.dealer, status=DeclarationStatus.ARRIVED,
                                   arrived_at=utcnow() - timedelta(hours=3))
    sscc = declaration.items[0].container.sscc
    sign_in(client, receiver)
    response = post(client, f"/declarations/{declaration.id}/receipt", {
        "containers": [{"sscc": sscc, "received_net_g": 33_700, "seal_intact": True}],
        "remarks": "one flask light"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed" and response.json["items"][0]["received_net_g"] == 33_700
    [alert] = client.get("/api/v1/alerts").json["items"]
    assert alert["kind"] == "receipt_shortage" and alert["details"]["difference_g"] == -800
    explained = post(client, f"/alerts/{alert['id']}/explain", {"explanation": "valve replaced, act 12"})
    assert explained.status_code == 200 and explained.json["status"] == "explained"
    assert post(client, f"/alerts/{alert['id']}/close", {"resolution": "ok"}).status_code == 403
    sign_in(client, make_user("customs_officer"))
    assert client.post(f"/api/v1/alerts/{alert['id']}/acknowledge").status_code == 200
    closed = post(client, f"/alerts/{alert['id']}/close", {"resolution": "loss documented"})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    history = client.get(f"/api/v1/alerts/{alert['id']}").json["history"]
    assert [(h["action"], h["by"]) for h in history][:2] == [("opened", "system"), ("explained", receiver.login)]
    assert [h["action"] for h in history][2:] == ["acknowledged", "closed"]


def test_receipt_input_shapes_are_reported_per_field(client: FlaskClient, make_user, make_declaration) -> None:
    receiver = make_user("trader")
    declaration = make_declaration(consignee=receiver.dealer, status=DeclarationStatus.ARRIVED)
    sign_in(client, receiver)
    response = post(client, f"/declarations/{declaration.id}/receipt",
                    {"containers": "all fine", "received_at": "yesterday"})
    assert response.status_code == 422 and set(response.json["fields"]) == {"containers", "received_at"}


@pytest.mark.parametrize("role", ["trader", "auditor"])
def test_alerts_of_another_dealer_are_hidden_and_auditors_change_nothing(
        client: FlaskClient, db: Session, make_user, make_declaration, role: str) -> None:
    alert = open_alert(db, kind="seal_broken", severity="critical",
                       declaration=make_declaration(status=DeclarationStatus.CLOSED))
    sign_in(client, make_user(role))
    if role == "trader":
        assert client.get(f"/api/v1/alerts/{alert.id}").status_code == 404
        assert post(client, f"/alerts/{alert.id}/explain", {"explanation": "x"}).status_code == 404
    else:
        assert client.get(f"/api/v1/alerts/{alert.id}").status_code == 200
        assert post(client, f"/alerts/{alert.id}/explain", {"explanation": "x"}).status_code == 403
        assert post(client, f"/alerts/{alert.id}/close", {"resolution": "x"}).status_code == 403
