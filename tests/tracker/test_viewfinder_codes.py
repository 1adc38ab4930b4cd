"""POST /api/v1/scans/codes: the codes a phone's live viewfinder decoded, judged by the tracker's GS1 rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tracker.domain.gs1 import make_sscc

API = "/api/v1/scans/codes"
GOOD = make_sscc(0, "4700009", 42)
#: The same SSCC with its check digit wrong: a label that must not be trusted.
BAD = GOOD[:-1] + str((int(GOOD[-1]) + 1) % 10)


def sign_in(client: FlaskClient, user) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def leaving_now() -> dict[str, datetime]:
    """A planned window that opened an hour ago."""
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    return {"planned_departure": start, "planned_arrival": start + timedelta(days=1)}


@pytest.fixture
def officer(make_user):  # type: ignore[no-untyped-def]
    return make_user("customs_officer")


def test_a_gs1_128_read_names_the_container_and_counts_its_declaration(client: FlaskClient, officer,
                                                                        make_declaration) -> None:
    declaration = make_declaration(status="approved", origin=officer.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    sign_in(client, officer)
    # zxing-wasm gives GS1 data in the human-readable form with the AIM identifier ]C1.
    response = client.post(API, json={"codes": [{"text": f"(00){sscc}", "format": "Code128",
                                                  "symbology_identifier": "]C1"}]})
    assert response.status_code == 200, response.json
    (found,) = response.json["containers"]
    assert found["sscc"] == sscc and found["declaration"]["id"] == declaration.id and found["expected_here"] is True
    (loading,) = response.json["loading"]
    assert loading == {"declaration_id": declaration.id, "scanned": 0, "total": len(declaration.items),
                       "departed": [], "missing": [i.container.sscc for i in declaration.items]}


def test_the_qr_codes_digital_link_and_the_bar_code_of_one_label_are_one_container(
        client: FlaskClient, officer, make_declaration) -> None:
    declaration = make_declaration(status="approved", origin=officer.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    sign_in(client, officer)
    response = client.post(API, json={"codes": [
        {"text": f"https://id.gs1.org/00/{sscc}", "format": "QRCode"},
        {"text": f"\x1d00{sscc}", "format": "Code128", "symbology_identifier": "]C1"}]})
    assert response.status_code == 200
    (found,) = response.json["containers"]
    assert found["formats"] == ["QRCode", "Code128"]


@pytest.mark.parametrize("codes, field", [
    ([{"text": f"(00){BAD}", "format": "Code128", "symbology_identifier": "]C1"}], "codes"),
    ([{"text": "4006381333931", "format": "EAN13"}], "codes"),          # a product's barcode, not a container
    ([], "codes"), ("(00)1", "codes"),
    ([{"text": "x" * 513, "format": "QRCode"}], "codes[0]"),
    ([{"text": 5, "format": "QRCode"}], "codes[0]"),
    ([{"format": "QRCode"}] * 21, "codes"),
])
def test_what_is_not_a_trustworthy_container_label_is_refused(client: FlaskClient, officer, codes, field) -> None:
    sign_in(client, officer)
    response = client.post(API, json={"codes": codes})
    assert response.status_code == 422 and field in response.json["fields"]


def test_only_customs_officers_ask(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    sscc = make_sscc(0, "4700009", 43)
    assert client.post(API, json={"codes": [{"text": f"(00){sscc}", "format": "Code128"}]}).status_code == 403


def test_the_containers_read_open_on_one_page_with_one_confirm_form(client: FlaskClient, auth, officer,
                                                                    make_declaration) -> None:
    first, second = (make_declaration(status="approved", origin=officer.checkpoints[0], **leaving_now())
                     for _ in range(2))
    ssccs = [first.items[0].container.sscc, second.items[0].container.sscc]
    auth.sign_in_as(officer)
    page = client.get("/checkpoint/labels", query_string=[("sscc", s) for s in ssccs]).get_data(as_text=True)
    assert all(f'id="scanned-{s}"' in page for s in ssccs) and page.count('id="custody-form"') == 1
    assert 'name="photo_digest" value=""' in page
    nothing = client.get("/checkpoint/labels")  # nothing read yet: back to the scan page
    assert nothing.status_code == 302 and nothing.headers["Location"] == "/checkpoint/scan"
