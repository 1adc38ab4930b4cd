"""The portal and API while the database is away: 503 with Retry-After, never a 500, and back by itself.

The app runs on a throw-away PostgreSQL cluster (tests/pg_cluster.py) that the test stops and
starts again; the shared database of the run is never touched.
"""
from __future__ import annotations

import secrets
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tests.openapi_contract import ContractClient
from tests.pg_cluster import PgCluster
from tracker import create_app
from tracker.db import make_engine
from tracker.domain.users import create_user
from tracker.models import Role


@pytest.fixture
def cluster_app(pg_cluster: PgCluster, evidence_key, tmp_path) -> Iterator[Flask]:
    """The tracker on the throw-away cluster, with an auditor who may read everything."""
    app = create_app({"TESTING": True, "DATABASE_URL": pg_cluster.url, "EVIDENCE_KEY_FILE": str(evidence_key),
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": secrets.token_hex(16)})
    app.test_client_class = ContractClient
    yield app
    if not pg_cluster.running():
        pg_cluster.start()


@pytest.fixture
def auditor_client(cluster_app: Flask, pg_cluster: PgCluster, fast_passwords: None) -> FlaskClient:
    """A client signed in as a new auditor on the cluster's database."""
    engine = make_engine(pg_cluster.url)
    login = f"auditor.{secrets.token_hex(3)}"
    with Session(engine) as session:
        create_user(session, login=login, name="Outage Auditor", role=Role.AUDITOR, password=PASSWORD)
        session.commit()
    engine.dispose()
    client = cluster_app.test_client()
    assert client.post("/api/v1/session", json={"login": login, "password": PASSWORD}).status_code == 200
    return client


def test_while_the_database_is_away_pages_and_api_answer_503_and_recover_without_a_restart(
        auditor_client: FlaskClient, pg_cluster: PgCluster) -> None:
    assert auditor_client.get("/api/v1/declarations").status_code == 200
    pg_cluster.stop()
    api = auditor_client.get("/api/v1/declarations")
    assert api.status_code == 503 and api.json["error"] == "database_unavailable"
    assert api.headers["Retry-After"] == "5"
    page = auditor_client.get("/declarations")
    assert page.status_code == 503 and "try again" in page.get_data(as_text=True)
    pg_cluster.start()
    assert auditor_client.get("/api/v1/declarations").status_code == 200
    assert auditor_client.get("/declarations").status_code == 200
