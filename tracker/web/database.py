"""One database session per request, opened lazily and closed at teardown."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import make_service_engine, make_session_factory

EXTENSION_KEY = "tracker.sessions"


def init_app(app: Flask, database_url: str) -> None:
    """Bind a session factory for ``database_url`` to ``app``."""
    engine = make_service_engine(database_url)  # outlives database restarts: see tracker.db
    app.extensions["tracker.engine"] = engine
    app.extensions[EXTENSION_KEY] = make_session_factory(engine)
    app.teardown_appcontext(_close_session)


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    """Return the app's session factory (tests may replace it)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
