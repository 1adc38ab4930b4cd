"""The benchmarks' own PostgreSQL database: made fresh and migrated for a run, dropped after it."""
from __future__ import annotations

from sqlalchemy import Engine, text

from tracker import migrate
from tracker.db import make_engine

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _admin(statement: str) -> None:
    admin = make_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


def fresh_database(name: str, pool_size: int) -> Engine:
    """Create (again, if it is left from a crashed run) and migrate database ``name``; return an engine on it."""
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    url = f"{SERVER}/{name}"
    migrate.upgrade(url)
    return make_engine(url, pool_size=pool_size)


def drop_database(engine: Engine, name: str) -> None:
    """Close ``engine`` and drop database ``name``."""
    engine.dispose()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
