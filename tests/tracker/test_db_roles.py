"""The application's own database account cannot rewrite evidence (PostgreSQL).

A fresh database is migrated by the owner (the test server's superuser); a role made for
the module, with a unique name, gets only ``db grants``. As that role the demo loads,
the gateway stores and re-flags fixes, sealing and verification run; and every way of
rewriting evidence is refused, or (writing a chain head, forging a row) caught by
verify-chain. The database and the role are dropped afterwards.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from beacon_gateway.config import GatewaySettings
from beacon_gateway.position import Position as Fix
from beacon_gateway.pipeline import build_pipeline
from beacon_gateway.writer import BatchWriter, Submission
from tests.conftest import postgres_url
from tracker import create_app, db_roles, migrate
from tracker.db import make_engine, make_session_factory, session_scope
from tracker.domain import signing
from tracker.domain.chain import row_hash
from tracker.domain.chain_verify import verify_chain, verify_chains
from tracker.domain.demo import load_demo
from tracker.domain.seal_checks import verify_seals
from tracker.domain.sealing import seal_everything
from tracker.domain.tokens import issue_token
from tracker.models import Beacon, BeaconProtocol, ChainHead, ChainSignature, CustodyEvent, Position

pytestmark = pytest.mark.usefixtures("fast_passwords")


class Server:
    """A fresh database on the test server: the owner's engine, and the application role's."""

    def __init__(self, owner_url: str, app_url: str, role: str) -> None:
        self.owner_url, self.app_url, self.role = owner_url, app_url, role
        self.owner: Engine = make_engine(owner_url)
        self.app: Engine = make_engine(app_url)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """Migrate a new database as the owner; make a login role for the application and grant it."""
    base = make_url(postgres_url())
    name, role = f"{base.database}_roles_{secrets.token_hex(4)}", f"mercury_app_{secrets.token_hex(4)}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    owner_url = base.set(database=name).render_as_string(hide_password=False)
    app_url = base.set(database=name, username=role, password=None).render_as_string(hide_password=False)
    try:
        migrate.upgrade(owner_url)
        found = Server(owner_url, app_url, role)
        with found.owner.begin() as connection:
            db_roles.apply_grants(connection, role)
        yield found
        found.app.dispose()
        found.owner.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def demo(server: Server) -> None:
    """The demo data, loaded and sealed by the application role."""
    with session_scope(make_session_factory(server.app)) as session:
        load_demo(session)
    with session_scope(make_session_factory(server.app)) as session:
        seal_everything(session, datetime.now(timezone.utc))


def refused(server: Server, statement: str) -> str:
    """Run ``statement`` as the application role; return PostgreSQL's refusal."""
    with server.app.connect() as connection:
        with pytest.raises(DBAPIError) as caught:
            connection.execute(text(statement))
        connection.rollback()
    return str(caught.value.orig)


def test_application_role_loads_seals_and_verifies_the_demo(server: Server, demo: None) -> None:
    with make_session_factory(server.app)() as session:
        reports = verify_chains(session) + verify_seals(session)
    assert [r for r in reports if not r.ok] == []
    assert {r.chain for r in reports if r.count} >= {"custody_events", "evidence_seals", "positions",
                                                     "declaration_items", "alert_history", "customs_records"}


def test_gateway_stores_and_re_flags_fixes_as_the_application_role(server: Server, demo: None) -> None:
    sessions = make_session_factory(server.app)
    with session_scope(sessions) as session:
        beacon = Beacon(device_id=f"35{secrets.randbelow(10 ** 13):013d}", protocol=BeaconProtocol.JSON)
        session.add(beacon)
        session.flush()
        _row, token = issue_token(session, name="role test", beacon=beacon)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    writer = BatchWriter(sessions, build_pipeline(GatewaySettings(database_url=server.app_url)))
    for seconds, lat in ((0, 40.5), (120, 40.5005), (60, 41.0)):  # the last one late and 55 km off: re-flags
        item = Submission([Fix(device_id=beacon.device_id, fix_time=start + timedelta(seconds=seconds), lat=lat,
                               lon=72.8, protocol="json", raw=b"fix")], token)
        writer.write([item])
        assert item.future.result().accepted
    with sessions() as session:
        flags = session.scalars(select(Position.flags).where(Position.beacon_id == beacon.id)
                                .order_by(Position.fix_time)).all()
    assert any(flags[2]), flags


