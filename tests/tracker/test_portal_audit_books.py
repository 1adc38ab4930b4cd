"""Audit pages on the books: mass balance with drill-down to the records, reconciliation, exports."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tracker.domain.audit.drilldown import FIGURES, breakdown
from tracker.domain.demo import load_demo
from tracker.domain.reconcile import KINDS
from tracker.domain.register import SaleInput, StockEntryInput, record_sale, record_stock_entry, today_kg
from tracker.models import Activity, DeclarationKind, DeclarationStatus, Role, User

pytestmark = pytest.mark.usefixtures("fast_passwords")


def day(n: int) -> date:
    """The day ``n`` days ago (Kyrgyz calendar)."""
    return today_kg() - timedelta(days=n)


@dataclass
class Books:
    combine: User
    trader: User
    start: date

    @property
    def period(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": today_kg().isoformat()}


@pytest.fixture
def books(db: Session, make_user: Any, make_dealer: Any, make_declaration: Any, make_container: Any,
          confirmed_sale: Any) -> Books:
    """A combine and a trader, the period starting ten days ago.

    Combine: 100 kg produced before the period; in it 50 kg produced, 30 kg sold to the trader,
    one 34.5 kg flask exported (arrived, so the flask is no longer held). It holds one 20 kg flask.
    Trader: 30 kg bought, 1 kg used; holds nothing.
    """
    combine = make_user("trader", dealer=make_dealer(
        activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE, Activity.EXPORT}))
    trader = make_user("trader", dealer=make_dealer(activities={Activity.DOMESTIC_TRADE, Activity.USE}))
    record_stock_entry(db, combine, StockEntryInput("production", 100_000, day(20), "Khaidarkan"))
    record_stock_entry(db, combine, StockEntryInput("production", 50_000, day(6), "Khaidarkan"))
    confirmed_sale(combine, SaleInput(combine.dealer_id, trader.dealer_id, 30_000, "Osh", day(5)))
    record_stock_entry(db, trader, StockEntryInput("use", 1_000, day(3), "Osh"))
    foreign = make_dealer(licensed=False, country="CN")
    arrived = datetime.combine(day(2), time(12), tzinfo=timezone.utc)
    export = make_declaration(declarant=combine.dealer, consignee=foreign, kind=DeclarationKind.EXPORT,
                              status=DeclarationStatus.ARRIVED, arrived_at=arrived)
    export.items[0].container.custodian_id = foreign.id  # handed over abroad
    make_container(owner=combine.dealer, net_g=20_000)
    db.flush()
    return Books(combine, trader, day(10))


#: The combine's balance over the period, by hand (grams).
COMBINE = {"opening": 100_000, "production": 50_000, "imports": 0, "purchases": 0, "sales": 30_000,
           "exports": 34_500, "use": 0, "closing": 85_500, "physical": 20_000, "difference": -65_500}
TRADER = {"opening": 0, "production": 0, "imports": 0, "purchases": 30_000, "sales": 0, "exports": 0,
          "use": 1_000, "closing": 29_000, "physical": 0, "difference": -29_000}


def _grams(page: str, attribute: str) -> int:
    match = re.search(rf'id="{attribute}" data-grams="(-?\d+)"', page)
    assert match, f"no {attribute} on the page"
    return int(match.group(1))


def _figure_links(page: str, row_id: str) -> dict[str, tuple[str, int]]:
    row = re.search(rf'<tr[^>]*id="{row_id}".*?</tr>', page, re.S)
    assert row, f"no row {row_id}"
    return {f: (unescape(href), int(g)) for href, f, g in re.findall(
        r'<a href="([^"]+)" data-figure="(\w+)" data-grams="(-?\d+)"', row.group(0))}


# ---------------------------------------------------------------- domain: drill-down
@pytest.mark.parametrize("figure", FIGURES)
def test_every_figure_is_the_sum_of_its_records(db: Session, books: Books, figure: str) -> None:
    for user, expected in ((books.combine, COMBINE), (books.trader, TRADER)):
        found = breakdown(db, figure, books.start, today_kg(), user.dealer)
        assert found.figure_g == expected[figure] == found.total_g


def test_national_figures_are_the_sum_of_their_records(db: Session, books: Books) -> None:
    for figure in FIGURES[:8]:
        found = breakdown(db, figure, books.start, today_kg())
        assert found.total_g == found.figure_g
    assert breakdown(db, "purchases", books.start, today_kg()).total_g == 30_000
    assert breakdown(db, "closing", books.start, today_kg()).total_g == 85_500 + 29_000
    with pytest.raises(ValueError):
        breakdown(db, "physical", books.start, today_kg())  # compared per dealer only


def test_the_records_of_a_figure_name_their_sources(db: Session, books: Books) -> None:
    opening = breakdown(db, "opening", books.start, today_kg(), books.combine.dealer)
    assert [(e.category, e.mass_g, e.source.place) for e in opening.entries] == [("production", 100_000, "Khaidarkan")]
    closing = breakdown(db, "closing", books.start, today_kg(), books.combine.dealer)
    assert sorted(e.mass_g for e in closing.entries) == [-34_500, -30_000, 50_000, 100_000]
    physical = breakdown(db, "physical", books.start, today_kg(), books.combine.dealer)
    assert [e.source.net_g for e in physical.entries] == [20_000]


# ---------------------------------------------------------------- balance page
def test_auditor_sees_every_figure_as_a_link_to_records_that_add_up(
        client: FlaskClient, auth: Any, db: Session, books: Books, make_user: Any) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    response = client.get("/audit/balance", query_string=books.period)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="balance-national"' in page and "/api/v1/exports/balance.csv?" in page
    assert 'href="/audit/exports' in page
    links = _figure_links(page, f"balance-{books.combine.dealer_id}")
    assert set(links) == set(FIGURES)
    for figure, (href, grams) in links.items():
        assert grams == COMBINE[figure]
        records = client.get(href)
        assert records.status_code == 200, href
        shown = records.get_data(as_text=True)
        assert _grams(shown, "figure-value") == _grams(shown, "records-sum") == grams
    national = _figure_links(page, "balance-national")
    assert "physical" not in national and national["closing"][1] == 85_500 + 29_000
    shown = client.get(national["sales"][0]).get_data(as_text=True)
    assert _grams(shown, "records-sum") == 30_000 and "Register entry #" in shown


def test_records_link_to_the_declaration_and_the_container(
        client: FlaskClient, auth: Any, db: Session, books: Books, make_user: Any) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    query = {**books.period, "dealer": books.combine.dealer_id}
    exports = client.get("/audit/records", query_string={**query, "figure": "exports"}).get_data(as_text=True)
    assert re.search(r'href="/declarations/\d+"', exports) and "34.500 kg" in exports
    physical = client.get("/audit/records", query_string={**query, "figure": "physical"}).get_data(as_text=True)
    assert re.search(r'href="/containers/\d{18}"', physical) and "20.000 kg" in physical


def test_trader_reads_only_their_own_dealer(client: FlaskClient, auth: Any, db: Session, books: Books) -> None:
    auth.sign_in_as(books.trader)
    page = client.get("/audit/balance", query_string=books.period).get_data(as_text=True)
    assert f'id="balance-{books.trader.dealer_id}"' in page and 'id="balance-national"' not in page
    assert books.combine.dealer.legal_name not in page and 'id="period-dealer"' not in page
    assert client.get("/audit/balance", query_string={"dealer": books.combine.dealer_id}).status_code == 404
    assert client.get("/audit/records", query_string={"dealer": books.combine.dealer_id,
                                                      "figure": "sales"}).status_code == 404
    own = client.get("/audit/records", query_string={**books.period, "figure": "purchases"})
    assert own.status_code == 200 and _grams(own.get_data(as_text=True), "records-sum") == 30_000
    assert client.get("/audit/reconciliation").status_code == 403
    exports = client.get("/audit/exports").get_data(as_text=True)
    assert f"dealer_id={books.trader.dealer_id}" in exports and "reconciliation.csv" not in exports
    assert client.get("/api/v1/exports/balance.csv", query_string={"dealer_id": books.combine.dealer_id}
                      ).status_code == 404


def test_unknown_figure_or_bad_period(client: FlaskClient, auth: Any, books: Books, make_user: Any) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    assert client.get("/audit/records", query_string={"figure": "nonsense"}).status_code == 404
    refused = client.get("/audit/balance", query_string={"from": "yesterday"})
    assert refused.status_code == 400 and "YYYY-MM-DD" in refused.get_data(as_text=True)


def test_auditor_pages_have_no_form_that_writes(
        client: FlaskClient, auth: Any, db: Session, books: Books, make_user: Any) -> None:
    load_demo(db)
    auth.sign_in_as(make_user(Role.AUDITOR))
    for path in ("/audit/balance", "/audit/reconciliation", "/audit/exports",
                 f"/audit/records?figure=closing&dealer={books.combine.dealer_id}"):
        page = client.get(path).get_data(as_text=True)
        main = page[page.index("<main"):page.index("</main>")]  # the layout's sign-out form is not the page's
        assert not re.search(r'<form[^>]*method="post"|<button[^>]*type="submit"[^>]*formmethod', main, re.I), path
        assert 'method="get"' in main or "records" in path


# ---------------------------------------------------------------- reconciliation
def test_reconciliation_lists_every_kind_from_the_demo_with_links(
        client: FlaskClient, auth: Any, db: Session, make_user: Any) -> None:
    load_demo(db)
    auth.sign_in_as(make_user(Role.AUDITOR))
    today = date.today()
    response = client.get("/audit/reconciliation", query_string={
        "from": (today - timedelta(days=400)).isoformat(), "to": today.isoformat()})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for kind in KINDS:
        count = re.search(rf'id="count-{kind}">(\d+)<', page)
        assert count and int(count.group(1)) > 0, kind
        section = re.search(rf'<section[^>]*id="{kind}".*?</section>', page, re.S)
        assert section and "<table" in section.group(0), kind
    assert re.search(r'href="/declarations/\d+"', page) and re.search(r'href="/containers/\d{18}"', page)
    assert "Customs record #" in page and re.search(r'href="/register\?dealer=\d+"', page)
    assert "/api/v1/exports/reconciliation.csv?" in page


@pytest.mark.parametrize("role", [Role.TRADER, Role.CUSTOMS_OFFICER])
def test_reconciliation_is_for_auditors_and_admins(client: FlaskClient, auth: Any, make_user: Any,
                                                   role: Role) -> None:
    auth.sign_in_as(make_user(role))
    assert client.get("/audit/reconciliation").status_code == 403
    auth.logout()
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    assert client.get("/audit/reconciliation").status_code == 200


# ---------------------------------------------------------------- exports
def test_exports_page_links_every_download(client: FlaskClient, auth: Any, books: Books, make_user: Any) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    page = unescape(client.get("/audit/exports", query_string={
        **books.period, "dealer": books.combine.dealer_id}).get_data(as_text=True))
    for path in ("custody-events.epcis.jsonld", "declarations.csv", "custody-events.csv", "alerts.csv",
                 "alerts.geojson", "transactions.csv", "balance.csv", "reconciliation.csv", "flows.csv",
                 "in-transit.csv"):
        assert f"/api/v1/exports/{path}" in page, path
    assert f"dealer_id={books.combine.dealer_id}" in page and f"from={books.start.isoformat()}" in page
    for href in re.findall(r'href="(/api/v1/exports/[^"]+)"', page):
        assert client.get(href).status_code == 200, href


def test_declaration_page_offers_its_downloads(client: FlaskClient, auth: Any, db: Session, make_user: Any,
                                               make_declaration: Any) -> None:
    trader = make_user(Role.TRADER)
    declaration = make_declaration(declarant=trader.dealer, status=DeclarationStatus.IN_TRANSIT)
    auth.sign_in_as(trader)
    page = unescape(client.get(f"/declarations/{declaration.id}").get_data(as_text=True))
    hrefs = re.findall(r'href="(/api/v1/exports/[^"]+)"', page)
    assert sorted(hrefs) == sorted([
        f"/api/v1/exports/declarations/{declaration.id}.geojson", f"/api/v1/exports/declarations/{declaration.id}.gpx",
        f"/api/v1/exports/declarations/{declaration.id}.kml",
        f"/api/v1/exports/declarations/{declaration.id}/positions.csv",
        f"/api/v1/exports/custody-events.epcis.jsonld?declaration_id={declaration.id}"])
    for href in hrefs:
        assert client.get(href).status_code == 200, href


# ---------------------------------------------------------------- Russian
def test_books_pages_speak_russian(client: FlaskClient, auth: Any, db: Session, books: Books,
                                   make_user: Any) -> None:
    load_demo(db)
    auditor = make_user(Role.AUDITOR)
    auditor.language = "ru"
    db.flush()
    auth.sign_in_as(auditor)
    balance = client.get("/audit/balance", query_string=books.period).get_data(as_text=True)
    assert "Баланс" in balance and "Остаток на начало" in balance and "Килограммы" in balance
    records = client.get("/audit/records", query_string={**books.period, "figure": "sales"}).get_data(as_text=True)
    assert "Сумма записей" in records
    reconciliation = client.get("/audit/reconciliation").get_data(as_text=True)
    assert "Сверка" in reconciliation and "Продажа без перемещения" in reconciliation
    exports = client.get("/audit/exports").get_data(as_text=True)
    assert "Выгрузки" in exports and "Реестр продаж" in exports
