"""Registering dealers (the licensing authority) and containers with their labels (a trader).

A dealer and its first licence are stored together or not at all; a refused form names
each bad field and stores nothing; the wrong role gets 403 and stores nothing; a trader
registers only its own dealer's containers and prints only their labels, which the
project's own decoder reads back.
"""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from scanner_app import decode
from tracker.domain.containers import REGISTRY_COMPANY_PREFIX, allocate_sscc
from tracker.domain.dealers import DealerInput, register_dealer, taxpayer_number_error
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.gs1 import is_valid_sscc, make_sscc
from tracker.domain.licensing import LicenceInput
from tracker.models import Container, Dealer, License, Role

pytestmark = pytest.mark.usefixtures("fast_passwords")

TODAY = date(2026, 12, 4)
NEW_DEALER = {"legal_name": "Chauvai Mercury LLC", "taxpayer_number": "01503201910377",
              "address": "Chauvai, Kadamjai district, Batken region", "number": "KG-HG-2027-021",
              "valid_from": "2027-01-01", "valid_to": "2027-12-31", "annual_quota_kg": "1200",
              "activities": ["production", "storage"], "reason": "application 2026/91"}
NEW_CONTAINER = {"sscc": "", "container_type": "flask_34_5kg", "tare_kg": "2.7", "capacity_kg": "34.5",
                 "net_kg": "34.5", "seal_number": "CHV-000017"}


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def field_error(page: str, field_id: str) -> str:
    """Return the message shown beside the field ``field_id`` ('' when none)."""
    match = re.search(rf'<p class="field-error" id="{field_id}-error"[^>]*>([^<]*)</p>', page)
    return match.group(1) if match else ""


@pytest.fixture
def admin(make_user, auth):  # type: ignore[no-untyped-def]
    """The licensing authority, signed in."""
    user = make_user(Role.LICENSING_ADMIN)
    auth.sign_in_as(user)
    return user


@pytest.fixture
def trader(make_user, auth):  # type: ignore[no-untyped-def]
    """A trader of a licensed dealer, signed in."""
    user = make_user(Role.TRADER)
    auth.sign_in_as(user)
    return user


# ---------------------------------------------------------------- dealers: the domain
@pytest.mark.parametrize(("number", "wrong"), [
    ("01207199310028", None),            # the Khaidarkan combine's (demo): a legal person, 12.07.1993
    ("21505198710012", None),            # an individual entrepreneur born 15.05.1987
    ("0120719931002", "14 digits"),      # 13 digits
    ("012071993100281", "14 digits"),    # 15 digits
    ("31207199310028", "14 digits"),     # kind 3 does not exist
    ("0120719931002X", "14 digits"),
    ("٠١٢٠٧١٩٩٣١٠٠٢٨", "14 digits"),      # Arabic-Indic digits are digits to Python, not to the tax office
    ("03102199310028", "a date"),        # 31 February
    ("00101203010028", "past date"),     # registered in 2030
])
def test_a_taxpayer_number_has_the_form_of_a_kyrgyz_inn(number: str, wrong: str | None) -> None:
    message = taxpayer_number_error(number, TODAY)
    assert (message is None) if wrong is None else (wrong in message)


def _licence(**kw) -> LicenceInput:  # type: ignore[no-untyped-def]
    kw.setdefault("number", f"KG-HG-R-{kw.pop('n', 1)}")
    return LicenceInput(dealer_id=0, valid_from=date(2027, 1, 1), valid_to=date(2027, 12, 31),
                        annual_quota_g=1_000_000, activities=["domestic_trade"], **kw)


def test_the_dealer_and_its_licence_are_stored_together(db, make_user) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    licence = register_dealer(db, admin, DealerInput("  Chauvai   Mercury LLC ", "01503201910377", "Chauvai"),
                              _licence(number="KG-HG-2027-021"), TODAY)
    assert licence.dealer.legal_name == "Chauvai Mercury LLC" and licence.dealer.country == "KG"
    assert licence.issued_by == admin and [e.action for e in licence.history] == ["issued"]


def test_a_licence_refused_leaves_no_dealer_behind(db, make_user, make_dealer) -> None:
    admin, taken = make_user(Role.LICENSING_ADMIN), make_dealer().licenses[0].number
    dealers_before = count(db, Dealer)
    with pytest.raises(ValidationFailed) as refused:
        register_dealer(db, admin, DealerInput("Fresh LLC", "01503201910377", "Osh"),
                        _licence(number=taken), TODAY)
    assert set(refused.value.errors) == {"number"} and count(db, Dealer) == dealers_before


