"""The transaction register and the stock book: one test per rule."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.balance import book_stock
from tracker.domain.chain_verify import verify_chain
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.sale_answers import confirm_sale
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    correct_transaction,
    record_sale,
    record_stock_entry,
    today_kg,
)
from tracker.models import (
    Activity,
    DeclarationKind,
    DeclarationStatus,
    LicenseStatus,
    StockEntry,
    Transaction,
    TransactionKind,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

PRODUCER = {Activity.PRODUCTION, Activity.DOMESTIC_TRADE, Activity.EXPORT}


def days_ago(n: int) -> date:
    return today_kg() - timedelta(days=n)


@pytest.fixture
def producer(make_user, make_dealer):  # type: ignore[no-untyped-def]
    """A trader of a combine licensed to produce, holding 100 kg produced ten days ago."""
    def make(db: Session, mass_g: int = 100_000):  # type: ignore[no-untyped-def]
        trader = make_user("trader", dealer=make_dealer(activities=PRODUCER))
        record_stock_entry(db, trader, StockEntryInput("production", mass_g, days_ago(10), "Khaidarkan"))
        return trader
    return make


@pytest.fixture
def buyer(make_user):  # type: ignore[no-untyped-def]
    """A trader of a licensed dealer that buys."""
    return make_user("trader")


def sale(seller_id: int, buyer_id: int, mass_g: int, on: date | None = None, **kw: Any) -> SaleInput:
    return SaleInput(seller_id, buyer_id, mass_g, kw.pop("place", "Osh"), on or days_ago(5), **kw)


def test_sale_between_licensed_dealers_is_entered_in_the_chained_register(
        db: Session, producer, buyer) -> None:
    trader = producer(db)
    entry = record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 34_500))
    assert entry.kind == TransactionKind.SALE and entry.recorded_by_id == trader.id
    assert book_stock(db, trader.dealer_id) == 100_000 and book_stock(db, buyer.dealer_id) == 0  # awaits the buyer
    confirm_sale(db, buyer, entry)
    assert book_stock(db, trader.dealer_id) == 100_000 - 34_500 and book_stock(db, buyer.dealer_id) == 34_500
    assert verify_chain(db, Transaction).ok


def test_both_parties_must_be_licensed_for_domestic_trade_on_the_date(
        db: Session, producer, make_dealer) -> None:
    trader = producer(db)
    unlicensed = make_dealer(licensed=False)
    suspended = make_dealer()
    suspended.licenses[0].status = LicenseStatus.SUSPENDED
    db.flush()
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, sale(trader.dealer_id, unlicensed.id, 1_000))
    assert "no licence for domestic trade" in refused.value.errors["buyer_id"]
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, sale(trader.dealer_id, suspended.id, 1_000))
    assert set(refused.value.errors) == {"buyer_id"}
    before_licence = date(2025, 12, 31)
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, sale(trader.dealer_id, make_dealer().id, 1_000, on=before_licence))
    assert set(refused.value.errors) >= {"seller_id", "buyer_id"}


def test_seller_book_stock_may_not_go_below_zero(db: Session, producer, buyer) -> None:
    trader = producer(db, mass_g=34_500)
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 34_501))
    assert "book stock is 34500 g" in refused.value.errors["mass_g"]
    confirm_sale(db, buyer, record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 34_500)))
    assert book_stock(db, trader.dealer_id) == 0


def test_stock_is_counted_on_the_sale_date_not_only_today(db: Session, producer, make_dealer) -> None:
    trader = producer(db)  # produced ten days ago
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, sale(trader.dealer_id, make_dealer().id, 1_000, on=days_ago(20)))
    assert "book stock is 0 g" in refused.value.errors["mass_g"]


def test_back_dated_sale_may_not_take_any_later_day_below_zero(
        db: Session, producer, buyer, make_dealer) -> None:
    trader = producer(db, mass_g=34_500)          # produced ten days ago
    confirm_sale(db, buyer, record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 30_000, on=days_ago(3))))
    with pytest.raises(ValidationFailed) as refused:  # fine on day -8 alone, but day -3 would go negative
        record_sale(db, trader, sale(trader.dealer_id, make_dealer().id, 10_000, on=days_ago(8)))
    assert "book stock is 4500 g" in refused.value.errors["mass_g"]
    confirm_sale(db, buyer, record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 4_500, on=days_ago(8))))
    assert book_stock(db, trader.dealer_id) == 0


def test_sale_with_many_mistakes_reports_every_field_and_stores_nothing(db: Session, producer) -> None:
    trader = producer(db)
    future = today_kg() + timedelta(days=3)
    with pytest.raises(ValidationFailed) as refused:
        record_sale(db, trader, SaleInput(trader.dealer_id, trader.dealer_id, 0, " ", future, declaration_id=999_999))
    assert set(refused.value.errors) == {"mass_g", "place", "transaction_date", "buyer_id", "declaration_id"}
    assert db.scalars(select(Transaction)).all() == []


def test_trader_records_only_transactions_of_their_own_dealer(db: Session, producer, make_dealer) -> None:
    trader = producer(db)
    with pytest.raises(Forbidden):
        record_sale(db, trader, sale(make_dealer().id, make_dealer().id, 1_000))


def test_correction_is_a_reversal_plus_a_new_full_entry_both_referring_to_the_original(
        db: Session, producer, buyer) -> None:
    trader = producer(db)
    original = record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 34_500))
    confirm_sale(db, buyer, original)
    reversal, correction = correct_transaction(db, trader, original.id, "two flasks, not one", mass_g=69_000)
    assert (reversal.kind, reversal.mass_g, reversal.corrects_id) == (TransactionKind.REVERSAL, 34_500, original.id)
    assert (correction.kind, correction.mass_g, correction.corrects_id) == (
        TransactionKind.CORRECTION, 69_000, original.id)
    # The reversal withdraws the confirmed sale at once; the new figures wait for the buyer.
    assert book_stock(db, buyer.dealer_id) == 0 and book_stock(db, trader.dealer_id) == 100_000
    confirm_sale(db, buyer, correction)
    assert book_stock(db, buyer.dealer_id) == 69_000 and book_stock(db, trader.dealer_id) == 31_000
    assert db.get(Transaction, original.id).mass_g == 34_500  # the original is untouched
    assert verify_chain(db, Transaction).ok


def test_an_entry_is_reversed_once_and_a_reversal_is_not_corrected(db: Session, producer, buyer) -> None:
    trader = producer(db)
    original = record_sale(db, trader, sale(trader.dealer_id, buyer.dealer_id, 10_000))
    reversal, correction = correct_transaction(db, trader, original.id, "wrong place", place="Kadamjai")
    with pytest.raises(Conflict):
        correct_transaction(db, trader, original.id, "again", mass_g=5_000)
    with pytest.raises(Conflict):
        correct_transaction(db, trader, reversal.id, "undo the undo", mass_g=5_000)
    _, second = correct_transaction(db, trader, correction.id, "it was 5 kg", mass_g=5_000)
    confirm_sale(db, buyer, second)
    assert second.place == "Kadamjai" and book_stock(db, buyer.dealer_id) == 5_000


def test_correction_may_not_take_the_seller_below_zero(db: Session, producer, make_dealer) -> None:
    trader, buyer = producer(db), make_dealer()
    original = record_sale(db, trader, sale(trader.dealer_id, buyer.id, 50_000))
    with pytest.raises(ValidationFailed) as refused:
        correct_transaction(db, trader, original.id, "typo", mass_g=150_000)
    assert "mass_g" in refused.value.errors


def test_production_enters_mercury_into_the_books_only_under_a_production_licence(
        db: Session, make_user, make_dealer) -> None:
    combine = make_user("trader", dealer=make_dealer(activities=PRODUCER))
    entry = record_stock_entry(db, combine, StockEntryInput("production", 345_000, days_ago(1), "Khaidarkan"))
    assert book_stock(db, combine.dealer_id) == 345_000 and verify_chain(db, StockEntry).ok
    shop = make_user("trader")
    with pytest.raises(ValidationFailed) as refused:
        record_stock_entry(db, shop, StockEntryInput("production", 1_000, days_ago(1), "Osh"))
    assert "no licence for production" in refused.value.errors["kind"]
    assert db.scalars(select(StockEntry)).all() == [entry]


def test_declared_use_leaves_the_books_and_needs_book_stock(db: Session, make_user, make_dealer) -> None:
    lab = make_user("trader", dealer=make_dealer(activities={Activity.USE, Activity.PRODUCTION}))
    record_stock_entry(db, lab, StockEntryInput("production", 2_000, days_ago(3), "Bishkek"))
    record_stock_entry(db, lab, StockEntryInput("use", 1_500, days_ago(2), "Bishkek", "dental amalgam"))
    assert book_stock(db, lab.dealer_id) == 500
    with pytest.raises(ValidationFailed) as refused:
        record_stock_entry(db, lab, StockEntryInput("use", 600, days_ago(1), "Bishkek"))
    assert "book stock is 500 g" in refused.value.errors["mass_g"]


def test_book_stock_counts_arrived_imports_at_received_mass_and_exports_at_declared_mass(
        db: Session, make_declaration, make_dealer) -> None:
    importer, exporter = make_dealer(), make_dealer()
    foreign = make_dealer(licensed=False, country="CN")
    arrived = datetime.now(timezone.utc) - timedelta(days=2)
    imported = make_declaration(declarant=importer, consignor=foreign, consignee=importer,
                                kind=DeclarationKind.IMPORT, status=DeclarationStatus.CLOSED, arrived_at=arrived)
    imported.items[0].received_net_g = 34_450
    make_declaration(declarant=exporter, consignee=foreign, kind=DeclarationKind.EXPORT,
                     status=DeclarationStatus.ARRIVED, arrived_at=arrived)
    make_declaration(declarant=exporter, consignee=foreign, kind=DeclarationKind.EXPORT,
                     status=DeclarationStatus.IN_TRANSIT)  # not across yet
    db.flush()
    assert book_stock(db, importer.id) == 34_450
    assert book_stock(db, exporter.id) == -34_500
