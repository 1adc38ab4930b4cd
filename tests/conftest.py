"""Shared fixtures: the app, a client, a database session per test, and factories.

Every test that uses ``db`` runs on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL too. Each test runs inside a transaction that is rolled back afterwards.
Under CI=true a missing PostgreSQL or MQTT broker fails instead of skipping.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import LineString
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from tests.openapi_contract import ContractClient
from tests.pg_cluster import pg_cluster  # noqa: F401  (a fixture: a throw-away PostgreSQL cluster)
from tracker import create_app, migrate
from tracker.config import normalise_database_url
from tracker.db import make_engine
from tracker.domain import signing
from tracker.domain.gs1 import make_sscc
from tracker.domain.users import create_user
from tracker.models import (
    Activity,
    Checkpoint,
    CheckpointKind,
    Container,
    ContainerType,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    License,
    Role,
    User,
)
from tracker.web.database import EXTENSION_KEY

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
MQTT_URL = os.environ.get("MQTT_URL")
PASSWORD = "correct horse battery"
#: The real-world data sets the tests read, each beside its source's licence (tests/data/README.md).
DATA = Path(__file__).resolve().parent / "data"


def need_service(name: str, configured: bool, reachable: bool, how: str) -> None:
    """Skip (locally) or fail (under CI=true) when a real service is missing."""
    if configured and reachable:
        return
    reason = f"{name} {'unreachable' if configured else 'not configured'}: {how}"
    if IN_CI:
        pytest.fail(f"CI=true requires {reason}", pytrace=False)
    pytest.skip(reason)


def tcp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def postgres_url() -> str:
    """Return TEST_DATABASE_URL, skipping or failing the test when PostgreSQL is absent."""
    url = TEST_DATABASE_URL or ""
    parsed = urlparse(url)
    reachable = bool(url) and tcp_reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    need_service("PostgreSQL", bool(url), reachable,
                 "set TEST_DATABASE_URL=postgresql://user@host:5432/empty_db to run these tests")
    return normalise_database_url(url)


def reset_postgres_schema(url: str) -> None:
    """Empty a PostgreSQL test database completely (only one named as a test database)."""
    name = make_url(url).database or ""
    if not re.search(r"test|_ci_", name):
        pytest.exit(f"refusing to empty PostgreSQL database {name!r}: TEST_DATABASE_URL must name a "
                    "throw-away database whose name contains 'test'", returncode=4)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS position_months CASCADE"))  # monthly partitions (0016)
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def evidence_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One evidence signing key for the run (the app fixture signs with it too)."""
    path = tmp_path_factory.mktemp("evidence-key") / "evidence-signing-key.pem"
    signing.create_key_file(path)
    signing.use_key_file(path)
    os.environ["EVIDENCE_KEY_FILE"] = str(path)  # gateways and servers the tests start sign with it too
    yield path
    os.environ.pop("EVIDENCE_KEY_FILE", None)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database migrated to head, once per backend for the whole run."""
    if request.param == "postgresql":
        url = postgres_url()
        reset_postgres_schema(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@contextmanager
def database_of_its_own(shared: Engine, folder: Path) -> Iterator[Engine]:
    """A fresh database migrated to head, on the backend of ``shared``, dropped afterwards.

    For tests whose processes commit (a gateway stores, alerts and seals evidence): what they
    leave must not reach the run's shared database, whose whole chains other tests verify.
    """
    if shared.dialect.name == "postgresql":
        name = f"{shared.url.database}_own_{secrets.token_hex(3)}"
        with shared.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text(f'CREATE DATABASE "{name}"'))
        url = shared.url.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{folder / 'own.sqlite3'}"
    migrate.upgrade(url)
    own = make_engine(url)
    try:
        yield own
    finally:
        own.dispose()
        if shared.dialect.name == "postgresql":
            with shared.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
                admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Session factory whose commits become savepoints of the test's transaction."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A database session for the test."""
    with sessions() as session:
        yield session


