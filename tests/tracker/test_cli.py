"""The tracker's Flask CLI commands on a fresh database."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tracker import create_app, migrate
from tracker.db import make_engine, make_session_factory
from tracker.models import Checkpoint, CheckpointKind, Dealer, Role, User


@pytest.fixture
def fresh_app(tmp_path: Path) -> Flask:
    """An app on a brand-new SQLite file, migrated through the CLI."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def _session(app: Flask):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(app.config["DATABASE_URL"]))()


def test_db_upgrade_uses_the_sqlite_file_in_the_instance_folder(fresh_app: Flask) -> None:
    assert (Path(fresh_app.instance_path) / "mercury.sqlite3").exists()
    result = fresh_app.test_cli_runner().invoke(args=["db", "current"])
    head = migrate.head_revision()
    assert head and f"current: {head}" in result.output and f"head: {head}" in result.output
    assert fresh_app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0


def test_create_user_makes_an_account_that_can_sign_in(fresh_app: Flask) -> None:
    with _session(fresh_app) as session:
        session.add(Dealer(legal_name="Osh Metal Trading LLC", taxpayer_number="02104200710123", country="KG"))
        session.commit()
    result = fresh_app.test_cli_runner().invoke(
        args=["create-user", "--login", "aibek", "--name", "Aibek", "--role", "trader",
              "--dealer", "02104200710123", "--password-stdin"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    with _session(fresh_app) as session:
        user = session.scalars(select(User).where(User.login == "aibek")).one()
        assert user.role == Role.TRADER and user.dealer.legal_name == "Osh Metal Trading LLC"
    client = fresh_app.test_client()
    response = client.post("/api/v1/session", json={"login": "aibek", "password": "a long enough secret"})
    assert response.status_code == 200


@pytest.mark.parametrize("args, password, message", [
    (["--role", "trader", "--dealer", "000"], "a long enough secret", "no dealer with taxpayer number 000"),
    (["--role", "trader"], "a long enough secret", "a trader belongs to exactly one dealer; other roles to none"),
    (["--role", "customs_officer"], "a long enough secret", "a customs officer is posted to at least one checkpoint"),
    (["--role", "auditor"], "short", "a password has 10 to 256 characters"),
    (["--role", "auditor"], "1234567890", "this password is too common or too easy to guess; use a few unrelated words"),
    (["--role", "auditor"], "someone-at-work", "a password must not contain your login or name"),
])
def test_create_user_refuses_with_one_clear_line(fresh_app: Flask, args: list[str], password: str,
                                                 message: str) -> None:
    result = fresh_app.test_cli_runner().invoke(
        args=["create-user", "--login", "someone", "--name", "Someone", *args, "--password-stdin"],
        input=password + "\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {message}"]
    with _session(fresh_app) as session:
        assert session.scalars(select(User)).all() == []


def test_create_officer_at_a_checkpoint(fresh_app: Flask) -> None:
    with _session(fresh_app) as session:
        session.add(Checkpoint(code="OSH", name="Osh customs post", kind=CheckpointKind.CUSTOMS_POST,
                               lat=40.528, lon=72.799))
        session.commit()
    result = fresh_app.test_cli_runner().invoke(
        args=["create-user", "--login", "nurlan", "--name", "Nurlan", "--role", "customs_officer",
              "--checkpoint", "OSH", "--password-stdin"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    with _session(fresh_app) as session:
        assert [c.code for c in session.scalars(select(User)).one().checkpoints] == ["OSH"]
