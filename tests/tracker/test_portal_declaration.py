"""The declaration page and its map: facts, timeline, map layers, access, Russian, tiles, Leaflet served here."""
from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Auth
from tests.tracker.test_map_data import START, trip  # noqa: F401  (the tracked trip fixture)
from tracker import create_app
from tracker.domain.alerts import explain_alert
from tracker.domain.receipts import ReceiptInput, ReceivedContainer, report_receipt
from tracker.models import Alert, Declaration, DeclarationStatus, Role, User
from tracker.web.database import EXTENSION_KEY

pytestmark = pytest.mark.usefixtures("fast_passwords")

TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def page_of(client: FlaskClient, declaration: Declaration) -> str:
    response = client.get(f"/declarations/{declaration.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def map_of(client: FlaskClient, declaration: Declaration) -> dict[str, Any]:
    response = client.get(f"/declarations/{declaration.id}/map.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    return response.json


def trader_of(make_user: Callable[..., User], declaration: Declaration, **kw: Any) -> User:
    return make_user(Role.TRADER, dealer=declaration.declarant, **kw)


def timeline_texts(page: str) -> list[str]:
    block = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
    assert block, "no timeline on the page"
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
            for item in re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S)]


def test_the_map_carries_corridor_track_alert_and_both_custody_events_with_words(
        client: FlaskClient, auth: Auth, trip: Declaration, make_user: Callable[..., User]) -> None:  # noqa: F811
    auth.sign_in_as(trader_of(make_user, trip))
    features = map_of(client, trip)["features"]
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for feature in features:
        by_layer.setdefault(feature["properties"]["layer"], []).append(feature["properties"])
    assert {"route", "corridor", "track", "alert", "custody", "checkpoint"} <= set(by_layer)
    [alert] = by_layer["alert"]
    assert alert["label"] == "Alert: off route" and alert["text"][1] == "warning, open"
    assert [c["label"].split(" at ")[0] for c in by_layer["custody"]] == ["Departure", "Arrival"]
    assert f"SSCC {trip.items[0].container.sscc}: seal intact" in by_layer["custody"][0]["text"]
    assert by_layer["corridor"][0]["label"] == "Corridor, 500 m each side of the route"


def test_another_dealers_trader_gets_404_for_page_and_map(
        client: FlaskClient, auth: Auth, trip: Declaration, make_user: Callable[..., User]) -> None:  # noqa: F811
    auth.sign_in_as(make_user(Role.TRADER))
    assert client.get(f"/declarations/{trip.id}").status_code == 404
    assert client.get(f"/declarations/{trip.id}/map.geojson").status_code == 404


def test_the_map_needs_sign_in(client: FlaskClient, trip: Declaration) -> None:  # noqa: F811
    assert client.get(f"/declarations/{trip.id}/map.geojson").status_code in (302, 401)


def test_the_page_lists_the_timeline_in_order_with_who(
        client: FlaskClient, auth: Auth, db: Session, trip: Declaration,  # noqa: F811
        make_user: Callable[..., User]) -> None:
    trader = trader_of(make_user, trip, name="Bakyt Trader")
    [alert] = db.scalars(select(Alert).where(Alert.declaration_id == trip.id)).all()
    explain_alert(db, alert, trader, "Detour around road works", at=alert.opened_at.replace(second=59))
    auth.sign_in_as(trader)
    page = page_of(client, trip)
    texts = timeline_texts(page)
    sscc = trip.items[0].container.sscc
    expected = ["Declaration created", f"Departure scanned at {trip.origin.name}: container {sscc}",
                "First beacon position", "Alert opened: off route", "Alert explained: off route by Bakyt Trader",
                "Last beacon position (60 fixes in all)", f"Arrival scanned at {trip.destination.name}"]
    positions = [next(i for i, text in enumerate(texts) if want in text) for want in expected]
    assert positions == sorted(positions), texts
    assert "Detour around road works" in page
    # Times are shown in the user's zone (Asia/Bishkek, UTC+6).
    assert START.astimezone(ZoneInfo("Asia/Bishkek")).strftime("%Y-%m-%d %H:%M:%S") in page


def test_the_page_shows_facts_map_legend_custody_and_alerts(
        client: FlaskClient, auth: Auth, trip: Declaration, make_user: Callable[..., User]) -> None:  # noqa: F811
    auth.sign_in_as(make_user(Role.AUDITOR))
    page = page_of(client, trip)
    assert f'data-geojson-url="/declarations/{trip.id}/map.geojson"' in page
    assert 'id="declaration-map"' in page and "data-map " in page
    for words in ("Planned route", "Permitted corridor", "Beacon track", "Custody event (container scanned)"):
        assert words in page
    assert trip.items[0].container.sscc in page and "off route" in page
    assert 'id="custody-events"' in page and 'id="declaration-alerts"' in page
    assert "UN 2809 Mercury, class 8" in page


def test_the_page_in_russian(client: FlaskClient, auth: Auth, db: Session, trip: Declaration,  # noqa: F811
                             make_user: Callable[..., User]) -> None:
    trader = trader_of(make_user, trip)
    trader.language = "ru"
    db.flush()
    auth.sign_in_as(trader)
    page = page_of(client, trip)
    for words in ("Декларация", "Хронология", "Контейнеры", "Коридор", "Трек маяка", "Оповещения",
                  "Открыто оповещение", "Пломба цела", "Первая отметка маяка"):
        assert words in page, words
    assert "Timeline" not in page and "Beacon track" not in page
    [alert] = [f for f in map_of(client, trip)["features"] if f["properties"]["layer"] == "alert"]
    assert alert["properties"]["label"].startswith("Оповещение: ")