@pytest.fixture
def app(engine: Engine, sessions: sessionmaker[Session], tmp_path: Any, evidence_key: Path) -> Iterator[Flask]:
    """The tracker app on the test database (same transaction as ``db``), signing with the run's key; its
    clients check the API's answers against the OpenAPI document (tests/openapi_contract.py)."""
    app = create_app({
        "TESTING": True,
        "EVIDENCE_KEY_FILE": str(evidence_key),
        "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": secrets.token_hex(16),
    })
    app.extensions[EXTENSION_KEY] = sessions
    app.test_client_class = ContractClient  # every API answer a test receives is checked against the document
    yield app
    app.extensions["tracker.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


class Auth:
    """Sign a test client in and out the way a browser does (with the CSRF token)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, login: str, password: str = PASSWORD) -> Any:
        token = self.csrf_token()
        return self.client.post("/login", data={"login": login, "password": password, "csrf_token": token})

    def logout(self) -> Any:
        token = self.csrf_token("/")
        return self.client.post("/logout", data={"csrf_token": token})

    def sign_in_as(self, user: Any) -> None:
        """Sign ``user`` (made by make_user, whose password is PASSWORD) in through the form."""
        response = self.login(user.login)
        assert response.status_code == 302, f"{user.login} could not sign in"

    def post_form(self, path: str, data: dict[str, Any], form_page: str | None = None,
                  **kwargs: Any) -> Any:
        """POST ``data`` to ``path`` as the page's form would: with the CSRF token of ``form_page``
        (default: ``path`` itself), so a test also proves the page carries the token."""
        token = self.csrf_token(form_page or path)
        return self.client.post(path, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    """Browser-style sign-in helper for ``client``."""
    return Auth(client)


# ---------------------------------------------------------------- factories
#: Numbers for unique licence numbers, SSCCs, references and device ids across every part.
serial = count(1)


@pytest.fixture
def make_dealer(db: Session) -> Callable[..., Dealer]:
    """Factory: a dealer, licensed for domestic trade unless ``licensed=False``."""

    def make(licensed: bool = True, activities: set[Activity] | None = None, **kw: Any) -> Dealer:
        n = next(serial)
        kw.setdefault("legal_name", f"Dealer {n} LLC")
        kw.setdefault("taxpayer_number", f"{n:014d}")
        kw.setdefault("country", "KG")
        dealer = Dealer(**kw)
        db.add(dealer)
        if licensed:
            licence = License(number=f"KG-HG-T-{n:05d}", dealer=dealer, valid_from=date(2026, 1, 1),
                              valid_to=date(2027, 12, 31), annual_quota_g=10_000_000)
            licence.activities = activities or {Activity.DOMESTIC_TRADE, Activity.STORAGE}
            db.add(licence)
        db.flush()
        return dealer

    return make


@pytest.fixture
def make_checkpoint(db: Session) -> Callable[..., Checkpoint]:
    """Factory: a checkpoint (defaults to a customs post in Osh)."""

    def make(**kw: Any) -> Checkpoint:
        n = next(serial)
        kw.setdefault("code", f"CP{n}")
        kw.setdefault("name", f"Checkpoint {n}")
        kw.setdefault("kind", CheckpointKind.CUSTOMS_POST)
        kw.setdefault("lat", 40.528)
        kw.setdefault("lon", 72.799)
        checkpoint = Checkpoint(**kw)
        db.add(checkpoint)
        db.flush()
        return checkpoint

    return make


@pytest.fixture
def make_user(db: Session, make_dealer: Callable[..., Dealer],
              make_checkpoint: Callable[..., Checkpoint]) -> Callable[..., User]:
    """Factory: a user of ``role``; traders get a dealer, officers a checkpoint."""

    def make(role: Role | str = Role.TRADER, **kw: Any) -> User:
        role = Role(role)
        n = next(serial)
        kw.setdefault("login", f"{role.value.replace('_', '.')}{n}")
        kw.setdefault("name", f"{role.value.title()} {n}")
        kw.setdefault("password", PASSWORD)
        if role == Role.TRADER:
            kw.setdefault("dealer", make_dealer())
        if role == Role.CUSTOMS_OFFICER:
            kw.setdefault("checkpoints", [make_checkpoint()])
        return create_user(db, role=role, **kw)

    return make


@pytest.fixture
def make_container(db: Session, make_dealer: Callable[..., Dealer]) -> Callable[..., Container]:
    """Factory: a full 34.5 kg flask owned and held by ``owner``."""

    def make(owner: Dealer | None = None, **kw: Any) -> Container:
        owner = owner or make_dealer()
        kw.setdefault("sscc", make_sscc(0, "470000001", next(serial)))
        kw.setdefault("container_type", ContainerType.FLASK_34_5KG)
        kw.setdefault("tare_g", 2_700)
        kw.setdefault("capacity_g", 34_500)
        kw.setdefault("net_g", 34_500)
        container = Container(owner_id=owner.id, custodian_id=owner.id, **kw)
        db.add(container)
        db.flush()
        return container

    return make


@pytest.fixture
def make_declaration(db: Session, make_dealer: Callable[..., Dealer],
                     make_checkpoint: Callable[..., Checkpoint],
                     make_container: Callable[..., Container]) -> Callable[..., Declaration]:
    """Factory: a domestic declaration Osh → Bishkek with one flask, as a draft by default."""

    def make(declarant: Dealer | None = None, **kw: Any) -> Declaration:
        declarant = declarant or make_dealer()
        status = DeclarationStatus(kw.pop("status", DeclarationStatus.DRAFT))
        kw.setdefault("kind", DeclarationKind.DOMESTIC)
        kw.setdefault("consignee", make_dealer())
        kw.setdefault("origin", make_checkpoint(lat=40.528, lon=72.799))
        kw.setdefault("destination", make_checkpoint(lat=42.875, lon=74.590))
        kw.setdefault("route", LineString([(72.799, 40.528), (73.0, 40.933), (74.590, 42.875)]))
        start = datetime.now(timezone.utc) + timedelta(days=2)
        kw.setdefault("planned_departure", start)
        kw.setdefault("planned_arrival", start + timedelta(days=1))
        if status not in (DeclarationStatus.DRAFT, DeclarationStatus.SUBMITTED,
                          DeclarationStatus.REJECTED, DeclarationStatus.CANCELLED):
            kw.setdefault("reference", f"26KGHG{next(serial):010d}0")
        declaration = Declaration(declarant=declarant, consignor=kw.pop("consignor", declarant),
                                  status=status, **kw)
        declaration.items = [DeclarationItem(container=make_container(owner=declarant), declared_net_g=34_500)]
        db.add(declaration)
        db.flush()
        return declaration

    return make


# ---------------------------------------------------------------- gateway ingestion (engineer E)
@pytest.fixture
def make_beacon(db: Session) -> Callable[..., Any]:
    """Factory: a registered beacon (an IMEI-like device id, JSON protocol by default)."""
    from tracker.models import Beacon, BeaconProtocol

    def make(**kw: Any) -> Beacon:
        kw.setdefault("device_id", f"8644540{next(serial):08d}")
        kw.setdefault("protocol", BeaconProtocol.JSON)
        beacon = Beacon(**kw)
        db.add(beacon)
        db.flush()
        return beacon

    return make


# ---------------------------------------------------------------- route evaluation (engineer D)
@pytest.fixture
def make_tracked_declaration(make_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Checkpoint],
                             make_beacon: Callable[..., Any]) -> Callable[..., Declaration]:
    """Factory: a declaration in transit on the demo road Khaidarkan → Ak-Jol, with its own beacon."""
    from tracker.domain import geography as geo

    def make(**kw: Any) -> Declaration:
        gate, akjol = geo.site("KHD-GATE"), geo.site("AKJOL")
        kw.setdefault("status", DeclarationStatus.IN_TRANSIT)
        kw.setdefault("route", geo.route_line(geo.KHAIDARKAN_AKJOL))
        kw.setdefault("origin", make_checkpoint(lat=gate.lat, lon=gate.lon, radius_m=gate.radius_m))
        kw.setdefault("destination", make_checkpoint(lat=akjol.lat, lon=akjol.lon, radius_m=akjol.radius_m))
        kw.setdefault("beacon", make_beacon(reporting_period_s=kw.pop("reporting_period_s", 30)))
        return make_declaration(**kw)

    return make


def post_at(officer: Any, *checkpoints: Checkpoint) -> Any:
    """Post ``officer`` at ``checkpoints`` too (an officer records custody only where posted); return them."""
    for checkpoint in checkpoints:
        if checkpoint not in officer.checkpoints:
            officer.checkpoints.append(checkpoint)
    return officer
