"""Sales between dealers: only the seller enters one, the buyer confirms or disputes it, and until
confirmed it counts in neither book. Through the domain, the API and the portal, as seller, buyer,
a third dealer, an officer and an auditor."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.balance import book_stock, dealer_balance
from tracker.domain.chain_verify import verify_chains
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.reconcile import DISPUTED_SALE, TRANSACTION_WITHOUT_MOVEMENT, reconcile
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    correct_transaction,
    record_sale,
    record_stock_entry,
    today_kg,
)
from tracker.domain.sale_answers import confirm_sale, dispute_sale
from tracker.domain.sale_state import state_of
from tracker.models import Activity, Role, SaleAnswer, SaleState, Transaction, User

pytestmark = pytest.mark.usefixtures("fast_passwords")

TRADING = {Activity.PRODUCTION, Activity.DOMESTIC_TRADE}


def days_ago(n: int) -> date:
    return today_kg() - timedelta(days=n)


@dataclass
class Parties:
    seller: User
    buyer: User
    stranger: User
    officer: User
    auditor: User

    def of(self, who: str) -> User:
        return getattr(self, who)


@pytest.fixture
def parties(db: Session, make_user, make_dealer) -> Parties:  # type: ignore[no-untyped-def]
    """A producing seller holding 100 kg since ten days ago, its buyer, a third dealer, an officer, an auditor."""
    seller = make_user("trader", dealer=make_dealer(activities=TRADING))
    record_stock_entry(db, seller, StockEntryInput("production", 100_000, days_ago(10), "Khaidarkan"))
    stranger = make_user("trader", dealer=make_dealer(activities=TRADING))
    record_stock_entry(db, stranger, StockEntryInput("production", 50_000, days_ago(10), "Kadamjai"))
    return Parties(seller, make_user("trader"), stranger, make_user(Role.CUSTOMS_OFFICER), make_user(Role.AUDITOR))


def sale_of(p: Parties, mass_g: int = 34_500, on: date | None = None) -> SaleInput:
    return SaleInput(p.seller.dealer_id, p.buyer.dealer_id, mass_g, "Osh", on or days_ago(5))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the domain
@pytest.mark.parametrize("who, refused", [
    ("seller", None), ("buyer", Forbidden), ("stranger", Forbidden), ("officer", Forbidden), ("auditor", Forbidden)])
def test_only_a_trader_of_the_seller_enters_a_sale(db: Session, parties: Parties, who: str, refused: Any) -> None:
    if refused is None:
        entry = record_sale(db, parties.of(who), sale_of(parties))
        assert state_of(db, entry) == SaleState.PENDING
        return
    with pytest.raises(refused) as error:
        record_sale(db, parties.of(who), sale_of(parties))
    assert "seller" in str(error.value) or "trader" in str(error.value)
    assert db.scalars(select(Transaction)).all() == []


@pytest.mark.parametrize("who, refused", [
    ("seller", None), ("buyer", Forbidden), ("stranger", NotFound), ("officer", Forbidden), ("auditor", Forbidden)])
def test_only_the_seller_corrects_a_sale(db: Session, parties: Parties, who: str, refused: Any) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    if refused is None:
        _, correction = correct_transaction(db, parties.of(who), entry.id, "two flasks", mass_g=69_000)
        assert state_of(db, correction) == SaleState.PENDING
        return
    with pytest.raises(refused):
        correct_transaction(db, parties.of(who), entry.id, "it was less", mass_g=1_000)
    assert len(db.scalars(select(Transaction)).all()) == 1


@pytest.mark.parametrize("who, refused", [
    ("buyer", None), ("seller", Forbidden), ("stranger", Forbidden), ("officer", Forbidden), ("auditor", Forbidden)])
@pytest.mark.parametrize("answer", ["confirm", "dispute"])
def test_only_a_trader_of_the_buyer_answers_a_sale(db: Session, parties: Parties, who: str, refused: Any,
                                                   answer: str) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    act = (lambda user: confirm_sale(db, user, entry)) if answer == "confirm" else (
        lambda user: dispute_sale(db, user, entry, "not what we agreed"))
    if refused is None:
        act(parties.of(who))
        assert state_of(db, entry) == (SaleState.CONFIRMED if answer == "confirm" else SaleState.DISPUTED)
        return
    with pytest.raises(refused):
        act(parties.of(who))
    assert state_of(db, entry) == SaleState.PENDING and db.scalars(select(SaleAnswer)).all() == []


def test_a_stranger_cannot_empty_another_dealers_book_and_block_its_real_sales(
        db: Session, parties: Parties) -> None:
    # The attack of issue 14: a "sale" of all the seller's stock, entered by another dealer's trader.
    forged = SaleInput(parties.seller.dealer_id, parties.stranger.dealer_id, 100_000, "Osh", days_ago(1))  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        record_sale(db, parties.stranger, forged)
    assert book_stock(db, parties.seller.dealer_id) == 100_000
    # Nor can a buyer fill its own book by "buying" from someone who never sold.
    with pytest.raises(Forbidden):
        record_sale(db, parties.buyer, sale_of(parties, 100_000))
    real = record_sale(db, parties.seller, sale_of(parties, 100_000))
    confirm_sale(db, parties.buyer, real)
    assert book_stock(db, parties.seller.dealer_id) == 0 and book_stock(db, parties.buyer.dealer_id) == 100_000


def test_pending_and_disputed_sales_count_in_neither_book(db: Session, parties: Parties) -> None:
    pending = record_sale(db, parties.seller, sale_of(parties, 30_000))
    disputed = record_sale(db, parties.seller, sale_of(parties, 20_000))
    dispute_sale(db, parties.buyer, disputed, "we received 10 kg, not 20 kg")
    assert book_stock(db, parties.seller.dealer_id) == 100_000 and book_stock(db, parties.buyer.dealer_id) == 0
    books = dealer_balance(db, parties.buyer.dealer, days_ago(30), today_kg())
    assert books.flows["purchases"] == 0 and books.closing_g == 0
    with pytest.raises(ValidationFailed) as refused:  # the buyer cannot sell what it has not confirmed
        record_sale(db, parties.buyer, SaleInput(parties.buyer.dealer_id, parties.stranger.dealer_id,  # type: ignore[arg-type]
                                                 1_000, "Osh", today_kg()))
    assert "book stock is 0 g" in refused.value.errors["mass_g"]
    confirm_sale(db, parties.buyer, pending)
    assert book_stock(db, parties.seller.dealer_id) == 70_000 and book_stock(db, parties.buyer.dealer_id) == 30_000


def test_confirming_checks_the_sellers_stock_again(db: Session, parties: Parties) -> None:
    first = record_sale(db, parties.seller, sale_of(parties, 60_000))
    second = record_sale(db, parties.seller, sale_of(parties, 60_000))  # pending sales reserve nothing
    confirm_sale(db, parties.buyer, first)
    with pytest.raises(Conflict) as refused:
        confirm_sale(db, parties.buyer, second)
    assert "book stock is 40000 g" in str(refused.value)
    assert state_of(db, second) == SaleState.PENDING and book_stock(db, parties.seller.dealer_id) == 40_000


def test_confirmed_is_final_and_a_disputed_sale_may_still_be_confirmed(db: Session, parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    with pytest.raises(ValidationFailed) as refused:
        dispute_sale(db, parties.buyer, entry, "   ")
    assert set(refused.value.errors) == {"reason"}
    dispute_sale(db, parties.buyer, entry, "the flask had no seal")
    with pytest.raises(Conflict):
        dispute_sale(db, parties.buyer, entry, "again")
    confirm_sale(db, parties.buyer, entry)  # resealed in front of both parties
    for answer in (lambda: confirm_sale(db, parties.buyer, entry),
                   lambda: dispute_sale(db, parties.buyer, entry, "too late")):
        with pytest.raises(Conflict):
            answer()
    assert state_of(db, entry) == SaleState.CONFIRMED


def test_a_correction_of_a_confirmed_sale_waits_for_the_buyer_again(db: Session, parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties, 34_500))
    confirm_sale(db, parties.buyer, entry)
    reversal, correction = correct_transaction(db, parties.seller, entry.id, "two flasks", mass_g=69_000)
    assert state_of(db, reversal) is None and state_of(db, correction) == SaleState.PENDING
    assert book_stock(db, parties.buyer.dealer_id) == 0  # the original is withdrawn at once
    with pytest.raises(Conflict):  # the corrected original is no longer answered
        dispute_sale(db, parties.buyer, entry, "changed my mind")
    confirm_sale(db, parties.buyer, correction)
    assert book_stock(db, parties.buyer.dealer_id) == 69_000 and book_stock(db, parties.seller.dealer_id) == 31_000


def test_a_correction_may_not_change_the_seller(db: Session, parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    with pytest.raises(ValidationFailed) as refused:
        correct_transaction(db, parties.seller, entry.id, "other seller", seller_id=parties.stranger.dealer_id)
    assert set(refused.value.errors) == {"seller_id"}


def test_answers_are_chained_evidence_and_every_chain_verifies(db: Session, parties: Parties) -> None:
    confirm_sale(db, parties.buyer, record_sale(db, parties.seller, sale_of(parties, 1_000)))
    dispute_sale(db, parties.buyer, record_sale(db, parties.seller, sale_of(parties, 2_000)), "never arrived")
    answers = db.scalars(select(SaleAnswer).order_by(SaleAnswer.id)).all()
    assert [a.answer for a in answers] == ["confirmed", "disputed"] and answers[1].prev_hash == answers[0].row_hash
    reports = verify_chains(db)
    assert all(r.ok for r in reports) and {"transactions", "sale_answers"} <= {r.chain for r in reports}


def test_reconciliation_ignores_pending_sales_and_lists_disputed_ones(db: Session, parties: Parties) -> None:
    pending = record_sale(db, parties.seller, sale_of(parties, 1_000, days_ago(2)))
    disputed = record_sale(db, parties.seller, sale_of(parties, 2_000, days_ago(2)))
    dispute_sale(db, parties.buyer, disputed, "never arrived")
    found = reconcile(db, days_ago(30), today_kg())
    assert [(m.kind, m.transaction_id) for m in found] == [(DISPUTED_SALE, disputed.id)]
    assert "never arrived" in found[0].message
    confirm_sale(db, parties.buyer, pending)
    kinds = {(m.kind, m.transaction_id) for m in reconcile(db, days_ago(30), today_kg())}
    assert kinds == {(DISPUTED_SALE, disputed.id), (TRANSACTION_WITHOUT_MOVEMENT, pending.id)}
    _, correction = correct_transaction(db, parties.seller, disputed.id, "it was 1 kg", mass_g=1_000)
    kinds = {(m.kind, m.transaction_id) for m in reconcile(db, days_ago(30), today_kg())}
    assert kinds == {(TRANSACTION_WITHOUT_MOVEMENT, pending.id)}  # the correction awaits the buyer


# ---------------------------------------------------------------- the API
def sign_in(client: FlaskClient, user: Any) -> None:
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def sale_json(p: Parties, mass_g: int = 34_500) -> dict[str, Any]:
    return {"seller_id": p.seller.dealer_id, "buyer_id": p.buyer.dealer_id, "mass_g": mass_g, "place": "Osh",
            "transaction_date": days_ago(3).isoformat()}


@pytest.mark.parametrize("who, status", [
    ("seller", 201), ("buyer", 403), ("stranger", 403), ("officer", 403), ("auditor", 403)])
def test_api_sale_is_entered_by_the_seller_only(client: FlaskClient, db: Session, parties: Parties,
                                                who: str, status: int) -> None:
    db.commit()
    sign_in(client, parties.of(who))
    response = client.post("/api/v1/transactions", json=sale_json(parties))
    assert response.status_code == status
    if status == 201:
        assert response.json["status"] == "pending" and response.json["answered_at"] is None
    else:
        assert response.json["message"]


@pytest.mark.parametrize("who, status", [
    ("buyer", 200), ("seller", 403), ("stranger", 404), ("officer", 403), ("auditor", 403)])
@pytest.mark.parametrize("answer", ["confirm", "dispute"])
def test_api_sale_is_answered_by_the_buyer_only(client: FlaskClient, db: Session, parties: Parties,
                                                who: str, status: int, answer: str) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    db.commit()
    sign_in(client, parties.of(who))
    response = client.post(f"/api/v1/transactions/{entry.id}/{answer}", json={"reason": "not delivered"})
    assert response.status_code == status
    expected = {"confirm": "confirmed", "dispute": "disputed"}[answer] if status == 200 else "pending"
    sign_in(client, parties.auditor)
    assert client.get(f"/api/v1/transactions/{entry.id}").json["status"] == expected


def test_api_dispute_needs_a_reason_and_both_parties_and_auditors_see_it(
        client: FlaskClient, db: Session, parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    db.commit()
    sign_in(client, parties.buyer)
    for body in ({}, {"reason": ""}, {"reason": 42}):
        response = client.post(f"/api/v1/transactions/{entry.id}/dispute", json=body)
        assert response.status_code == 422 and "reason" in response.json["fields"]
    disputed = client.post(f"/api/v1/transactions/{entry.id}/dispute", json={"reason": "one flask, not two"})
    assert disputed.json["status"] == "disputed" and disputed.json["answered_by_id"] == parties.buyer.id
    assert client.post(f"/api/v1/transactions/{entry.id}/dispute", json={"reason": "x"}).status_code == 409
    for reader in (parties.seller, parties.auditor):
        sign_in(client, reader)
        listed = client.get("/api/v1/transactions?status=disputed").json["items"]
        assert [(t["id"], t["dispute_reason"]) for t in listed] == [(entry.id, "one flask, not two")]
    report = client.get(f"/api/v1/reports/reconciliation?from={days_ago(30)}").json
    assert report["counts"]["disputed_sale"] == 1
    assert client.get("/api/v1/transactions?status=unknown").status_code == 422


def test_api_confirmation_moves_both_books(client: FlaskClient, db: Session, parties: Parties) -> None:
    db.commit()
    sign_in(client, parties.seller)
    entry = client.post("/api/v1/transactions", json=sale_json(parties, 40_000)).json
    period = f"from={days_ago(30)}"
    assert client.get(f"/api/v1/reports/balance?{period}").json["dealers"][0]["closing_g"] == 100_000
    sign_in(client, parties.buyer)
    assert client.get(f"/api/v1/reports/balance?{period}").json["dealers"][0]["closing_g"] == 0
    assert client.post(f"/api/v1/transactions/{entry['id']}/confirm").json["status"] == "confirmed"
    assert client.get(f"/api/v1/reports/balance?{period}").json["dealers"][0]["closing_g"] == 40_000
    assert client.post(f"/api/v1/transactions/{entry['id']}/confirm").status_code == 409
    assert client.post("/api/v1/transactions/99999999999999999999/confirm").status_code == 404


# ---------------------------------------------------------------- the portal
def field_error(page: str, field: str) -> str:
    found = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def test_portal_sale_form_enters_only_the_traders_own_sales(
        client: FlaskClient, auth: Any, db: Session, parties: Parties) -> None:
    db.commit()
    auth.sign_in_as(parties.seller)
    page = client.get("/register").get_data(as_text=True)
    assert 'name="direction"' not in page and "bought from" not in page
    response = auth.post_form("/register/transactions", {
        "counterparty": parties.buyer.dealer_id, "mass": "34.5", "transaction_date": days_ago(1).isoformat(),
        "place": "Osh"}, form_page="/register")
    assert response.status_code == 302
    entry = db.scalars(select(Transaction)).one()
    assert (entry.seller_id, entry.buyer_id) == (parties.seller.dealer_id, parties.buyer.dealer_id)
    page = client.get("/register").get_data(as_text=True)
    assert re.search(r'id="book-stock"[^>]*>100\.000 kg<', page)  # not yet confirmed
    assert "awaits the buyer" in page and f'id="answer-{entry.id}"' not in page  # the seller cannot answer


def test_portal_buyer_confirms_on_a_page_of_its_own(client: FlaskClient, auth: Any, db: Session,
                                                    parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    db.commit()
    auth.sign_in_as(parties.buyer)
    register = client.get("/register").get_data(as_text=True)
    assert f'id="answer-{entry.id}"' in register and re.search(r'id="book-stock"[^>]*>0\.000 kg<', register)
    answer_page = f"/register/transactions/{entry.id}/answer"
    page = client.get(answer_page).get_data(as_text=True)
    assert parties.seller.dealer.legal_name in page and "34.500 kg" in page and 'id="confirm-sale"' in page
    response = auth.post_form(f"/register/transactions/{entry.id}/confirm", {}, form_page=answer_page)
    assert response.status_code == 302
    register = client.get("/register").get_data(as_text=True)
    assert re.search(r'id="book-stock"[^>]*>34\.500 kg<', register) and f'id="answer-{entry.id}"' not in register
    assert client.get(answer_page).status_code == 409


def test_portal_buyer_disputes_with_a_reason_the_seller_sees(client: FlaskClient, auth: Any, db: Session,
                                                             parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    db.commit()
    auth.sign_in_as(parties.buyer)
    answer_page = f"/register/transactions/{entry.id}/answer"
    empty = auth.post_form(f"/register/transactions/{entry.id}/dispute", {"reason": " "}, form_page=answer_page)
    assert empty.status_code == 400 and field_error(empty.get_data(as_text=True), "reason")
    response = auth.post_form(f"/register/transactions/{entry.id}/dispute",
                              {"reason": "No flask arrived from this seller."}, form_page=answer_page)
    assert response.status_code == 302
    again = client.get(answer_page).get_data(as_text=True)  # still to confirm, no second dispute
    assert 'id="confirm-sale"' in again and 'id="dispute-sale"' not in again
    auth.logout()
    auth.sign_in_as(parties.seller)
    page = client.get("/register").get_data(as_text=True)
    state = page[page.index(f'id="state-{entry.id}"'):]
    assert "disputed" in state[:400] and "No flask arrived from this seller." in state[:400]


@pytest.mark.parametrize("who, status", [("seller", 403), ("stranger", 404), ("officer", 403), ("auditor", 403)])
def test_portal_answer_page_is_for_the_buyer_only(client: FlaskClient, auth: Any, db: Session, parties: Parties,
                                                  who: str, status: int) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    db.commit()
    auth.sign_in_as(parties.of(who))
    assert client.get(f"/register/transactions/{entry.id}/answer").status_code == status
    token_page = "/register" if who in ("seller", "stranger") else "/"
    response = auth.post_form(f"/register/transactions/{entry.id}/confirm", {}, form_page=token_page)
    assert response.status_code == status
    assert state_of(db, entry) == SaleState.PENDING


def test_portal_auditor_sees_disputed_sales_in_the_reconciliation(
        client: FlaskClient, auth: Any, db: Session, parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    dispute_sale(db, parties.buyer, entry, "Wrong mass on the invoice.")
    db.commit()
    auth.sign_in_as(parties.auditor)
    page = client.get("/audit/reconciliation", query_string={"from": days_ago(30).isoformat()}).get_data(as_text=True)
    section = page[page.index('id="disputed_sale"'):]
    assert "Sale disputed by the buyer" in section and "Wrong mass on the invoice." in section
    assert f"Register entry #{entry.id}" in section


def test_register_export_tells_which_entries_count_in_the_books(
        client: FlaskClient, db: Session, parties: Parties) -> None:
    pending = record_sale(db, parties.seller, sale_of(parties, 1_000))
    confirmed = record_sale(db, parties.seller, sale_of(parties, 2_000))
    confirm_sale(db, parties.buyer, confirmed)
    db.commit()
    sign_in(client, parties.auditor)
    period = f"from={days_ago(30)}&to={today_kg()}"
    text = client.get(f"/api/v1/exports/transactions.csv?{period}").get_data(as_text=True).removeprefix("\ufeff")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert rows[pending.id]["in_books"].lower() in ("false", "0") and rows[confirmed.id]["in_books"].lower() in (
        "true", "1")
    assert rows[pending.id]["needs_confirmation"].lower() in ("true", "1")


def test_the_buyers_pages_and_the_refusals_speak_russian(client: FlaskClient, auth: Any, db: Session,
                                                         parties: Parties) -> None:
    entry = record_sale(db, parties.seller, sale_of(parties))
    parties.buyer.language = "ru"
    db.commit()
    auth.sign_in_as(parties.buyer)
    register = client.get("/register").get_data(as_text=True)
    assert "ждёт покупателя" in register and "Подтвердить или оспорить" in register
    assert "awaits the buyer" not in register and "Confirm or dispute" not in register
    answer_page = f"/register/transactions/{entry.id}/answer"
    page = client.get(answer_page).get_data(as_text=True)
    assert "Подтвердить покупку" in page and "Оспорить продажу" in page and "Confirm the purchase" not in page
    refused = auth.post_form(f"/register/transactions/{entry.id}/dispute", {"reason": ""}, form_page=answer_page)
    assert "укажите, что не так с продажей" in refused.get_data(as_text=True)
