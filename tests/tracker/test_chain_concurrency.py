"""Two officers recording at the same moment leave one valid chain (real engines, real connections).

Each writer runs in its own thread on its own connection to a freshly migrated database
(a file for SQLite, a new database for PostgreSQL), so the chain lock is what keeps
them apart: without it both would read the same tip and the second insert would fork
the chain (refused by the unique ``prev_hash``).
"""
from __future__ import annotations

import secrets
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, postgres_url
from tracker import migrate
from tracker.db import make_engine, make_session_factory
from tracker.domain.chain_verify import verify_chain
from tracker.domain.custody import record_custody_event
from tracker.domain.gs1 import make_sscc
from tracker.domain.users import create_user
from tracker.models import (
    ChainHead,
    ChainSignature,
    Checkpoint,
    CheckpointKind,
    Container,
    ContainerType,
    CustodyEvent,
    Dealer,
    Role,
    User,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

WRITERS = 2
EVENTS_EACH = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A real engine on a brand-new migrated database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
        return
    server = make_url(postgres_url())
    name = f"{server.database}_conc_{secrets.token_hex(4)}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _setup(engine: Engine) -> tuple[list[int], str, str]:
    """Create officers, a flask and a post; return the officers' ids, the SSCC and the post's code."""
    with make_session_factory(engine)() as session:
        dealer = Dealer(legal_name="Osh Mercury LLC", taxpayer_number="01234567890123")
        post = Checkpoint(code="OSH", name="Osh customs post", kind=CheckpointKind.CUSTOMS_POST,
                          lat=40.528, lon=72.799)
        session.add_all([dealer, post])
        session.flush()
        container = Container(sscc=make_sscc(0, "470000009", 1), container_type=ContainerType.FLASK_34_5KG,
                              tare_g=2_700, capacity_g=34_500, net_g=34_500, owner_id=dealer.id,
                              custodian_id=dealer.id)
        officers = [create_user(session, login=f"officer{n}", name=f"Officer {n}", role=Role.CUSTOMS_OFFICER,
                                password=PASSWORD, checkpoints=[post]) for n in range(WRITERS)]
        session.add(container)
        session.commit()
        return [o.id for o in officers], container.sscc, post.code


def _writer(engine: Engine, officer_id: int, sscc: str, post: str, start: threading.Barrier,
            failures: list[BaseException]) -> None:
    """Record EVENTS_EACH events for the same flask, each in its own transaction."""
    factory = make_session_factory(engine)
    try:
        start.wait()
        for n in range(EVENTS_EACH):
            with factory() as session:
                officer = session.get(User, officer_id)
                session.commit()  # as the API does: the chain lock opens a fresh transaction
                record_custody_event(session, officer, {
                    "client_event_id": str(uuid.uuid4()), "sscc": sscc, "checkpoint": post,
                    "kind": "inspection", "seal_intact": True,
                    "event_time": (datetime.now(timezone.utc) - timedelta(minutes=n)).isoformat()})
                session.commit()
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        failures.append(exc)


def test_two_officers_recording_the_same_flask_at_once_leave_one_valid_chain(fresh_engine: Engine) -> None:
    officers, sscc, post = _setup(fresh_engine)
    start, failures = threading.Barrier(WRITERS), []  # type: ignore[var-annotated]
    threads = [threading.Thread(target=_writer, args=(fresh_engine, officer, sscc, post, start, failures))
               for officer in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with make_session_factory(fresh_engine)() as session:
        report = verify_chain(session, CustodyEvent)
        assert report.ok, report.reason
        assert report.count == WRITERS * EVENTS_EACH
        assert session.get(ChainHead, "custody_events").length == WRITERS * EVENTS_EACH
        signed = session.scalars(select(ChainSignature.length).where(ChainSignature.chain == "custody_events"))
        assert sorted(signed) == list(range(1, WRITERS * EVENTS_EACH + 1))  # every head signed once, in turn
        recorders = set(session.scalars(select(CustodyEvent.officer_id)))
        assert recorders == set(officers)
