"""The evidence API: register, stock book, reports and customs import, with who may do and see what."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tests.tracker.test_chain_tamper import tamper
from tracker.domain.register import today_kg
from tracker.domain.seal_checks import verify_coverage
from tracker.domain.seals import CUSTOMS_RECORDS
from tracker.models import Activity, EvidenceSeal, User

pytestmark = pytest.mark.usefixtures("fast_passwords")


def sign_in(client: FlaskClient, user: Any) -> None:
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def days_ago(n: int) -> str:
    return (today_kg() - timedelta(days=n)).isoformat()


@pytest.fixture
def combine(make_user, make_dealer) -> User:  # type: ignore[no-untyped-def]
    """A trader of a producing combine."""
    return make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))


def produce(client: FlaskClient, grams: int) -> Any:
    return client.post("/api/v1/stock-entries", json={
        "kind": "production", "mass_g": grams, "entry_date": days_ago(9), "place": "Khaidarkan"})


def test_trader_enters_production_and_a_sale_and_corrects_it(
        client: FlaskClient, combine: User, make_user) -> None:
    buyer_trader = make_user("trader")
    buyer = buyer_trader.dealer
    sign_in(client, combine)
    assert produce(client, 100_000).status_code == 201
    sale = client.post("/api/v1/transactions", json={
        "seller_id": combine.dealer_id, "buyer_id": buyer.id, "mass_g": 34_500, "place": "Kadamjai",
        "transaction_date": days_ago(2)})
    assert sale.status_code == 201 and sale.json["kind"] == "sale" and len(sale.json["row_hash"]) == 64
    corrected = client.post(f"/api/v1/transactions/{sale.json['id']}/correct",
                            json={"reason": "two flasks", "mass_g": 69_000})
    assert corrected.status_code == 201
    assert corrected.json["reversal"]["mass_g"] == 34_500 and corrected.json["correction"]["mass_g"] == 69_000
    assert {corrected.json[k]["corrects_id"] for k in ("reversal", "correction")} == {sale.json["id"]}
    listed = client.get(f"/api/v1/transactions?dealer_id={buyer.id}").json
    assert [t["kind"] for t in listed["items"]] == ["correction", "reversal", "sale"]
    assert [t["status"] for t in listed["items"]] == ["pending", None, "pending"]
    sign_in(client, buyer_trader)
    assert client.post(f"/api/v1/transactions/{corrected.json['correction']['id']}/confirm").status_code == 200
    sign_in(client, combine)
    balance = client.get(f"/api/v1/reports/balance?from={days_ago(30)}").json
    assert balance["dealers"][0]["closing_g"] == 100_000 - 69_000 and balance["national"] is None


def test_sale_with_bad_fields_is_422_naming_each(client: FlaskClient, combine: User) -> None:
    sign_in(client, combine)
    response = client.post("/api/v1/transactions", json={
        "seller_id": combine.dealer_id, "buyer_id": 999_999, "mass_g": "lots", "place": "",
        "transaction_date": "yesterday"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"buyer_id", "mass_g", "place", "transaction_date"}


def test_trader_sees_only_their_own_dealers_entries_and_balance(
        client: FlaskClient, combine: User, make_user, make_dealer) -> None:
    buyer = make_dealer()
    sign_in(client, combine)
    produce(client, 50_000)
    client.post("/api/v1/transactions", json={"seller_id": combine.dealer_id, "buyer_id": buyer.id,
                                              "mass_g": 1_000, "place": "Osh", "transaction_date": days_ago(1)})
    outsider = make_user("trader")
    sign_in(client, outsider)
    assert client.get("/api/v1/transactions").json["total"] == 0
    assert client.get("/api/v1/stock-entries").json["total"] == 0
    assert client.get(f"/api/v1/reports/balance?dealer={combine.dealer_id}").status_code == 404
    assert client.get("/api/v1/reports/reconciliation").status_code == 403
    assert client.post("/api/v1/transactions", json={
        "seller_id": combine.dealer_id, "buyer_id": buyer.id, "mass_g": 1, "place": "Osh",
        "transaction_date": days_ago(1)}).status_code == 403


def test_auditor_reads_everything_and_changes_nothing(client: FlaskClient, combine: User, make_user) -> None:
    sign_in(client, combine)
    produce(client, 50_000)
    sign_in(client, make_user("auditor"))
    assert client.get("/api/v1/stock-entries").json["total"] == 1
    report = client.get(f"/api/v1/reports/balance?from={days_ago(30)}").json
    assert report["national"]["production_g"] == 50_000
    assert client.get("/api/v1/reports/reconciliation").status_code == 200
    assert produce(client, 1).status_code == 403
    assert client.post("/api/v1/customs-records", data="date,reference,direction,mass_g\n",
                       content_type="text/csv").status_code == 403


def test_officer_imports_customs_csv_and_reconciliation_lists_it(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("customs_officer"))
    csv_body = ("date,reference,direction,mass_g\n"
                f"{days_ago(1)},26KGHG00000000770,export,34500\n"
                "not-a-date,26KGHG00000000780,export,34500\n")
    response = client.post("/api/v1/customs-records?source=AKJOL-2026-11", data=csv_body, content_type="text/csv")
    assert response.status_code == 200
    assert response.json["added"] == 1 and response.json["errors"][0]["line"] == 3
    again = client.post("/api/v1/customs-records", data=csv_body, content_type="text/csv")
    assert (again.json["added"], again.json["duplicates"]) == (0, 1)
    report = client.get(f"/api/v1/reports/reconciliation?from={days_ago(7)}").json
    assert report["counts"]["border_crossing_without_declaration"] == 1
    assert report["mismatches"][0]["reference"] == "26KGHG00000000770"
    assert client.get("/api/v1/customs-records").json["items"][0]["source"] == "AKJOL-2026-11"


def test_report_period_must_be_dates_in_order(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("auditor"))
    response = client.get("/api/v1/reports/balance?from=2026-11-30&to=2026-11-01")
    assert response.status_code == 422 and "to" in response.json["fields"]
    assert client.get("/api/v1/reports/reconciliation?from=soon").status_code == 422


def test_stock_entry_use_beyond_book_stock_is_refused(client: FlaskClient, db: Session, make_user,
                                                      make_dealer) -> None:
    lab = make_user("trader", dealer=make_dealer(activities={Activity.USE, Activity.DOMESTIC_TRADE}))
    sign_in(client, lab)
    response = client.post("/api/v1/stock-entries", json={
        "kind": "use", "mass_g": 150, "entry_date": days_ago(1), "place": "Bishkek"})
    assert response.status_code == 422 and "book stock is 0 g" in response.json["fields"]["mass_g"]


def test_customs_records_imported_through_the_api_are_sealed_against_later_edits(
        client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("customs_officer"))
    csv_body = f"date,reference,direction,mass_g\n{days_ago(1)},26KGHG00000000790,export,138000\n"
    assert client.post("/api/v1/customs-records", data=csv_body, content_type="text/csv").json["added"] == 1
    sealed = db.scalars(select(EvidenceSeal).where(EvidenceSeal.kind == CUSTOMS_RECORDS.kind)
                        .order_by(EvidenceSeal.id.desc()).limit(1)).one()
    assert sealed.row_count == 1 and verify_coverage(db, CUSTOMS_RECORDS, {sealed.subject}).ok
    tamper(db, "UPDATE customs_records SET mass_g = 13800 WHERE reference = '26KGHG00000000790'")
    assert not verify_coverage(db, CUSTOMS_RECORDS, {sealed.subject}).ok
