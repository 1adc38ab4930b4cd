"""The auditor's Flows page: figures against hand-computed values, filters, drill-down, access, Russian."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tracker.models import (
    CheckpointKind,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def shipped(db: Session, make_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Any],
            make_dealer: Callable[..., Any], make_container: Callable[..., Any]) -> dict[str, Any]:
    """Three departed declarations and a draft, by hand:

    d1 domestic Osh → Bishkek, 3 March, 2 flasks (69.000 kg), closed, received 34.500 + 34.400 = 68.900 kg
    d2 export Osh → Ak-Jol (border), 20 April, 1 flask (34.500 kg), in transit
    d3 import Torugart (border) → Bishkek, 28 March, 1 flask (34.500 kg), from a Chinese consignor to the buyer
    a draft Osh → Bishkek (not counted: it has not departed)
    """
    osh = make_checkpoint(code="OSH", name="Osh customs post", lat=40.53, lon=72.80)
    bishkek = make_checkpoint(code="BISHKEK", name="Bishkek customs post", lat=42.87, lon=74.59)
    akjol = make_checkpoint(code="AKJOL", name="Ak-Jol", kind=CheckpointKind.BORDER_CROSSING, lat=43.11, lon=73.62)
    torugart = make_checkpoint(code="TORUGART", name="Torugart", kind=CheckpointKind.BORDER_CROSSING,
                               lat=40.56, lon=75.39)
    seller, buyer, chinese = make_dealer(legal_name="Seller LLC"), make_dealer(legal_name="Buyer LLC"), \
        make_dealer(legal_name="Sino Metals", country="CN")

    def declare(kind: DeclarationKind, origin: Any, destination: Any, departed: datetime | None, flasks: int = 1,
                status: DeclarationStatus = DeclarationStatus.IN_TRANSIT, crossings: tuple[Any, ...] = (),
                **kw: Any) -> Declaration:
        kw.setdefault("declarant", seller)
        kw.setdefault("consignee", buyer)
        d = make_declaration(kind=kind, origin=origin, destination=destination, status=status, departed_at=departed,
                             **kw)
        for _ in range(flasks - 1):
            d.items.append(DeclarationItem(container=make_container(owner=d.declarant), declared_net_g=34_500))
        d.expected_checkpoints = [ExpectedCheckpoint(seq=i, checkpoint=c) for i, c in enumerate(crossings)]
        db.flush()
        return d

    d1 = declare(DeclarationKind.DOMESTIC, osh, bishkek, day(3, 3), 2, DeclarationStatus.CLOSED)
    d1.items[0].received_net_g, d1.items[1].received_net_g = 34_500, 34_400
    d2 = declare(DeclarationKind.EXPORT, osh, akjol, day(4, 20), crossings=(akjol,))
    d3 = declare(DeclarationKind.IMPORT, torugart, bishkek, day(3, 28), crossings=(torugart,), declarant=buyer,
                 consignor=chinese)
    draft = declare(DeclarationKind.DOMESTIC, osh, bishkek, None, status=DeclarationStatus.DRAFT)
    db.flush()
    return dict(d1=d1, d2=d2, d3=d3, draft=draft, osh=osh, bishkek=bishkek, akjol=akjol, torugart=torugart,
                seller=seller, buyer=buyer, chinese=chinese)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))).strip()


def table(page: str, group: str) -> dict[str, list[str]]:
    """The rows of one flow table: key → the text of each cell."""
    match = re.search(rf'<table class="stack flows-table" id="flows-{group}">(.*?)</table>', page, re.S)
    if match is None:
        return {}
    return {key: [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for key, row in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', match.group(1), re.S)}


def figures(page: str, group: str) -> dict[str, tuple[str, ...]]:
    """Declarations, declared and received (and, for crossings, seen there) of each row, without its name."""
    return {key: tuple(cells[1:]) for key, cells in table(page, group).items()}


def totals(page: str) -> tuple[str, str, str]:
    found = dict(re.findall(r'<dd data-total="(\w+)">(.*?)</dd>', page))
    return found["declarations"], found["declared"], found["received"]


def flows_page(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/audit/flows{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def auditor(make_user: Callable[..., Any], auth: Any) -> Any:
    user = make_user("auditor")
    auth.sign_in_as(user)
    return user


def test_every_table_shows_the_hand_computed_kilograms(client: FlaskClient, shipped: dict[str, Any],
                                                      auditor: Any) -> None:
    s = shipped
    page = flows_page(client)

    assert totals(page) == ("3", "138.000 kg", "68.900 kg")
    assert figures(page, "route") == {
        f"{s['osh'].id}-{s['bishkek'].id}": ("1", "69.000 kg", "68.900 kg"),
        f"{s['osh'].id}-{s['akjol'].id}": ("1", "34.500 kg", "0.000 kg"),
        f"{s['torugart'].id}-{s['bishkek'].id}": ("1", "34.500 kg", "0.000 kg")}
    assert figures(page, "crossing") == {
        f"{s['akjol'].id}:export": ("1", "34.500 kg", "0.000 kg", "0", "0.000 kg"),
        f"{s['torugart'].id}:import": ("1", "34.500 kg", "0.000 kg", "0", "0.000 kg")}
    assert figures(page, "dealer") == {
        f"{s['buyer'].id}:consignee": ("3", "138.000 kg", "68.900 kg"),
        f"{s['seller'].id}:consignor": ("2", "103.500 kg", "68.900 kg"),
        f"{s['chinese'].id}:consignor": ("1", "34.500 kg", "0.000 kg")}
    assert figures(page, "month") == {"2026-03": ("2", "103.500 kg", "68.900 kg"),
                                      "2026-04": ("1", "34.500 kg", "0.000 kg")}
    assert table(page, "route")[f"{s['osh'].id}-{s['bishkek'].id}"][0] == \
        "Osh customs post (OSH) → Bishkek customs post (BISHKEK)"
    assert table(page, "crossing")[f"{s['torugart'].id}:import"][0] == "Torugart (TORUGART) — entering (import)"
    assert table(page, "dealer")[f"{s['chinese'].id}:consignor"][0] == "Sino Metals (CN) — as consignor"
    assert table(page, "month")["2026-03"][0] == "March 2026"


def test_filters_change_the_figures(client: FlaskClient, shipped: dict[str, Any], auditor: Any) -> None:
    s = shipped
    april = flows_page(client, "?from=2026-04-01&to=2026-04-30")
    assert totals(april) == ("1", "34.500 kg", "0.000 kg")
    assert figures(april, "month") == {"2026-04": ("1", "34.500 kg", "0.000 kg")}
    assert 'value="2026-04-01"' in april

    imports = flows_page(client, "?kind=import")
    assert totals(imports) == ("1", "34.500 kg", "0.000 kg")
    assert list(figures(imports, "route")) == [f"{s['torugart'].id}-{s['bishkek'].id}"]
    assert '<option value="import" selected>' in imports

    seller = flows_page(client, f"?dealer_id={s['seller'].id}")
    assert totals(seller) == ("2", "103.500 kg", "68.900 kg")
    assert figures(seller, "month") == {"2026-03": ("1", "69.000 kg", "68.900 kg"),
                                        "2026-04": ("1", "34.500 kg", "0.000 kg")}


def test_a_bad_filter_is_named_beside_its_field_and_left_out(client: FlaskClient, shipped: dict[str, Any],
                                                              auditor: Any) -> None:
    response = client.get("/audit/flows?from=2026-05-01&to=2026-04-01&kind=smuggling")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'for="flows-to".*?class="field-error">The period ends before it starts\.', page, re.S)
    assert re.search(r'for="flows-kind".*?class="field-error">Choose a kind from the list\.', page, re.S)
    assert totals(page) == ("0", "0.000 kg", "0.000 kg")          # from 1 May on: nothing departed


def test_each_figure_opens_exactly_the_declarations_behind_it(client: FlaskClient, shipped: dict[str, Any],
                                                             auditor: Any) -> None:
    s = shipped
    page = flows_page(client, "?kind=domestic")
    cells = re.search(rf'<tr data-key="{s["osh"].id}-{s["bishkek"].id}">(.*?)</tr>', page, re.S)
    assert cells is not None
    links = set(re.findall(r'href="([^"]+)" data-figure', cells.group(1)))
    assert len(links) == 1
    records = client.get(html.unescape(links.pop()))
    body = records.get_data(as_text=True)
    assert records.status_code == 200
    assert re.findall(r'<tr data-declaration="(\d+)">', body) == [str(s["d1"].id)]
    assert '<dd data-figure="declared">69.000 kg</dd>' in body and "68.900 kg" in body

    def behind(group: str, key: str) -> list[int]:
        found = client.get("/audit/flows/records", query_string={"group": group, "key": key}).get_data(as_text=True)
        return [int(i) for i in re.findall(r'<tr data-declaration="(\d+)">', found)]

    assert behind("month", "2026-03") == [s["d1"].id, s["d3"].id]
    assert behind("dealer", f"{s['buyer'].id}:consignee") == [s["d1"].id, s["d3"].id, s["d2"].id]
    assert behind("crossing", f"{s['akjol'].id}:export") == [s["d2"].id]
    assert s["draft"].id not in behind("route", f"{s['osh'].id}-{s['bishkek'].id}")
    assert client.get("/audit/flows/records?group=route&key=nonsense").status_code == 404


def test_csv_links_carry_the_group_and_the_filters(client: FlaskClient, shipped: dict[str, Any],
                                                   auditor: Any) -> None:
    page = flows_page(client, "?from=2026-03-01&kind=export")
    found = re.search(r'id="flows-crossing-csv" href="([^"]+)"', page)
    assert found is not None
    link = html.unescape(found.group(1))
    assert link.startswith("/api/v1/exports/flows.csv?") and "group=crossing" in link
    assert "from=2026-03-01" in link and "kind=export" in link
    response = client.get(link)
    assert response.status_code == 200 and "AKJOL" in response.get_data(as_text=True)


def test_the_flow_map_draws_lines_as_wide_as_their_mass_and_crossings_in_and_out(
        client: FlaskClient, shipped: dict[str, Any], auditor: Any) -> None:
    s = shipped
    page = flows_page(client)
    data = json.loads(html.unescape(re.search(  # type: ignore[union-attr]
        r'<script type="application/json" id="flows-geojson">(.*?)</script>', page, re.S).group(1)))
    lines = {f["properties"]["key"]: f for f in data["features"] if f["properties"]["layer"] == "flow"}
    heavy, light = lines[f"{s['osh'].id}-{s['bishkek'].id}"], lines[f"{s['osh'].id}-{s['akjol'].id}"]
    assert heavy["geometry"]["coordinates"] == [[72.80, 40.53], [74.59, 42.87]]
    assert heavy["properties"]["weight"] == 14.0 and light["properties"]["weight"] == 8.0   # 2 + 12 × half
    crossings = {f["properties"]["code"]: f["properties"] for f in data["features"]
                 if f["properties"]["layer"] == "crossing"}
    assert crossings["AKJOL"]["text"] == ["In: 0.000 kg", "Out: 34.500 kg"]
    assert crossings["TORUGART"]["text"] == ["In: 34.500 kg", "Out: 0.000 kg"]
    assert crossings["AKJOL"]["link_text"] == "Declarations leaving"
    assert crossings["AKJOL"]["url"] == f"/audit/flows/records?group=crossing&key={s['akjol'].id}:export"
    assert 'src="/static/map.js"' in page


def test_the_auditor_sees_no_form_that_writes(client: FlaskClient, shipped: dict[str, Any], auditor: Any) -> None:
    for path in ("/audit/flows", "/audit/flows/records?group=month&key=2026-03"):
        page = client.get(path).get_data(as_text=True)
        posts = re.findall(r'<form method="post" action="([^"]+)"', page)
        assert set(posts) <= {"/preferences/language", "/logout"}, posts
    assert client.post("/audit/flows").status_code in (400, 405)


@pytest.mark.parametrize("role", ["trader", "customs_officer"])
def test_other_roles_get_403(client: FlaskClient, auth: Any, shipped: dict[str, Any], make_user: Callable[..., Any],
                             role: str) -> None:
    kw = {"dealer": shipped["seller"]} if role == "trader" else {}
    auth.sign_in_as(make_user(role, **kw))
    assert client.get("/audit/flows").status_code == 403
    assert client.get("/audit/flows/records?group=month&key=2026-03").status_code == 403


def test_an_admin_reads_the_flows_too(client: FlaskClient, auth: Any, shipped: dict[str, Any],
                                      make_user: Callable[..., Any]) -> None:
    auth.sign_in_as(make_user("licensing_admin"))
    assert totals(flows_page(client)) == ("3", "138.000 kg", "68.900 kg")


def test_empty_tables_say_how_figures_appear(client: FlaskClient, auditor: Any) -> None:
    page = flows_page(client, "?from=2031-01-01")
    assert "No declarations departed with these filters" in page
    assert "Nothing has moved in this period" in page


def test_the_flows_page_speaks_russian(client: FlaskClient, auth: Any, shipped: dict[str, Any], auditor: Any) -> None:
    auth.post_form("/preferences/language", {"language": "ru", "next": "/"}, form_page="/")
    page = flows_page(client)
    assert "Движение ртути" in page and "По месяцам отправления" in page
    assert totals(page) == ("3", "138,000 кг", "68,900 кг")
    assert "Скачать CSV" in page
    assert table(page, "month")["2026-04"][0] == "апрель 2026"
    assert table(page, "crossing")[f"{shipped['akjol'].id}:export"][0] == "Ak-Jol (AKJOL) — вывоз (экспорт)"