def test_the_map_div_carries_the_tile_url_only_when_configured(
        app: Flask, client: FlaskClient, auth: Auth, trip: Declaration,  # noqa: F811
        make_user: Callable[..., User]) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], map_tile_url="", map_tile_attribution="")
    assert "data-tiles" not in page_of(client, trip)
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], map_tile_url=TILES,
                                                 map_tile_attribution="© OpenStreetMap contributors")
    page = page_of(client, trip)
    assert f'data-tiles="{TILES}"' in page and 'data-attribution="© OpenStreetMap contributors"' in page


@pytest.fixture
def tiled_app(engine: Engine, sessions: sessionmaker[Session], tmp_path: Any) -> Iterator[Flask]:
    """The app configured with a tile server, as MAP_TILE_URL does."""
    app = create_app({"TESTING": True, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": secrets.token_hex(16),
                      "MAP_TILE_URL": TILES})
    app.extensions[EXTENSION_KEY] = sessions
    yield app
    app.extensions["tracker.engine"].dispose()


def test_with_a_tile_server_the_policy_allows_its_images_and_the_page_names_it(
        tiled_app: Flask, trip: Declaration, make_user: Callable[..., User]) -> None:  # noqa: F811
    client = tiled_app.test_client()
    Auth(client).sign_in_as(make_user(Role.AUDITOR))
    response = client.get(f"/declarations/{trip.id}")
    assert f'data-tiles="{TILES}"' in response.get_data(as_text=True)
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org" in response.headers["Content-Security-Policy"]


def test_leaflet_and_the_map_script_are_served_by_the_app_and_no_script_comes_from_elsewhere(
        client: FlaskClient, auth: Auth, trip: Declaration, make_user: Callable[..., User]) -> None:  # noqa: F811
    for path in ("/static/vendor/leaflet/leaflet.js", "/static/map.js"):
        response = client.get(path)
        assert response.status_code == 200 and "javascript" in response.mimetype, path
        response.close()
    css = client.get("/static/vendor/leaflet/leaflet.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()
    auth.sign_in_as(trader_of(make_user, trip))
    page = page_of(client, trip)
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    assert "/static/vendor/leaflet/leaflet.js" in sources and "/static/map.js" in sources
    assert all(src.startswith("/static/") for src in sources), sources
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page)  # no inline script
    assert 'style="' not in page and "onclick" not in page
    stylesheets = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', page)
    assert all(href.startswith("/static/") for href in stylesheets), stylesheets


def test_a_draft_without_route_says_where_the_map_will_come_from(
        client: FlaskClient, auth: Auth, make_declaration: Callable[..., Declaration],
        make_user: Callable[..., User]) -> None:
    draft = make_declaration(route=None)
    auth.sign_in_as(trader_of(make_user, draft))
    page = page_of(client, draft)
    assert "No route yet" in page and "data-map" not in page
    assert "Declaration created" in timeline_texts(page)[0]


def test_actions_appear_only_where_they_apply(
        app: Flask, client: FlaskClient, auth: Auth, make_declaration: Callable[..., Declaration],
        make_user: Callable[..., User]) -> None:
    submitted = make_declaration(status=DeclarationStatus.SUBMITTED)
    auth.sign_in_as(make_user(Role.AUDITOR))
    assert 'id="actions-title"' not in page_of(client, submitted)  # the auditor only reads
    auth.logout()
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    page = page_of(client, submitted)
    if "portal.decide" in app.view_functions:
        assert 'id="approve"' in page and 'id="reject"' in page
    else:
        assert 'id="approve"' not in page


def test_the_trader_finds_the_edit_link_on_a_draft_and_the_consignee_the_receipt_on_arrival(
        app: Flask, client: FlaskClient, auth: Auth, make_declaration: Callable[..., Declaration],
        make_user: Callable[..., User]) -> None:
    draft = make_declaration()
    auth.sign_in_as(trader_of(make_user, draft))
    page = page_of(client, draft)
    assert ('id="edit-declaration"' in page) == ("portal.edit_declaration" in app.view_functions)
    assert 'id="report-receipt"' not in page
    auth.logout()
    arrived = make_declaration(status=DeclarationStatus.ARRIVED)
    auth.sign_in_as(make_user(Role.TRADER, dealer=arrived.consignee))
    page = page_of(client, arrived)
    assert ('id="report-receipt"' in page) == ("portal.receipt" in app.view_functions)
    assert 'id="edit-declaration"' not in page


def test_the_report_of_receipt_with_a_shortage_closes_the_timeline(
        client: FlaskClient, auth: Auth, db: Session, trip: Declaration,  # noqa: F811
        make_user: Callable[..., User]) -> None:
    consignee = make_user(Role.TRADER, dealer=trip.consignee, name="Aigul Receiver")
    report_receipt(db, consignee, trip.id, ReceiptInput(
        [ReceivedContainer(trip.items[0].container.sscc, 33_650, True)], remarks="One flask light"))
    auth.sign_in_as(consignee)
    texts = timeline_texts(page_of(client, trip))
    *_, receipt, closed, shortage = texts
    assert "Report of receipt: 33.650 kg received of 34.500 kg declared by Aigul Receiver" in receipt
    assert "Shortage of 850 g" in receipt and "One flask light" in receipt
    assert "Declaration closed" in closed and "Alert opened: shortage on receipt" in shortage


def test_a_rejected_declaration_offers_its_trader_the_edit_link(
        client: FlaskClient, auth: Auth, make_declaration: Callable[..., Declaration],
        make_user: Callable[..., User]) -> None:
    rejected = make_declaration(status=DeclarationStatus.REJECTED)
    auth.sign_in_as(trader_of(make_user, rejected))
    assert 'id="edit-declaration"' in page_of(client, rejected)  # the domain lets it be edited again
