"""Migrations build the schema from nothing, tear it down, and agree with the models."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import postgres_url
from tracker import migrate
from tracker.db import make_engine
from tracker.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    server_url = make_url(postgres_url())
    name = f"{server_url.database}_mig_{secrets.token_hex(4)}"
    admin = make_engine(server_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_to_head_creates_every_table(empty_database: str) -> None:
    assert tables(empty_database) == set()
    migrate.upgrade(empty_database)
    assert migrate.current_revision(empty_database) == migrate.head_revision()
    assert tables(empty_database) == set(Base.metadata.tables)


def test_downgrade_to_base_and_upgrade_again(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "base")
    assert tables(empty_database) == set()
    assert migrate.current_revision(empty_database) is None
    migrate.upgrade(empty_database)
    assert tables(empty_database) == set(Base.metadata.tables)


def test_models_and_migrations_agree(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert migrate.schema_differences(empty_database) == []


def test_a_model_change_without_migration_is_detected(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_users_dealer_id"))
    engine.dispose()
    differences = migrate.schema_differences(empty_database)
    assert [d[0] for d in differences] == ["add_index"]
