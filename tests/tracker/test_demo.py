"""The demo data: realistic, coherent, and loaded only once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker import create_app
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.balance import balances
from tracker.domain.chain import first_broken
from tracker.domain.demo import load_demo
from tracker.domain.gs1 import is_valid_sscc
from tracker.domain.reconcile import KINDS as RECONCILIATION_KINDS
from tracker.domain.reconcile import reconcile
from tracker.domain.references import validate_reference
from tracker.models import (
    Alert,
    AlertStatus,
    Base,
    Container,
    CustodyEvent,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    License,
    LicenseStatus,
    Position,
    Transaction,
)


def row_counts(db: Session) -> dict[str, int]:
    return {name: db.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()}


def test_loading_twice_changes_nothing(db: Session) -> None:
    first = load_demo(db)
    assert first.loaded and first.accounts
    counts = row_counts(db)
    second = load_demo(db)
    assert not second.loaded and second.accounts == []
    assert row_counts(db) == counts


def test_demo_has_a_declaration_in_every_status_with_valid_references(db: Session) -> None:
    load_demo(db)
    declarations = db.scalars(select(Declaration)).all()
    assert {d.status for d in declarations} == set(DeclarationStatus)
    for declaration in declarations:
        if declaration.reference:
            validate_reference(declaration.reference)
    assert all(is_valid_sscc(c.sscc) for c in db.scalars(select(Container)))


def test_demo_export_is_on_the_road_to_ak_jol(db: Session) -> None:
    load_demo(db)
    trip = db.scalars(select(Declaration).where(Declaration.status == DeclarationStatus.IN_TRANSIT)).one()
    assert trip.kind == DeclarationKind.EXPORT and trip.consignee.country == "KZ"
    assert [e.checkpoint.code for e in trip.expected_checkpoints] == ["OSH", "TOKTOGUL", "BISHKEK", "AKJOL"]
    lon, lat = trip.route.coords[0]
    assert abs(lat - 39.947) < 0.05 and abs(lon - 71.343) < 0.05  # starts at the combine
    lon, lat = trip.route.coords[-1]
    assert abs(lat - 43.04) < 0.05 and abs(lon - 74.71) < 0.05  # ends at Ak-Jol
    positions = db.scalars(select(Position).where(Position.declaration_id == trip.id)
                           .order_by(Position.fix_time)).all()
    assert positions and positions[0].fix_time >= trip.departed_at
    assert trip.declared_net_g == sum(i.declared_net_g for i in trip.items) > 0


def test_demo_closed_import_has_an_explained_receipt_shortage(db: Session) -> None:
    load_demo(db)
    closed = db.scalars(select(Declaration).where(Declaration.status == DeclarationStatus.CLOSED)).one()
    received = sum(item.received_net_g or 0 for item in closed.items)
    assert received < closed.declared_net_g and closed.received_at is not None
    alert = db.scalars(select(Alert).where(Alert.declaration_id == closed.id,
                                           Alert.kind == "receipt_shortage")).one()
    steps = [(step.action, step.actor_name) for step in alert.history]
    assert steps == [("opened", "system"), ("explained", "trader.bishkek"),
                     ("acknowledged", "officer.bishkek"), ("closed", "officer.bishkek")]
    assert alert.details and alert.status == AlertStatus.CLOSED


def test_demo_reconciliation_shows_every_kind_of_mismatch(db: Session) -> None:
    load_demo(db)
    today = datetime.now(timezone.utc).date()
    found = {m.kind for m in reconcile(db, today - timedelta(days=400), today)}
    assert found == set(RECONCILIATION_KINDS)


def test_demo_books_balance_for_dealers_whose_records_agree(db: Session) -> None:
    load_demo(db)
    today = datetime.now(timezone.utc).date()
    by_name = {b.dealer_name: b for b in balances(db, today - timedelta(days=400), today)}
    assert by_name["Khaidarkan Mercury Combine OJSC"].flows["production"] > 0
    assert by_name["Dentalab Bishkek LLC"].flows["use"] > 0
    for name in ("Osh Kimyo Trade LLC", "Dentalab Bishkek LLC", "Jalal-Abad Reagent LLC"):
        assert by_name[name].flags == [] and by_name[name].closing_g == by_name[name].physical_g


def test_demo_has_a_suspended_licence(db: Session) -> None:
    load_demo(db)
    suspended = db.scalars(select(License).where(License.status == LicenseStatus.SUSPENDED)).one()
    # Its alert says what suspending a licence says: which licence, why (the officer's card shows both).
    alert = db.scalars(select(Alert).where(Alert.kind == AlertKind.LICENCE_SUSPENDED.value)).one()
    assert alert.details["licence"] == suspended.number
    assert alert.details["reason"] == suspended.status_reason


def test_demo_evidence_chains_are_intact(db: Session) -> None:
    load_demo(db)
    for model in (CustodyEvent, Transaction):
        rows = db.scalars(select(model).order_by(model.id)).all()
        assert rows and first_broken(rows) is None


def test_demo_accounts_sign_in_with_their_generated_passwords(db: Session, client: FlaskClient) -> None:
    result = load_demo(db)
    db.commit()
    for account in result.accounts:
        response = client.post("/api/v1/session", json={"login": account.login, "password": account.password})
        assert response.status_code == 200, account.login
        assert response.json["role"] == account.role
        client.delete("/api/v1/session")


def test_demo_command_is_idempotent_and_reprints_the_accounts(tmp_path: Path) -> None:
    app: Flask = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and "demo data loaded" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "already loaded; nothing changed" in second.output
    accounts = first.output.split("Demo accounts")[1]
    assert accounts == second.output.split("Demo accounts")[1]
    assert "admin" in accounts and "auditor" in accounts
    other = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "other")})
    other_runner = other.test_cli_runner()
    other_runner.invoke(args=["db", "upgrade"])
    third = other_runner.invoke(args=["demo"]).output.split("Demo accounts")[1]
    admin_password = [line.split()[1] for line in accounts.splitlines() if line.startswith("admin ")]
    assert admin_password and admin_password[0] not in third  # generated per load, not fixed
