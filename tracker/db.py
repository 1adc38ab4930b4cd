"""Engines and sessions for the tracker's database, without Flask.

The web app, the CLI and the beacon gateway all open sessions through here, so
SQLite gets the same foreign-key enforcement everywhere.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; SQLite connections enforce foreign keys and wait on locks."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


#: A PostgreSQL server that does not accept a connection within this many seconds is down.
CONNECT_TIMEOUT_S = 3
#: libpq keepalives: a connection to a server that vanished (failover, network) fails in about 20 s.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}


def make_service_engine(url: str) -> Engine:
    """Create the engine of a long-running service (portal, gateway) that must outlive database restarts.

    Every pooled connection is checked (``pool_pre_ping``) before use, so one dropped by a restart
    is replaced rather than failed on; on PostgreSQL a connection attempt gives up after
    ``CONNECT_TIMEOUT_S`` and a vanished server is noticed by keepalives.
    """
    if not url.startswith("postgresql"):
        return make_engine(url, pool_pre_ping=True)
    return make_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S, **KEEPALIVES})


def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
    # SAVEPOINTs and transactional DDL work (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    connection.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit when the block succeeds, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def among(session: Session, column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """Return ``column IN (values)``: on PostgreSQL ``column = ANY(array)``, one parameter for any count.

    An expanding ``IN`` binds one parameter per value, so a batch of a thousand ids is a new
    statement each time: converted again by the driver and planned again by the server.
    The array form is one constant statement, which the driver caches and the server prepares.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
