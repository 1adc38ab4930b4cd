"""The trader's pages: declarations list, filing a draft step by step, receipt, register and stock."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import geography as geo
from tracker.domain.register import today_kg
from tracker.domain.route_files import MAX_GPX_BYTES
from tracker.models import (
    Activity,
    Alert,
    Declaration,
    DeclarationStatus,
    Role,
    StockEntry,
    Transaction,
)

BISHKEK_TIME = ZoneInfo("Asia/Bishkek")


def gpx_of(waypoints: Any) -> bytes:
    """Write a GPX track through ``waypoints`` (the demo geography of Kyrgyzstan)."""
    points = "".join(f'<trkpt lat="{w.lat}" lon="{w.lon}"></trkpt>' for w in waypoints)
    return (f'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="test" '
            f'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>M41</name><trkseg>{points}'
            f'</trkseg></trk></gpx>').encode()


def field_error(page: str, field_id: str) -> str:
    """Return the text of the message shown beside the field ``field_id`` ('' when none)."""
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def flashes(client: FlaskClient) -> list[str]:
    with client.session_transaction() as session:
        return [str(message) for _category, message in session.get("_flashes", [])]


@pytest.fixture
def road(make_checkpoint: Any) -> dict[str, Any]:
    """Checkpoints on the demo M41: Khaidarkan gate (origin), Osh and Toktogul posts, Bishkek."""
    def place(code: str, site: str) -> Any:
        s = geo.site(site)
        return make_checkpoint(code=code, name=s.name, lat=s.lat, lon=s.lon)

    return {"origin": place("T-KHD", "KHD-GATE"), "osh": place("T-OSH", "OSH"),
            "toktogul": place("A-TOKTOGUL", "TOKTOGUL"), "destination": place("T-BISHKEK", "BISHKEK")}


@pytest.fixture
def trader(make_user: Any, make_licensed_dealer: Any) -> Any:
    return make_user(Role.TRADER, dealer=make_licensed_dealer({Activity.DOMESTIC_TRADE, Activity.PRODUCTION}))


def local(moment: datetime) -> str:
    return moment.astimezone(BISHKEK_TIME).strftime("%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------- filing a declaration
def test_trader_files_a_declaration_through_every_step_and_submits_it(
        client: FlaskClient, auth: Any, db: Session, trader: Any, road: dict[str, Any],
        make_licensed_dealer: Any, make_container: Any, make_beacon: Any) -> None:
    consignee = make_licensed_dealer()
    flask = make_container(owner=trader.dealer)
    beacon = make_beacon(owner_id=trader.dealer_id)
    auth.sign_in_as(trader)

    page = client.get("/declarations/new").get_data(as_text=True)
    assert 'id="consignee_id"' in page and consignee.legal_name in page
    response = auth.post_form("/declarations/new", {
        "kind": "domestic", "consignee_id": consignee.id, "origin": "T-KHD", "destination": "T-BISHKEK"})
    assert response.status_code == 302
    draft = db.scalars(select(Declaration).where(Declaration.declarant_id == trader.dealer_id)).one()
    assert response.headers["Location"].endswith(f"/declarations/{draft.id}/edit?step=containers")

    containers = f"/declarations/{draft.id}/edit?step=containers"
    assert flask.sscc in client.get(containers).get_data(as_text=True)
    response = auth.post_form(containers, {"sscc": flask.sscc, f"mass-{flask.sscc}": "34.5"})
    assert response.status_code == 302
    db.refresh(draft)
    assert [(i.container.sscc, i.declared_net_g) for i in draft.items] == [(flask.sscc, 34_500)]

    route = f"/declarations/{draft.id}/edit?step=route"
    departure = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0, microsecond=0)
    road_to_bishkek = geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Bishkek")
    response = auth.post_form(route, {
        "gpx": (io.BytesIO(gpx_of(road_to_bishkek)), "m41.gpx"), "waypoints": "", "corridor_m": "800",
        "expected": ["A-TOKTOGUL", "T-OSH"],  # listed by code; the route passes Osh first
        "planned_departure": local(departure), "planned_arrival": local(departure + timedelta(hours=14)),
        "beacon_id": str(beacon.id), "vehicle": "09 KG 482 AAH"}, content_type="multipart/form-data")
    assert response.status_code == 302, field_error(response.get_data(as_text=True), "gpx")
    db.refresh(draft)
    assert len(draft.route.coords) == len(road_to_bishkek) and draft.corridor_m == 800
    assert [e.checkpoint.code for e in draft.expected_checkpoints] == ["T-OSH", "A-TOKTOGUL"]
    assert draft.planned_departure == departure and draft.beacon_id == beacon.id
    assert draft.vehicle == "09 KG 482 AAH"

    review = client.get(f"/declarations/{draft.id}/edit?step=review").get_data(as_text=True)
    assert 'id="ready"' in review and "Submit for approval" in review
    response = auth.post_form(f"/declarations/{draft.id}/submit", {},
                              form_page=f"/declarations/{draft.id}/edit?step=review")
    assert response.status_code == 302
    db.refresh(draft)
    assert draft.status == DeclarationStatus.SUBMITTED


def test_route_step_takes_waypoints_clicked_on_the_map(client: FlaskClient, auth: Any, db: Session,
                                                       make_submittable: Any) -> None:
    trader, draft = make_submittable(route=None)
    auth.sign_in_as(trader)
    route = f"/declarations/{draft.id}/edit?step=route"
    page = client.get(route).get_data(as_text=True)
    assert 'data-pick-into="waypoints"' in page and '<textarea id="waypoints" name="waypoints"' in page
    response = auth.post_form(route, {"waypoints": "40.528000, 72.799000\n40.933, 73.0\n\n42.875 74.59",
                                      "corridor_m": "500"})
    assert response.status_code == 302
    db.refresh(draft)
    assert list(draft.route.coords) == [(72.799, 40.528), (73.0, 40.933), (74.59, 42.875)]


def test_route_step_shows_the_domains_refusals_beside_their_fields(client: FlaskClient, auth: Any, db: Session,
                                                                   make_submittable: Any) -> None:
    trader, draft = make_submittable()
    auth.sign_in_as(trader)
    start = datetime.now(timezone.utc) + timedelta(days=3)
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=route", {
        "waypoints": "40.5, 72.8\n95, 73", "corridor_m": "0",
        "planned_departure": local(start), "planned_arrival": local(start - timedelta(hours=1))})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "off the globe" in field_error(page, "waypoints") and "1–50000" in field_error(page, "corridor_m")
    assert "95, 73" in page  # the typed waypoints are kept
    db.refresh(draft)
    assert draft.corridor_m == 500 and len(draft.route.coords) == 3


def test_a_failing_rule_is_shown_beside_its_field_and_nothing_is_submitted(
        client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    past = datetime.now(timezone.utc) - timedelta(days=1)
    trader, draft = make_submittable(planned_departure=past, planned_arrival=past + timedelta(hours=5))
    auth.sign_in_as(trader)
    review = f"/declarations/{draft.id}/edit?step=review"
    assert "must be in the future" in field_error(client.get(review).get_data(as_text=True), "planned_departure")

    response = auth.post_form(f"/declarations/{draft.id}/submit", {}, form_page=review)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "must be in the future" in field_error(page, "planned_departure")
    assert f"/declarations/{draft.id}/edit?step=route" in page  # the link to correct it
    assert field_error(page, "consignee") == ""
    db.refresh(draft)
    assert draft.status == DeclarationStatus.DRAFT


def test_a_bad_container_mass_is_refused_beside_its_field(client: FlaskClient, auth: Any, db: Session,
                                                           make_submittable: Any) -> None:
    trader, draft = make_submittable()
    sscc = draft.items[0].container.sscc
    auth.sign_in_as(trader)
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=containers",
                              {"sscc": sscc, f"mass-{sscc}": "34.5001"})
    assert response.status_code == 400
    assert "at most three decimals" in field_error(response.get_data(as_text=True), f"mass-{sscc}")
    db.refresh(draft)
    assert draft.items[0].declared_net_g == 34_500


HOSTILE_GPX = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<gpx version="1.1"><trk><name>&lol2;</name><trkseg><trkpt lat="39.9" lon="71.3"/><trkpt lat="42.8" lon="74.5"/>
</trkseg></trk></gpx>"""


