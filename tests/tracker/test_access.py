"""Each role sees what it should; another dealer's record does not exist for a trader."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD


def sign_in(client: FlaskClient, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200


def test_trader_sees_own_declaration_and_not_another_dealers(client: FlaskClient, make_user,
                                                              make_declaration) -> None:
    trader = make_user("trader")
    own = make_declaration(declarant=trader.dealer, status="approved")
    other = make_declaration(status="approved")
    sign_in(client, trader)
    assert client.get(f"/api/v1/declarations/{own.id}").status_code == 200
    response = client.get(f"/api/v1/declarations/{other.id}")
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert client.get(f"/declarations/{other.id}").status_code == 404
    listed = {d["id"] for d in client.get("/api/v1/declarations").json["items"]}
    assert own.id in listed and other.id not in listed


def test_trader_sees_declarations_naming_its_dealer_as_consignee_once_submitted(
        client: FlaskClient, make_user, make_declaration) -> None:
    trader = make_user("trader")
    incoming = make_declaration(consignee=trader.dealer, status="in_transit")
    draft_for_us = make_declaration(consignee=trader.dealer, status="draft")
    sign_in(client, trader)
    assert client.get(f"/api/v1/declarations/{incoming.id}").status_code == 200
    assert client.get(f"/api/v1/declarations/{draft_for_us.id}").status_code == 404


def test_trader_cannot_see_another_dealers_container(client: FlaskClient, make_user, make_container) -> None:
    trader = make_user("trader")
    own, other = make_container(owner=trader.dealer), make_container()
    sign_in(client, trader)
    assert client.get(f"/api/v1/containers/{own.sscc}").status_code == 200
    assert client.get(f"/api/v1/containers/{other.sscc}").status_code == 404
    assert client.get(f"/containers/{other.sscc}").status_code == 404
    listed = [c["sscc"] for c in client.get("/api/v1/containers").json["items"]]
    assert listed == [own.sscc]


def test_auditor_reads_everything(client: FlaskClient, make_user, make_declaration) -> None:
    declarations = [make_declaration(status=s) for s in ("draft", "approved", "closed")]
    sign_in(client, make_user("auditor"))
    for declaration in declarations:
        assert client.get(f"/api/v1/declarations/{declaration.id}").status_code == 200


def test_auditor_cannot_write(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("auditor"))
    container = {"sscc": "106141411234567897", "container_type": "flask_34_5kg",
                 "tare_g": 2700, "capacity_g": 34500, "net_g": 34500}
    for path, body in (("/api/v1/containers", container), ("/api/v1/declarations", {"kind": "domestic"})):
        response = client.post(path, json=body)
        assert response.status_code == 403, path
        assert response.json["error"] == "forbidden"


def test_officer_sees_submitted_declarations_but_no_drafts(client: FlaskClient, make_user,
                                                          make_declaration) -> None:
    draft, moving = make_declaration(status="draft"), make_declaration(status="in_transit")
    sign_in(client, make_user("customs_officer"))
    assert client.get(f"/api/v1/declarations/{moving.id}").status_code == 200
    assert client.get(f"/api/v1/declarations/{draft.id}").status_code == 404


def test_officer_home_lists_declarations_expected_at_the_post(client: FlaskClient, make_user,
                                                             make_declaration, make_checkpoint) -> None:
    post = make_checkpoint(name="Toktogul customs post")
    officer = make_user("customs_officer", checkpoints=[post])
    coming = make_declaration(status="in_transit", destination=post)
    elsewhere = make_declaration(status="in_transit")
    sign_in(client, officer)
    page = client.get("/").get_data(as_text=True)
    expected_section = page.split("Expected at your checkpoints")[1].split("</section>")[0]
    assert coming.reference in expected_section
    assert elsewhere.reference not in expected_section


def test_each_role_has_a_home_page(client: FlaskClient, make_user) -> None:
    titles = {"trader": "Trader", "customs_officer": "Customs officer",
              "auditor": "Auditor, Ministry of Finance", "licensing_admin": "Licensing authority"}
    for role, title in titles.items():
        sign_in(client, make_user(role))
        page = client.get("/")
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.get_data(as_text=True)
        client.delete("/api/v1/session")


def test_signed_out_api_call_is_401_json_and_page_redirects(client: FlaskClient) -> None:
    response = client.get("/api/v1/declarations")
    assert response.status_code == 401 and response.json["error"] == "unauthorized"
    page = client.get("/declarations/1")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_trader_sees_only_own_licence_and_auditor_sees_all(client: FlaskClient, make_user, make_dealer) -> None:
    trader, other = make_user("trader"), make_dealer(legal_name="Other Trading LLC")
    own_number = trader.dealer.licenses[0].number
    other_number = other.licenses[0].number
    sign_in(client, trader)
    page = client.get("/licences").get_data(as_text=True)
    assert own_number in page and other_number not in page
    client.delete("/api/v1/session")
    sign_in(client, make_user("auditor"))
    page = client.get("/licences").get_data(as_text=True)
    assert own_number in page and other_number in page


def test_licensing_admin_home_lists_declarations_awaiting_decision(client: FlaskClient, make_user,
                                                                  make_declaration) -> None:
    waiting, draft = make_declaration(status="submitted"), make_declaration(status="draft")
    sign_in(client, make_user("licensing_admin"))
    page = client.get("/").get_data(as_text=True)
    awaiting = page.split("Awaiting your decision")[1].split("</section>")[0]
    assert f"/declarations/{waiting.id}\"" in awaiting and f"/declarations/{draft.id}\"" not in awaiting


WRITES = {
    "register_container": ("/api/v1/containers", {
        "sscc": "106141411234567897", "container_type": "flask_34_5kg",
        "tare_g": 2700, "capacity_g": 34500, "net_g": 34500}),
    "file_declaration": ("/api/v1/declarations", {
        "kind": "domestic", "consignee_id": 1, "origin": "NONE", "destination": "NONE"}),
}
# What each role gets for each write: traders may (the body is then checked: 201 or 422), others 403.
EXPECTED = {
    ("trader", "register_container"): 201, ("trader", "file_declaration"): 422,
    **{(role, write): 403 for role in ("customs_officer", "auditor", "licensing_admin") for write in WRITES},
}


@pytest.mark.parametrize("role, write", sorted(EXPECTED))
def test_writes_by_role(client: FlaskClient, make_user, role: str, write: str) -> None:
    sign_in(client, make_user(role))
    path, body = WRITES[write]
    response = client.post(path, json=body)
    assert response.status_code == EXPECTED[(role, write)], response.json
