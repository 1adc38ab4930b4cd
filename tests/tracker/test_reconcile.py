"""Reconciliation of declarations, custody events, the register and customs records; the customs CSV import."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import post_at
from tracker.domain.custody import record_custody_event
from tracker.domain.customs_import import import_customs_csv
from tracker.domain.errors import ValidationFailed
from tracker.domain.reconcile import (
    BORDER_WITHOUT_DECLARATION,
    DECLARED_NOT_SCANNED,
    MASS_DIFFERENCE,
    MOVEMENT_WITHOUT_TRANSACTION,
    TRANSACTION_WITHOUT_MOVEMENT,
    Mismatch,
    reconcile,
)
from tracker.domain.register import SaleInput, StockEntryInput, record_sale, record_stock_entry, today_kg
from tracker.models import (
    Activity,
    CheckpointKind,
    CustomsRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

NOW = datetime.now(timezone.utc)
HEADER = "date,reference,sscc,direction,mass_kg,checkpoint\n"


def period() -> tuple[date, date]:
    return today_kg() - timedelta(days=30), today_kg()


def found(db: Session, kind: str) -> list[Mismatch]:
    return [m for m in reconcile(db, *period()) if m.kind == kind]


@pytest.fixture
def moved(make_declaration):  # type: ignore[no-untyped-def]
    """Factory: a declaration that left yesterday (and arrived today when ``status`` says so)."""
    def make(status: DeclarationStatus = DeclarationStatus.IN_TRANSIT, **kw: Any) -> Declaration:
        kw.setdefault("planned_departure", NOW - timedelta(days=1, hours=1))
        kw.setdefault("planned_arrival", NOW + timedelta(days=1))
        kw.setdefault("departed_at", NOW - timedelta(days=1))
        if status in (DeclarationStatus.ARRIVED, DeclarationStatus.CLOSED):
            kw.setdefault("arrived_at", NOW - timedelta(hours=2))
        if status == DeclarationStatus.CLOSED:
            kw.setdefault("closed_at", NOW - timedelta(hours=1))
        return make_declaration(status=status, **kw)
    return make


def scan(db: Session, officer, declaration: Declaration, checkpoint, **extra) -> None:  # type: ignore[no-untyped-def]
    record_custody_event(db, post_at(officer, checkpoint), {
        "client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
        "checkpoint": checkpoint.code, "kind": "inspection", "seal_intact": True,
        "event_time": (NOW - timedelta(hours=12)).isoformat(), **extra})


def test_declared_but_never_scanned_lists_each_container_of_a_departed_declaration(
        db: Session, moved, make_declaration, make_user) -> None:
    silent = moved()
    make_declaration(status=DeclarationStatus.APPROVED)  # leaves in two days: not due yet
    scanned = moved()
    scan(db, make_user("customs_officer"), scanned, scanned.origin)
    listed = found(db, DECLARED_NOT_SCANNED)
    assert [(m.declaration_id, m.sscc) for m in listed] == [(silent.id, silent.items[0].container.sscc)]


def test_scan_at_a_border_without_an_export_or_import_declaration_is_listed(
        db: Session, moved, make_checkpoint, make_user, make_dealer) -> None:
    officer = make_user("customs_officer")
    border = make_checkpoint(kind=CheckpointKind.BORDER_CROSSING, lat=43.04, lon=74.71)
    domestic = moved()
    export = moved(kind=DeclarationKind.EXPORT, consignee=make_dealer(licensed=False, country="KZ"),
                   destination=border)
    scan(db, officer, domestic, border)
    scan(db, officer, export, border)
    listed = found(db, BORDER_WITHOUT_DECLARATION)
    assert [(m.source, m.declaration_id) for m in listed] == [("custody", domestic.id)]


def test_customs_record_without_a_declaration_or_in_the_wrong_direction_is_listed(
        db: Session, moved, make_dealer) -> None:
    export = moved(DeclarationStatus.ARRIVED, kind=DeclarationKind.EXPORT,
                   consignee=make_dealer(licensed=False, country="KZ"))
    today = today_kg().isoformat()
    import_customs_csv(db, None, HEADER + f"{today},26KGHG99999999990,,export,34.5,AKJOL\n"
                                          f"{today},{export.reference},,import,34.5,AKJOL\n", "test")
    listed = found(db, BORDER_WITHOUT_DECLARATION)
    assert sorted(m.reference for m in listed) == sorted(["26KGHG99999999990", export.reference])
    assert all(m.source == "customs" for m in listed)


def test_crossed_export_absent_from_the_customs_dataset_is_listed(db: Session, moved, make_dealer) -> None:
    foreign = make_dealer(licensed=False, country="CN")
    reported = moved(DeclarationStatus.ARRIVED, kind=DeclarationKind.EXPORT, consignee=foreign)
    missing = moved(DeclarationStatus.ARRIVED, kind=DeclarationKind.EXPORT, consignee=foreign)
    assert [m for m in found(db, DECLARED_NOT_SCANNED) if m.source == "customs"] == []  # no dataset yet
    import_customs_csv(db, None, HEADER + f"{today_kg()},{reported.reference},,export,34.500,\n", "test")
    listed = [m for m in found(db, DECLARED_NOT_SCANNED) if m.source == "customs"]
    assert [m.declaration_id for m in listed] == [missing.id]


def test_mass_differences_from_scales_customs_receipts_and_sales_are_listed(
        db: Session, moved, make_user, make_dealer) -> None:
    officer = make_user("customs_officer")
    weighed = moved()
    scan(db, officer, weighed, weighed.origin, measured_net_g=34_000)
    export = moved(DeclarationStatus.ARRIVED, kind=DeclarationKind.EXPORT,
                   consignee=make_dealer(licensed=False, country="KZ"))
    import_customs_csv(db, None, HEADER + f"{today_kg()},{export.reference},,export,33.9,\n", "test")
    received = moved(DeclarationStatus.CLOSED)
    received.items[0].received_net_g = 34_300
    within = moved(DeclarationStatus.CLOSED)
    within.items[0].received_net_g = 34_480
    db.flush()
    sources = sorted((m.source, m.declaration_id, m.observed_g) for m in found(db, MASS_DIFFERENCE))
    assert sources == [("custody", weighed.id, 34_000), ("customs", export.id, 33_900),
                       ("receipt", received.id, 34_300)]


@pytest.fixture
def producer(db: Session, make_user, make_dealer):  # type: ignore[no-untyped-def]
    combine = make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))
    record_stock_entry(db, combine, StockEntryInput("production", 500_000, today_kg() - timedelta(days=20),
                                                    "Khaidarkan"))
    return combine


def test_sale_without_any_movement_is_listed(db: Session, producer, make_dealer, moved,
                                             confirmed_sale) -> None:
    lone_buyer, moved_buyer = make_dealer(), make_dealer()
    yesterday = today_kg() - timedelta(days=1)
    lone = confirmed_sale(producer, SaleInput(producer.dealer_id, lone_buyer.id, 34_500, "Osh", yesterday))
    moved(declarant=producer.dealer, consignee=moved_buyer)
    confirmed_sale(producer, SaleInput(producer.dealer_id, moved_buyer.id, 34_500, "Osh", yesterday))
    listed = found(db, TRANSACTION_WITHOUT_MOVEMENT)
    assert [m.transaction_id for m in listed] == [lone.id]


def test_sale_of_a_different_mass_than_its_declaration_is_listed(db: Session, producer, make_dealer, moved,
                                                                 confirmed_sale) -> None:
    buyer = make_dealer()
    declaration = moved(declarant=producer.dealer, consignee=buyer)
    confirmed_sale(producer, SaleInput(producer.dealer_id, buyer.id, 20_000, "Osh", today_kg(),
                                        declaration_id=declaration.id))
    assert [(m.source, m.declared_g, m.observed_g) for m in found(db, MASS_DIFFERENCE)] == [
        ("register", 34_500, 20_000)]


def test_movement_to_another_dealer_without_a_sale_is_listed(db: Session, producer, make_dealer, moved,
                                                             confirmed_sale) -> None:
    unsold = moved(declarant=producer.dealer, consignee=make_dealer())
    buyer = make_dealer()
    sold = moved(declarant=producer.dealer, consignee=buyer)
    confirmed_sale(producer, SaleInput(producer.dealer_id, buyer.id, 34_500, "Osh", today_kg(),
                                        declaration_id=sold.id))
    moved(declarant=producer.dealer, consignee=producer.dealer)  # own stock to own warehouse: no sale needed
    assert [m.declaration_id for m in found(db, MOVEMENT_WITHOUT_TRANSACTION)] == [unsold.id]


# ---------------------------------------------------------------- the customs CSV import
def test_customs_import_keeps_good_rows_and_reports_bad_ones_by_line(db: Session, make_container) -> None:
    sscc = make_container().sscc
    result = import_customs_csv(db, None, (
        "Date;SSCC;Direction;Mass_g\n"
        f"2026-11-01;{sscc};out;34500\n"
        "2026-13-01;106141411234567890;sideways;-3\n"
        f"2026-11-02;;in;100\n"
        f"2026-11-03;(00){sscc};entry;34500\n"), "customs-november.csv")
    assert result.added == 2 and result.duplicates == 0
    assert [e.line for e in result.errors] == [3, 4]
    assert all(part in result.errors[0].message for part in ("date", "direction", "sscc", "mass"))
    assert "reference or sscc" in result.errors[1].message
    directions = db.scalars(select(CustomsRecord.direction).order_by(CustomsRecord.id)).all()
    assert [d.value for d in directions] == ["export", "import"]


def test_importing_the_same_file_again_adds_nothing_but_repeated_rows_in_it_count(db: Session) -> None:
    text = HEADER + "2026-11-01,26KGHG00000000010,,export,34.5,\n" * 2 + "2026-11-01,26KGHG00000000010,,export,69,\n"
    first = import_customs_csv(db, None, text, "a.csv")
    again = import_customs_csv(db, None, text, "a-copy.csv")
    assert (first.added, again.added, again.duplicates) == (3, 0, 3)
    assert db.scalar(select(func.count()).select_from(CustomsRecord)) == 3


def test_customs_file_without_the_needed_columns_is_refused_whole(db: Session) -> None:
    with pytest.raises(ValidationFailed) as refused:
        import_customs_csv(db, None, "when,what\n2026-11-01,x\n", "bad.csv")
    assert "direction" in refused.value.errors["header"]


def test_import_customs_command_shows_progress_and_lists_bad_lines(app: Flask, db: Session, tmp_path: Path) -> None:
    path = tmp_path / "customs.csv"
    path.write_text(HEADER + "2026-11-01,26KGHG00000000010,,export,34.5,AKJOL\n2026-11-01,,,export,1,\n")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-customs", str(path)])
    assert result.exit_code == 1 and "1 rows added" in result.output and "line 3:" in result.output
    again = runner.invoke(args=["import-customs", str(path)])
    assert "0 rows added, 1 already imported" in again.output


def test_reconcile_command_writes_every_mismatch_as_csv(app: Flask, db: Session, moved, tmp_path: Path) -> None:
    silent = moved()
    db.commit()
    start, end = period()
    result = app.test_cli_runner().invoke(args=["report", "reconcile", "--from", start.isoformat(),
                                                "--to", end.isoformat()])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert any(r["kind"] == DECLARED_NOT_SCANNED and r["declaration_id"] == str(silent.id) for r in rows)


def test_unregistered_flask_scanned_at_a_border_is_listed(db: Session, make_checkpoint, make_user) -> None:
    from tracker.domain.gs1 import make_sscc

    border = make_checkpoint(kind=CheckpointKind.BORDER_CROSSING, lat=40.77, lon=72.61)
    sscc = make_sscc(0, "470000099", 77)
    record_custody_event(db, make_user("customs_officer", checkpoints=[border]), {
        "client_event_id": str(uuid.uuid4()), "sscc": sscc, "checkpoint": border.code, "kind": "inspection",
        "seal_intact": True, "event_time": (NOW - timedelta(hours=1)).isoformat()})
    assert [m.sscc for m in found(db, BORDER_WITHOUT_DECLARATION)] == [sscc]