@pytest.mark.parametrize("content, message", [
    (HOSTILE_GPX, "DTDs and entities are not allowed"),
    (b"<gpx>" + b" " * MAX_GPX_BYTES + b"</gpx>", "the limit is"),
    (b"<gpx><trk>", "not well-formed"),
], ids=["entities", "oversized", "malformed"])
def test_a_hostile_or_oversized_gpx_is_refused_beside_the_field_and_stores_nothing(
        client: FlaskClient, auth: Any, db: Session, make_submittable: Any, content: bytes, message: str) -> None:
    trader, draft = make_submittable(route=None, vehicle="")
    auth.sign_in_as(trader)
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=route", {
        "gpx": (io.BytesIO(content), "route.gpx"), "corridor_m": "900", "vehicle": "01 KG 123 ABC"},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in field_error(response.get_data(as_text=True), "gpx")
    db.refresh(draft)
    assert draft.route is None and draft.corridor_m == 500 and draft.vehicle == ""


def test_a_submitted_declaration_is_no_longer_edited(client: FlaskClient, auth: Any, make_submittable: Any) -> None:
    trader, draft = make_submittable(status="submitted")
    auth.sign_in_as(trader)
    response = client.get(f"/declarations/{draft.id}/edit?step=route")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/declarations/{draft.id}")
    assert any("only a draft or a rejected declaration can be edited" in m for m in flashes(client))