def test_duplicates_are_refused_by_taxpayer_number_and_by_name(db, make_user, make_dealer) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    make_dealer(legal_name="Osh Kimyo Trade LLC", taxpayer_number="02508200510117")
    with pytest.raises(ValidationFailed) as refused:
        register_dealer(db, admin, DealerInput("osh  kimyo trade llc", "02508200510117", "Osh"), _licence(), TODAY)
    assert "Osh Kimyo Trade LLC is already registered" in refused.value.errors["legal_name"]
    assert "already registered to Osh Kimyo Trade LLC" in refused.value.errors["taxpayer_number"]


@pytest.mark.parametrize("role", [Role.TRADER, Role.CUSTOMS_OFFICER, Role.AUDITOR])
def test_only_the_licensing_authority_registers_dealers(db, make_user, role: Role) -> None:
    with pytest.raises(Forbidden):
        register_dealer(db, make_user(role), DealerInput("X LLC", "01503201910377", "Osh"), _licence(), TODAY)


# ---------------------------------------------------------------- dealers: the portal
def test_admin_registers_a_dealer_with_its_licence(db, client, auth, admin) -> None:
    response = auth.post_form("/dealers", NEW_DEALER)
    assert response.status_code == 302
    dealer = db.scalars(select(Dealer).where(Dealer.taxpayer_number == "01503201910377")).one()
    licence = db.scalars(select(License).where(License.dealer_id == dealer.id)).one()
    assert licence.number == "KG-HG-2027-021" and licence.annual_quota_g == 1_200_000
    assert {a.value for a in licence.activities} == {"production", "storage"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Chauvai Mercury LLC registered with licence KG-HG-2027-021." in page
    listing = client.get("/dealers").get_data(as_text=True)
    assert "Chauvai Mercury LLC" in listing and "KG-HG-2027-021" in listing
    assert 'href="/dealers"' in client.get("/").get_data(as_text=True)  # in the menu


def test_every_bad_field_is_named_at_once_and_nothing_is_stored(db, auth, admin, make_dealer) -> None:
    make_dealer(taxpayer_number="02508200510117")
    before = (count(db, Dealer), count(db, License))
    response = auth.post_form("/dealers", NEW_DEALER | {
        "legal_name": "Bell\x07 LLC", "taxpayer_number": "02508200510117", "address": "",
        "annual_quota_kg": "1.23456", "valid_to": "2026-12-31", "activities": []})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "control characters" in field_error(page, "dealer-name")
    assert "already registered" in field_error(page, "dealer-taxpayer")
    assert field_error(page, "dealer-address") and field_error(page, "licence-quota")
    assert field_error(page, "licence-valid-to") and "at least one of" in page
    assert 'value="KG-HG-2027-021"' in page  # what was typed stays
    assert (count(db, Dealer), count(db, License)) == before


@pytest.mark.parametrize("hostile", [
    {"legal_name": "mer\x00cury"}, {"address": "Osh\x1b[2J"}, {"legal_name": "L" * 10_000},
    {"annual_quota_kg": "9" * 40}, {"taxpayer_number": "9" * 40}, {"valid_from": "0001-01-01x"},
    {"number": "N" * 41}, {"activities": ["mining"]},
])
def test_hostile_dealer_forms_are_refused_and_store_nothing(db, auth, admin, hostile) -> None:
    before = (count(db, Dealer), count(db, License))
    response = auth.post_form("/dealers", NEW_DEALER | hostile, form_page="/dealers")
    assert response.status_code == 400
    assert (count(db, Dealer), count(db, License)) == before


@pytest.mark.parametrize("role", [Role.TRADER, Role.CUSTOMS_OFFICER, Role.AUDITOR])
def test_the_wrong_role_may_not_register_a_dealer(db, client, auth, make_user, role: Role) -> None:
    auth.sign_in_as(make_user(role))
    before = count(db, Dealer)
    response = auth.post_form("/dealers", NEW_DEALER, form_page="/")
    assert response.status_code == 403 and count(db, Dealer) == before
    page = client.get("/dealers")
    if role == Role.AUDITOR:  # reads the list, without the form
        assert page.status_code == 200 and "register-dealer" not in page.get_data(as_text=True)
    else:
        assert page.status_code == 403


def test_api_registers_a_dealer_and_names_bad_licence_fields(db, client, auth, admin) -> None:
    body = {"legal_name": "Chauvai Mercury LLC", "taxpayer_number": "01503201910377", "address": "Chauvai",
            "licence": {"number": "KG-HG-2027-022", "valid_from": "2027-01-01", "valid_to": "2027-12-31",
                        "annual_quota_g": 1_200_000, "activities": ["production"]}}
    bad = client.post("/api/v1/dealers", json=body | {"taxpayer_number": "123",
                                                      "licence": body["licence"] | {"annual_quota_g": 0}})
    assert bad.status_code == 422 and set(bad.json["fields"]) == {"taxpayer_number", "licence.annual_quota_g"}
    assert client.post("/api/v1/dealers", json=body | {"licence": "none"}).status_code == 422
    created = client.post("/api/v1/dealers", json=body)
    assert created.status_code == 201 and created.json["country"] == "KG"
    assert [line["number"] for line in created.json["licences"]] == ["KG-HG-2027-022"]
    again = client.post("/api/v1/dealers", json=body | {"licence": body["licence"] | {"number": "KG-HG-2027-023"}})
    assert again.status_code == 422 and set(again.json["fields"]) == {"legal_name", "taxpayer_number"}


def test_api_dealers_refuses_traders(db, client, make_user) -> None:
    trader = make_user(Role.TRADER)
    assert client.post("/api/v1/dealers", json={}).status_code == 401
    client.post("/api/v1/session", json={"login": trader.login, "password": "correct horse battery"})
    assert client.post("/api/v1/dealers", json={}).status_code == 403


# ---------------------------------------------------------------- containers
def test_a_trader_registers_a_typed_sscc_and_sees_its_label(db, client, auth, trader) -> None:
    sscc = make_sscc(3, "470000017", 555)
    response = auth.post_form("/containers", NEW_CONTAINER | {"sscc": f" {sscc[:9]} {sscc[9:]} "})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/containers/{sscc}")
    container = db.scalars(select(Container).where(Container.sscc == sscc)).one()
    assert (container.owner_id, container.custodian_id) == (trader.dealer_id, trader.dealer_id)
    assert (container.tare_g, container.capacity_g, container.net_g) == (2_700, 34_500, 34_500)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Container {sscc} registered" in page and f"/containers/{sscc}/label.pdf" in page


def test_an_empty_sscc_is_allocated_in_turn(db, auth, trader) -> None:
    first = auth.post_form("/containers", NEW_CONTAINER).headers["Location"].rsplit("/", 1)[1]
    second = auth.post_form("/containers", NEW_CONTAINER).headers["Location"].rsplit("/", 1)[1]
    assert is_valid_sscc(first) and is_valid_sscc(second)
    assert first[1:8] == REGISTRY_COMPANY_PREFIX and int(second[8:17]) == int(first[8:17]) + 1
    assert allocate_sscc(db)[8:17] == f"{int(second[8:17]) + 1:09d}"


@pytest.mark.parametrize(("typed", "field", "message"), [
    ({"sscc": make_sscc(3, "470000017", 556)[:17] + "0"}, "sscc", "check digit should be"),
    ({"sscc": "12345"}, "sscc", "an SSCC is 18 digits"),
    ({"tare_kg": "2,7"}, "tare", "a point for decimals, no comma"),
    ({"capacity_kg": "9" * 40}, "capacity", "more than the ceiling"),
    ({"net_kg": "35"}, "net", "exceeds the capacity"),
    ({"net_kg": "-1"}, "net", "cannot be negative"),
    ({"container_type": "barrel"}, "container-type", "one of"),
    ({"seal_number": "S" * 41}, "seal", "up to 40 printable characters"),
])
def test_a_bad_container_is_refused_beside_its_field(db, auth, trader, typed, field, message) -> None:
    before = count(db, Container)
    response = auth.post_form("/containers", NEW_CONTAINER | typed)
    assert response.status_code == 400 and message in field_error(response.get_data(as_text=True), field)
    assert count(db, Container) == before


def test_a_registered_sscc_is_refused(db, auth, trader, make_container) -> None:
    taken = make_container().sscc
    response = auth.post_form("/containers", NEW_CONTAINER | {"sscc": taken})
    assert response.status_code == 400 and "already registered" in field_error(response.get_data(as_text=True), "sscc")


@pytest.mark.parametrize("hostile", [{"sscc": "34700\x00"}, {"seal_number": "KHD\x1b[2J"}, {"net_kg": "1" * 5000}])
def test_hostile_container_forms_are_refused_and_store_nothing(db, auth, trader, hostile) -> None:
    before = count(db, Container)
    assert auth.post_form("/containers", NEW_CONTAINER | hostile).status_code == 400
    assert count(db, Container) == before


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.LICENSING_ADMIN, Role.AUDITOR])
def test_only_traders_register_containers_and_print_labels(db, client, auth, make_user, make_container,
                                                           role: Role) -> None:
    auth.sign_in_as(make_user(role))
    sscc = make_container().sscc
    before = count(db, Container)
    assert auth.post_form("/containers", NEW_CONTAINER, form_page="/").status_code == 403
    assert count(db, Container) == before
    assert client.get(f"/containers/{sscc}/label.png").status_code == 403
    assert "register-container" not in client.get("/containers").get_data(as_text=True)


