"""Mass balance per dealer and national: opening + production + imports + purchases − sales − exports − use."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tracker.domain.balance import balances, dealer_balance
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    correct_transaction,
    record_sale,
    record_stock_entry,
    today_kg,
)
from tracker.domain.sale_answers import confirm_sale, dispute_sale
from tracker.models import Activity, DeclarationKind, DeclarationStatus, Dealer, User

pytestmark = pytest.mark.usefixtures("fast_passwords")


def day(n: int) -> date:
    """The day ``n`` days ago (Kyrgyz calendar)."""
    return today_kg() - timedelta(days=n)


@dataclass
class Books:
    combine: User
    trader: User
    start: date


@pytest.fixture
def books(db: Session, make_user, make_dealer, make_declaration, confirmed_sale) -> Books:
    """A combine and a trader with every kind of record, the period starting ten days ago.

    Combine: 100 kg produced before the period; in it 50 kg produced, 30 kg sold to the trader,
    one 34.5 kg flask exported. Trader: 30 kg bought, 1 kg used.
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
    make_declaration(declarant=combine.dealer, consignee=foreign, kind=DeclarationKind.EXPORT,
                     status=DeclarationStatus.ARRIVED, arrived_at=arrived)
    return Books(combine, trader, day(10))


def test_dealer_balance_adds_up_from_the_records(db: Session, books: Books) -> None:
    balance = dealer_balance(db, books.combine.dealer, books.start, today_kg())
    assert balance.opening_g == 100_000
    assert balance.flows == {"production": 50_000, "imports": 0, "purchases": 0, "sales": 30_000,
                             "exports": 34_500, "use": 0}
    assert balance.closing_g == 100_000 + 50_000 - 30_000 - 34_500
    trader = dealer_balance(db, books.trader.dealer, books.start, today_kg())
    assert (trader.flows["purchases"], trader.flows["use"], trader.closing_g) == (30_000, 1_000, 29_000)


def test_national_total_is_production_plus_imports_minus_exports_and_use(db: Session, books: Books) -> None:
    *dealers, national = balances(db, books.start, today_kg())
    assert {b.dealer_id for b in dealers} >= {books.combine.dealer_id, books.trader.dealer_id}
    assert national.dealer_id is None and national.flows["purchases"] == national.flows["sales"]
    assert national.closing_g == sum(b.closing_g for b in dealers)
    assert national.closing_g == (national.opening_g + national.flows["production"] + national.flows["imports"]
                                  - national.flows["exports"] - national.flows["use"])


def test_records_before_the_period_make_the_opening_stock(db: Session, books: Books) -> None:
    balance = dealer_balance(db, books.trader.dealer, day(4), today_kg())
    assert balance.opening_g == 30_000 and balance.flows["purchases"] == 0 and balance.closing_g == 29_000


def test_reversed_sale_counts_for_nothing_and_the_correction_counts(db: Session, books: Books) -> None:
    sale = record_sale(db, books.combine, SaleInput(books.combine.dealer_id, books.trader.dealer_id,
                                                    10_000, "Osh", day(1)))
    confirm_sale(db, books.trader, sale)
    _, correction = correct_transaction(db, books.combine, sale.id, "it was 12 kg", mass_g=12_000)
    balance = dealer_balance(db, books.trader.dealer, books.start, today_kg())
    assert balance.flows["purchases"] == 30_000 + 10_000 - 10_000  # withdrawn; the correction awaits the buyer
    confirm_sale(db, books.trader, correction)
    balance = dealer_balance(db, books.trader.dealer, books.start, today_kg())
    assert balance.flows["purchases"] == 30_000 + 12_000


def test_pending_and_disputed_sales_count_in_neither_balance(db: Session, books: Books) -> None:
    pending = record_sale(db, books.combine, SaleInput(books.combine.dealer_id, books.trader.dealer_id,
                                                       5_000, "Osh", day(1)))
    disputed = record_sale(db, books.combine, SaleInput(books.combine.dealer_id, books.trader.dealer_id,
                                                        7_000, "Osh", day(1)))
    dispute_sale(db, books.trader, disputed, "never delivered")
    combine = dealer_balance(db, books.combine.dealer, books.start, today_kg())
    trader = dealer_balance(db, books.trader.dealer, books.start, today_kg())
    assert (combine.flows["sales"], trader.flows["purchases"]) == (30_000, 30_000)
    national = balances(db, books.start, today_kg())[-1]
    assert (national.flows["sales"], national.flows["purchases"]) == (30_000, 30_000)
    confirm_sale(db, books.trader, pending)
    assert dealer_balance(db, books.trader.dealer, books.start, today_kg()).flows["purchases"] == 35_000


def test_negative_stock_is_flagged(db: Session, make_dealer, make_declaration) -> None:
    exporter = make_dealer()
    make_declaration(declarant=exporter, consignee=make_dealer(licensed=False, country="UZ"),
                     kind=DeclarationKind.EXPORT, status=DeclarationStatus.CLOSED,
                     arrived_at=datetime.now(timezone.utc) - timedelta(days=1))
    balance = dealer_balance(db, exporter, day(10), today_kg())
    assert balance.closing_g == -34_500 and "negative_stock" in balance.flags


def test_containers_held_beyond_the_books_are_flagged_as_unexplained(
        db: Session, make_user, make_dealer, make_container) -> None:
    combine = make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))
    make_container(owner=combine.dealer)  # a full 34.5 kg flask the books know nothing of
    assert "unexplained_stock" in dealer_balance(db, combine.dealer, day(10), today_kg()).flags
    record_stock_entry(db, combine, StockEntryInput("production", 34_500, day(1), "Khaidarkan"))
    balance = dealer_balance(db, combine.dealer, day(10), today_kg())
    assert balance.flags == [] and balance.physical_g == balance.closing_g == 34_500


def test_balance_report_command_writes_csv(app: Flask, db: Session, books: Books, tmp_path: Path) -> None:
    db.commit()
    out = tmp_path / "balance.csv"
    result = app.test_cli_runner().invoke(args=[
        "report", "balance", "--from", books.start.isoformat(), "--to", today_kg().isoformat(),
        "--dealer", db.get(Dealer, books.combine.dealer_id).taxpayer_number, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and rows[0]["closing_g"] == str(85_500) and rows[0]["exports_g"] == "34500"


def test_stock_is_judged_at_the_end_of_each_day(db: Session, make_user, make_dealer, make_declaration) -> None:
    combine = make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.EXPORT}))
    record_stock_entry(db, combine, StockEntryInput("production", 34_500, day(2), "Khaidarkan"))
    make_declaration(declarant=combine.dealer, consignee=make_dealer(licensed=False, country="CN"),
                     kind=DeclarationKind.EXPORT, status=DeclarationStatus.ARRIVED,
                     arrived_at=datetime.combine(day(2), time(12), tzinfo=timezone.utc))
    balance = dealer_balance(db, combine.dealer, day(5), today_kg())
    assert balance.closing_g == 0 and "negative_stock" not in balance.flags  # produced and exported that day