def test_the_first_step_refuses_missing_and_bad_parties_beside_their_fields_and_creates_nothing(
        client: FlaskClient, auth: Any, db: Session, trader: Any, road: dict[str, Any]) -> None:
    auth.sign_in_as(trader)
    response = auth.post_form("/declarations/new", {"kind": "domestic", "origin": "T-KHD", "destination": ""})
    assert response.status_code == 400
    assert field_error(response.get_data(as_text=True), "destination") == "Required."
    response = auth.post_form("/declarations/new", {
        "kind": "export", "consignee_name": "KazChemTrade LLP", "consignee_country": "KG",
        "origin": "T-KHD", "destination": "T-BISHKEK"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "other than KG" in field_error(page, "consignee")
    assert 'value="KazChemTrade LLP"' in page  # what was typed is kept
    assert db.scalars(select(Declaration)).first() is None


def test_trader_cancels_a_draft(client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    auth.sign_in_as(trader)
    response = auth.post_form(f"/declarations/{draft.id}/cancel", {"reason": "buyer withdrew"},
                              form_page=f"/declarations/{draft.id}/edit?step=review")
    assert response.status_code == 302
    db.refresh(draft)
    assert draft.status == DeclarationStatus.CANCELLED


# ---------------------------------------------------------------- the list
def test_declarations_list_filters_and_searches_by_sscc(client: FlaskClient, auth: Any, make_user: Any,
                                                         make_declaration: Any) -> None:
    trader = make_user(Role.TRADER)
    approved = make_declaration(declarant=trader.dealer, status="approved")
    draft = make_declaration(declarant=trader.dealer)
    foreign = make_declaration(status="approved")
    auth.sign_in_as(trader)
    page = client.get("/declarations").get_data(as_text=True)
    assert approved.reference in page and f"#{draft.id}" in page and foreign.reference not in page
    assert 'id="new-declaration"' in page
    by_status = client.get("/declarations", query_string={"status": "approved"}).get_data(as_text=True)
    assert approved.reference in by_status and f">#{draft.id}<" not in by_status
    sscc = approved.items[0].container.sscc
    found = client.get("/declarations", query_string={"q": f"(00) {sscc}"}).get_data(as_text=True)
    assert approved.reference in found and f">#{draft.id}<" not in found
    nothing = client.get("/declarations", query_string={"q": foreign.reference}).get_data(as_text=True)
    assert "No declaration matches these filters" in nothing


def test_declarations_list_is_paginated_and_says_what_to_do_when_empty(
        client: FlaskClient, auth: Any, make_user: Any, make_declaration: Any) -> None:
    trader = make_user(Role.TRADER)
    auth.sign_in_as(trader)
    assert "No declarations yet — file one with New declaration." in client.get("/declarations").get_data(as_text=True)
    for _n in range(26):
        make_declaration(declarant=trader.dealer, status="submitted")
    first = client.get("/declarations").get_data(as_text=True)
    assert 'rel="next"' in first and "1–25 of 26" in first
    assert "26–26 of 26" in client.get("/declarations", query_string={"page": 2}).get_data(as_text=True)


# ---------------------------------------------------------------- receipt
def test_receipt_is_reviewed_then_closes_the_declaration_and_its_remarks_reach_the_shortage_alert(
        client: FlaskClient, auth: Any, db: Session, make_user: Any, make_declaration: Any) -> None:
    consignee = make_user(Role.TRADER)
    arrived = make_declaration(consignee=consignee.dealer, status="arrived",
                               arrived_at=datetime.now(timezone.utc) - timedelta(hours=1))
    sscc = arrived.items[0].container.sscc
    auth.sign_in_as(consignee)
    path = f"/declarations/{arrived.id}/receipt"
    form = client.get(path).get_data(as_text=True)
    assert f'id="received-{sscc}" name="received-{sscc}" value=""' in form  # weighed, not copied
    assert f'name="seal-{sscc}"' in form and "checked" not in form  # someone must look at the seal
    filled = {f"received-{sscc}": "33.650", f"seal-{sscc}": "intact",
              "remarks": "Flask 3 arrived with a dented valve; 850 g lost."}
    review = auth.post_form(path, filled)
    assert review.status_code == 200
    page = review.get_data(as_text=True)
    assert 'id="file-receipt"' in page and "beyond the tolerance: opens an alert" in page and "-0.850 kg" in page
    db.refresh(arrived)
    assert arrived.status == DeclarationStatus.ARRIVED  # nothing filed before the confirmation
    response = auth.post_form(path, {**filled, "confirmed": "yes"})
    assert response.status_code == 302
    db.refresh(arrived)
    assert arrived.status == DeclarationStatus.CLOSED and arrived.items[0].received_net_g == 33_650
    assert arrived.receipt_remarks.startswith("Flask 3 arrived")
    alert = db.scalars(select(Alert).where(Alert.declaration_id == arrived.id)).one()
    assert alert.kind == "receipt_shortage" and alert.details["difference_g"] == -850
    assert alert.details["remarks"] == "Flask 3 arrived with a dented valve; 850 g lost."
    messages = flashes(client)
    assert any("shortage on receipt" in m and f"/alerts/{alert.id}" in m for m in messages)
    shown = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "Remarks on receipt" in shown and "Flask 3 arrived with a dented valve" in shown


def test_receipt_without_a_seal_choice_is_refused_beside_the_seal(
        client: FlaskClient, auth: Any, db: Session, make_user: Any, make_declaration: Any) -> None:
    consignee = make_user(Role.TRADER)
    arrived = make_declaration(consignee=consignee.dealer, status="arrived")
    sscc = arrived.items[0].container.sscc
    auth.sign_in_as(consignee)
    response = auth.post_form(f"/declarations/{arrived.id}/receipt",
                              {f"received-{sscc}": "34.5", "confirmed": "yes"})
    assert response.status_code == 400
    assert "was intact or broken" in field_error(response.get_data(as_text=True), f"seal-{sscc}")
    db.refresh(arrived)
    assert arrived.status == DeclarationStatus.ARRIVED


def test_changing_the_reviewed_receipt_shows_the_form_with_its_values(
        client: FlaskClient, auth: Any, make_user: Any, make_declaration: Any) -> None:
    consignee = make_user(Role.TRADER)
    arrived = make_declaration(consignee=consignee.dealer, status="arrived")
    sscc = arrived.items[0].container.sscc
    auth.sign_in_as(consignee)
    page = auth.post_form(f"/declarations/{arrived.id}/receipt", {
        f"received-{sscc}": "34.5", f"seal-{sscc}": "broken", "change": "yes"}).get_data(as_text=True)
    assert f'value="34.5"' in page and f'id="seal-{sscc}-broken" name="seal-{sscc}" value="broken" required checked' in page


def test_receipt_refuses_a_mass_that_is_not_kilograms_and_stores_nothing(
        client: FlaskClient, auth: Any, db: Session, make_user: Any, make_declaration: Any) -> None:
    consignee = make_user(Role.TRADER)
    arrived = make_declaration(consignee=consignee.dealer, status="arrived")
    sscc = arrived.items[0].container.sscc
    auth.sign_in_as(consignee)
    response = auth.post_form(f"/declarations/{arrived.id}/receipt", {f"received-{sscc}": "33,650"})
    assert response.status_code == 400
    assert "Type 33650 or 33.65" in field_error(response.get_data(as_text=True), f"received-{sscc}")
    db.refresh(arrived)
    assert arrived.status == DeclarationStatus.ARRIVED and arrived.items[0].received_net_g is None


# ---------------------------------------------------------------- register and stock
def test_trader_records_production_and_a_sale_and_sees_the_book_stock(
        client: FlaskClient, auth: Any, db: Session, trader: Any, make_licensed_dealer: Any) -> None:
    buyer = make_licensed_dealer()
    auth.sign_in_as(trader)
    today = today_kg().isoformat()
    response = auth.post_form("/register/stock-entries", {
        "kind": "production", "mass": "100", "entry_date": today, "place": "Khaidarkan"}, form_page="/register")
    assert response.status_code == 302
    response = auth.post_form("/register/transactions", {
        "direction": "sale", "counterparty": buyer.id, "mass": "34.5", "transaction_date": today,
        "place": "Bishkek"}, form_page="/register")
    assert response.status_code == 302
    sale = db.scalars(select(Transaction).where(Transaction.seller_id == trader.dealer_id)).one()
    assert (sale.buyer_id, sale.mass_g) == (buyer.id, 34_500)
    page = client.get("/register").get_data(as_text=True)
    assert re.search(r'id="book-stock"[^>]*>100\.000 kg<', page)  # until the buyer confirms the sale
    assert buyer.legal_name in page and "Khaidarkan" in page and "awaits the buyer" in page


def test_a_sale_beyond_the_book_stock_is_refused_beside_the_mass(client: FlaskClient, auth: Any, db: Session,
                                                                  trader: Any, make_licensed_dealer: Any) -> None:
    buyer = make_licensed_dealer()
    auth.sign_in_as(trader)
    response = auth.post_form("/register/transactions", {
        "direction": "sale", "counterparty": buyer.id, "mass": "1", "transaction_date": today_kg().isoformat(),
        "place": ""}, form_page="/register")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "below zero" in field_error(page, "sale-mass") and field_error(page, "sale-place")
    assert db.scalars(select(Transaction)).first() is None
    assert db.scalars(select(StockEntry)).first() is None


def test_auditor_reads_any_dealers_register_without_forms(client: FlaskClient, auth: Any, make_user: Any,
                                                          trader: Any) -> None:
    auditor = make_user(Role.AUDITOR)
    auth.sign_in_as(auditor)
    assert "Choose a dealer" in client.get("/register").get_data(as_text=True)
    page = client.get("/register", query_string={"dealer": trader.dealer_id}).get_data(as_text=True)
    assert trader.dealer.legal_name in page and 'id="book-stock"' in page
    assert 'id="record-transaction"' not in page
    assert auth.post_form("/register/transactions", {"mass": "1"}, form_page="/register").status_code == 403


def test_only_a_dealer_licensed_to_produce_or_use_sees_the_stock_book_form(
        client: FlaskClient, auth: Any, make_user: Any, trader: Any) -> None:
    auth.sign_in_as(trader)
    page = client.get("/register").get_data(as_text=True)
    assert 'id="record-stock-entry"' in page and '<option value="production"' in page
    assert '<option value="use"' not in page
    auth.logout()
    auth.sign_in_as(make_user(Role.TRADER))  # licensed for domestic trade and storage only
    page = client.get("/register").get_data(as_text=True)
    assert 'id="record-transaction"' in page and 'id="record-stock-entry"' not in page


# ---------------------------------------------------------------- who may do what
def test_another_dealers_declaration_is_not_found_for_a_trader(client: FlaskClient, auth: Any, make_user: Any,
                                                               make_declaration: Any) -> None:
    trader = make_user(Role.TRADER)
    draft, arrived = make_declaration(), make_declaration(status="arrived")
    auth.sign_in_as(trader)
    for step in ("parties", "review"):
        assert client.get(f"/declarations/{draft.id}/edit?step={step}").status_code == 404
    assert client.get(f"/declarations/{arrived.id}/receipt").status_code == 404
    assert auth.post_form(f"/declarations/{draft.id}/submit", {}, form_page="/declarations").status_code == 404


def test_an_officer_may_not_use_the_trader_forms(client: FlaskClient, auth: Any, make_user: Any,
                                                 make_declaration: Any) -> None:
    officer = make_user(Role.CUSTOMS_OFFICER)
    draft = make_declaration(status="submitted")
    auth.sign_in_as(officer)
    assert client.get("/declarations/new").status_code == 403
    assert client.get(f"/declarations/{draft.id}/edit?step=parties").status_code == 403
    assert client.get("/register").status_code == 403
    assert auth.post_form("/register/transactions", {"mass": "1"}, form_page="/declarations").status_code == 403
    assert auth.post_form(f"/declarations/{draft.id}/submit", {}, form_page="/declarations").status_code == 403
    page = client.get("/declarations")
    assert page.status_code == 200 and 'id="new-declaration"' not in page.get_data(as_text=True)


def test_the_trader_pages_speak_russian(client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    trader.language = "ru"
    db.flush()
    auth.sign_in_as(trader)
    listing = client.get("/declarations").get_data(as_text=True)
    assert "Новая декларация" in listing and "Декларации" in listing
    review = client.get(f"/declarations/{draft.id}/edit?step=review").get_data(as_text=True)
    assert "Подать на согласование" in review and "Аннулировать декларацию" in review
    route = client.get(f"/declarations/{draft.id}/edit?step=route").get_data(as_text=True)
    assert "Маяк" in route
    assert "Реестр" in client.get("/register").get_data(as_text=True)
    sscc = draft.items[0].container.sscc
    refused = auth.post_form(f"/declarations/{draft.id}/edit?step=containers", {"sscc": sscc, f"mass-{sscc}": "34,5 кг"})
    assert "Укажите массу в килограммах" in field_error(refused.get_data(as_text=True), f"mass-{sscc}")
    saved = auth.post_form(f"/declarations/{draft.id}/edit?step=containers", {"sscc": sscc, f"mass-{sscc}": "34,250"})
    assert saved.status_code == 302
    db.refresh(draft)
    assert draft.items[0].declared_net_g == 34_250