def test_a_trader_prints_no_label_of_another_dealer(client, trader, make_container) -> None:
    other = make_container().sscc
    assert client.get(f"/containers/{other}/label.pdf").status_code == 404
    assert client.get(f"/containers/{other}").status_code == 404
    assert client.get("/containers/99999999999/label.svg").status_code == 404
    assert client.get(f"/containers/{other}/label.exe").status_code == 404


def test_the_printed_label_decodes_back_to_the_container(client, trader, make_container) -> None:
    container = make_container(owner=trader.dealer, net_g=34_500)
    png = client.get(f"/containers/{container.sscc}/label.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    found = {code.format: code.text for code in decode(png.data)}
    assert found.get("Code128") == "00" + container.sscc
    pdf, svg = (client.get(f"/containers/{container.sscc}/label.{kind}") for kind in ("pdf", "svg"))
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert svg.mimetype == "image/svg+xml" and "34 500 g" in svg.get_data(as_text=True)
    assert f"(00) {container.sscc}" in svg.get_data(as_text=True)


# ---------------------------------------------------------------- in Russian
def _in_russian(auth) -> None:  # type: ignore[no-untyped-def]
    assert auth.post_form("/preferences/language", {"language": "ru", "next": "/"},
                          form_page="/preferences").status_code == 302


def test_dealer_registration_in_russian(db, client, auth, admin) -> None:
    _in_russian(auth)
    page = client.get("/dealers").get_data(as_text=True)
    assert "Регистрация участника оборота с лицензией" in page and "Участники оборота" in page
    assert not [s for s in ("Register a dealer", "Legal address", "Its first licence", "Taxpayer number") if s in page]
    refused = auth.post_form("/dealers", NEW_DEALER | {"taxpayer_number": "123", "annual_quota_kg": "1 200,5"})
    assert refused.status_code == 400
    assert field_error(refused.get_data(as_text=True), "dealer-taxpayer") == "14 цифр, например 01207199310028"
    assert field_error(refused.get_data(as_text=True), "licence-quota") == ""  # a Russian decimal comma is read


def test_container_registration_in_russian_reads_a_decimal_comma(db, client, auth, trader) -> None:
    _in_russian(auth)
    page = client.get("/containers").get_data(as_text=True)
    assert "Регистрация контейнера" in page and "Тара, кг" in page
    assert "Register a container" not in page and "leave empty" not in page
    response = auth.post_form("/containers", NEW_CONTAINER | {"tare_kg": "2,7", "capacity_kg": "34,5",
                                                              "net_kg": "34,5"})
    assert response.status_code == 302
    sscc = response.headers["Location"].rsplit("/", 1)[1]
    container = db.scalars(select(Container).where(Container.sscc == sscc)).one()
    assert (container.tare_g, container.capacity_g) == (2_700, 34_500)
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Этикетка" in shown and "Скачать PDF" in shown


def test_allocation_follows_the_highest_serial_under_the_prefix(db, make_container) -> None:
    make_container(sscc=make_sscc(0, "4700009", 41))
    make_container(sscc=make_sscc(3, "4700009", 900))  # another extension digit: another series
    assert allocate_sscc(db, "4700009") == make_sscc(0, "4700009", 42)
    assert allocate_sscc(db, "4700008") == make_sscc(0, "4700008", 1)


@pytest.mark.parametrize("prefix", ["47x0009", "47", "4" * 13])
def test_allocation_refuses_a_prefix_that_is_not_one(db, prefix: str) -> None:
    with pytest.raises(ValueError, match="company prefix"):
        allocate_sscc(db, prefix)


def test_allocation_says_when_a_prefix_is_used_up(db, make_container) -> None:
    make_container(sscc=make_sscc(0, "470000000001", 9999))
    with pytest.raises(ValueError, match="do not fit"):
        allocate_sscc(db, "470000000001")
