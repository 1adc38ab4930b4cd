"""The demo data: realistic, coherent, and loaded only once."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker import create_app
from tracker.domain.chain import first_broken
from tracker.domain.demo import load_demo
from tracker.domain.gs1 import is_valid_sscc
from tracker.domain.references import validate_reference
from tracker.models import (
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


def test_demo_has_a_suspended_licence(db: Session) -> None:
    load_demo(db)
    assert db.scalars(select(License).where(License.status == LicenseStatus.SUSPENDED)).all()


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