@pytest.mark.parametrize("statement, refusal", [
    ("ALTER TABLE custody_events DISABLE TRIGGER ALL", "must be owner"),
    ("ALTER TABLE chain_signatures DISABLE TRIGGER USER", "must be owner"),
    ("TRUNCATE custody_events", "permission denied"),
    ("TRUNCATE transactions, stock_entries CASCADE", "permission denied"),
    ("UPDATE transactions SET mass_g = 13800", "permission denied"),
    ("DELETE FROM custody_events", "permission denied"),
    ("DELETE FROM chain_signatures", "permission denied"),
    ("UPDATE evidence_seals SET digest = repeat('0', 64)", "permission denied"),
    ("UPDATE alert_events SET note = ''", "permission denied"),
    ("UPDATE customs_records SET mass_g = 1", "permission denied"),
    ("UPDATE positions SET lat = 0", "permission denied"),
    ("SET session_replication_role = replica", "permission denied"),
    ("DROP TABLE evidence_seals", "must be owner"),
    ("CREATE TABLE shadow (id integer)", "permission denied"),
])
def test_application_role_cannot_rewrite_evidence(server: Server, demo: None, statement: str, refusal: str) -> None:
    assert refusal in refused(server, statement)


def test_chain_head_written_by_the_application_role_does_not_verify(server: Server, demo: None) -> None:
    sessions = make_session_factory(server.app)
    with sessions() as session:
        last = session.scalars(select(CustodyEvent).order_by(CustodyEvent.id.desc()).limit(1)).one()
        forged = CustodyEvent(**{c: getattr(last, c) for c in (
            "kind", "container_id", "checkpoint_id", "officer_id", "event_time", "event_time_zone",
            "recorded_at", "seal_intact", "remarks", "device")}, measured_net_g=20_000,
            client_event_id=str(uuid.uuid4()), prev_hash=last.row_hash)
        forged.row_hash = row_hash(last.row_hash, forged)
        session.add(forged)  # INSERT is the application's right: its hash is right, its head is not signed
        head = session.get(ChainHead, "custody_events")
        head.length, head.tip_hash = head.length + 1, forged.row_hash
        session.flush()
        assert "forged" in (verify_chain(session, CustodyEvent).reason or "")
        forger = signing.Signer(Ed25519PrivateKey.generate())
        statement = signing.HeadStatement("custody_events", head.length, head.tip_hash, datetime.now(timezone.utc))
        session.add(ChainSignature(chain="custody_events", length=head.length, tip_hash=head.tip_hash,
                                   signed_at=statement.signed_at, key_id=signing.current_signer().key_id,
                                   signature=forger.sign(statement)))
        session.flush()
        assert "does not verify" in (verify_chain(session, CustodyEvent).reason or "")
        session.rollback()


def grants_app(server: Server, tmp_path: Path, evidence_key: Path) -> Flask:
    """The tracker app as production runs it: the application role, the owner for migrations."""
    return create_app({"DATABASE_URL": server.app_url, "MIGRATION_DATABASE_URL": server.owner_url,
                       "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x" * 32,
                       "EVIDENCE_KEY_FILE": str(evidence_key)})


def test_grants_command_prints_and_applies_only_what_the_role_needs(
        server: Server, tmp_path: Path, evidence_key: Path) -> None:
    runner = grants_app(server, tmp_path, evidence_key).test_cli_runner()
    printed = runner.invoke(args=["db", "grants", "--role", server.role])
    assert printed.exit_code == 0, printed.output
    assert f'GRANT SELECT, INSERT ON custody_events TO "{server.role}";' in printed.output
    assert f'GRANT SELECT, INSERT, UPDATE (flags) ON positions TO "{server.role}";' in printed.output
    applied = runner.invoke(args=["db", "grants", "--role", server.role, "--apply"])
    assert applied.exit_code == 0, applied.output


def test_grants_command_refuses_a_superuser_or_an_owner(server: Server, tmp_path: Path, evidence_key: Path) -> None:
    runner = grants_app(server, tmp_path, evidence_key).test_cli_runner()
    owner = make_url(server.owner_url).username
    result = runner.invoke(args=["db", "grants", "--role", str(owner), "--apply"])
    assert result.exit_code == 1 and "superuser" in result.output
    result = runner.invoke(args=["db", "grants", "--role", "x; DROP TABLE positions", "--apply"])
    assert result.exit_code == 1 and "not a plain role name" in result.output
