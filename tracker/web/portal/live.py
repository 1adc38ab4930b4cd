"""Live updates of the Now map, a declaration's page, the officer's checkpoint page and the bell (server-sent events).

``GET /live?topic=now|checkpoint|declaration|notifications[&declaration=<id>][&since=<cursor>]`` answers
``text/event-stream``. Events: ``change`` (what changed, :meth:`Changes.as_json`; its id is the
cursor, so a reconnecting browser resumes with ``Last-Event-ID``), ``bell`` (the reader's own unread
notifications, :func:`bell_state`, first thing and whenever the count changes: every stream sends it,
so a live page needs no second stream; ``topic=notifications`` sends nothing else, for the other
pages of a signed-in user), ``tick`` (every
``LIVE_HEARTBEAT_SECONDS``, with the page's "As of" sentence: the page is current as of then),
``denied`` (the session ended or the user's role changed: the stream ends for good) and ``end``
(after ``LIVE_MAX_SECONDS`` the stream closes, freeing its thread; the browser reconnects).

The stream holds one thread of its web process, never a database connection while it waits:
each step opens a short session. ``LIVE_MAX_STREAMS`` streams per process at most; beyond, a
``busy`` event ends the answer (the page then refreshes itself periodically and tries the stream
again later). On PostgreSQL a step runs when a writer's ``NOTIFY`` arrives
(:mod:`tracker.web.live_signal`), on SQLite every ``LIVE_POLL_SECONDS``; never more than once a second.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from flask import Response, abort, current_app, g, request, session, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tracker.domain.access import Action, may, sees_everything
from tracker.domain.changes import Changes, Cursor, Scope, changes_since, current_cursor
from tracker.domain.declarations import find_declaration
from tracker.domain.errors import NotFound
from tracker.domain.notifications.inbox import unread_count
from tracker.domain.sessions import check_session
from tracker.models import User, UserSession, utcnow
from tracker.web.auth import acting_user, now, session_policy
from tracker.web.database import get_session, session_factory
from tracker.web.i18n import when
from tracker.web.live_signal import Signal, signal_for
from tracker.web.portal.blueprint import bp
from tracker.web.portal.notifications import bell_state

log = logging.getLogger(__name__)
#: Settings (environment or app config) and their defaults.
DEFAULTS = {"LIVE_MAX_SECONDS": 300.0, "LIVE_HEARTBEAT_SECONDS": 15.0, "LIVE_POLL_SECONDS": 1.5,
            "LIVE_MAX_STREAMS": 16.0}
#: Milliseconds a browser waits before reconnecting (after a closed stream; after a busy answer).
RETRY_MS, BUSY_RETRY_MS = 2000, 60000
#: The least time between two looks at the database of one stream, however often it is woken.
MIN_STEP_S = 1.0
_slots_lock = threading.Lock()


def setting(name: str) -> float:
    """Return a live-update setting: the app's config, else the environment, else its default."""
    raw = current_app.config.get(name, os.environ.get(name))
    try:
        return max(float(raw), 0.0) if raw not in (None, "") else DEFAULTS[name]
    except (TypeError, ValueError):
        return DEFAULTS[name]


@dataclass(frozen=True)
class Reader:
    """Who reads a stream: the session behind the cookie, the user and the role they had when it opened."""

    secret: str
    user_id: int
    role: str


@dataclass(frozen=True)
class Step:
    """What one look at the database found: the changes after the cursor, and the reader's unread count."""

    changes: Changes
    unread: int


def _scope(user: User) -> Scope | None:
    """Read the topic of the query string into a scope the user may follow (else 400, 403 or 404).

    None for ``notifications``: the stream then carries only the reader's bell.
    """
    topic = request.args.get("topic", "")
    if topic == "notifications":
        return None
    if topic == "now":
        if not sees_everything(user):
            abort(403, description=_("Audit pages are for auditors and the licensing authority."))
        return Scope()
    if topic == "checkpoint":
        if not may(user, Action.RECORD_CUSTODY):
            abort(403)
        return Scope(posts=tuple(post.id for post in user.checkpoints))
    raw = request.args.get("declaration", "")
    if topic != "declaration" or not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        abort(400)
    try:
        return Scope(declaration_id=find_declaration(get_session(), user, int(raw)).id)
    except NotFound:
        abort(404)


@bp.app_template_global("live_cursor")
def live_cursor() -> str:
    """Return where a page's live stream starts: after every row stored when the page is drawn."""
    return current_cursor(get_session()).token()


def _slots() -> threading.Semaphore:
    with _slots_lock:
        return current_app.extensions.setdefault(  # type: ignore[no-any-return]
            "tracker.live_slots", threading.Semaphore(int(setting("LIVE_MAX_STREAMS"))))


@bp.get("/live")
def live():  # type: ignore[no-untyped-def]
    """Stream what changes on a live page (see the module docstring); 401 without a session."""
    if not current_user.is_authenticated:
        abort(401)
    user, db = acting_user(), get_session()
    scope = _scope(user)
    start = current_cursor(db)
    asked = Cursor.parse(request.headers.get("Last-Event-ID")) or Cursor.parse(request.args.get("since"))
    reader = Reader(str(session.get("sid", "")), user.id, user.role.value)
    when(utcnow())  # settle the user's language and time zone while their row is at hand
    g.pop("db_session").close()  # the stream holds no connection while it waits
    cursor = start if asked is None else asked.at_most(start)
    return _streamed(_stream(session_factory(), signal_for(_database_url()), reader, scope, cursor))


def _streamed(stream: Iterator[str]) -> Response:
    """Answer with ``stream`` while it holds one of the process's places (else a ``busy`` answer)."""
    slots = _slots()
    if not slots.acquire(blocking=False):
        return _busy()
    freed = threading.Event()

    def free() -> None:  # once, when the server is done with the answer (or the browser went away)
        if not freed.is_set():
            freed.set()
            slots.release()

    response = Response(stream_with_context(stream), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(free)
    return response


def _busy() -> Response:
    """Answer a stream this process has no room for: one ``busy`` event (the page then polls), not an error."""
    return Response(f"retry: {BUSY_RETRY_MS}\n\n" + message("busy", {}), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store"})


def _database_url() -> str:
    engine = current_app.extensions["tracker.engine"]
    return engine.url.render_as_string(hide_password=False)  # type: ignore[no-any-return]


def message(kind: str, data: dict[str, Any], cursor: Cursor | None = None) -> str:
    """Return one server-sent event."""
    head = f"id: {cursor.token()}\n" if cursor is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _tick(cursor: Cursor) -> str:
    return message("tick", {"as_of": _("As of %(time)s.", time=when(utcnow()))}, cursor)


def _stream(sessions: sessionmaker[Session], signal: Signal, reader: Reader, scope: Scope | None,
            cursor: Cursor) -> Iterator[str]:
    """Send the changes after ``cursor`` and the bell's count as they come, a tick now and then, until the end."""
    yield f"retry: {RETRY_MS}\n\n"
    started, ticked, unread = time.monotonic(), 0.0, -1
    heartbeat, lifetime = setting("LIVE_HEARTBEAT_SECONDS") or 15.0, setting("LIVE_MAX_SECONDS")
    poll = setting("LIVE_POLL_SECONDS") or 1.5
    while True:
        seen, stepped = signal.generation(), time.monotonic()
        try:
            step = _step(sessions, reader, scope, cursor)
        except ReaderGone:
            yield message("denied", {"status": 401})
            return
        if step is not None:
            cursor = step.changes.cursor
            if step.changes:
                yield message("change", step.changes.as_json(), cursor)
            if step.unread != unread:
                unread = step.unread
                yield message("bell", bell_state(unread))
        clock = time.monotonic()
        if clock - ticked >= heartbeat:
            ticked = clock
            yield _tick(cursor)
        if clock - started >= lifetime:
            yield message("end", {})
            return
        left = lifetime - (clock - started)
        if signal.listening:
            # A busy gateway commits many times a second: one step a second at most, whatever wakes it.
            time.sleep(max(0.0, min(MIN_STEP_S, left) - (time.monotonic() - stepped)))
            signal.wait(seen, min(heartbeat - (clock - ticked), left))
        else:
            signal.wait(seen, min(poll - (time.monotonic() - stepped), left))  # polling: nothing wakes it


class ReaderGone(Exception):
    """The stream's reader may no longer read it: their session ended, or their role changed."""


def _step(sessions: sessionmaker[Session], reader: Reader, scope: Scope | None, cursor: Cursor) -> Step | None:
    """Return what changed after ``cursor`` (None while the database is away); raise ReaderGone when it is over."""
    try:
        with sessions() as db:
            user = _still_reading(db, reader)
            if user is None:
                raise ReaderGone
            changes = changes_since(db, user, cursor, scope) if scope is not None else Changes(cursor)
            return Step(changes, unread_count(db, user))
    except SQLAlchemyError as exc:
        log.warning("live updates: the database did not answer (%s); trying again", exc.__class__.__name__)
        return None


def _still_reading(db: Session, reader: Reader) -> User | None:
    """Return the reader's user while their session lives and their role is the one they opened with.

    The check changes nothing: a stream alone does not keep an idle session alive.
    """
    found = check_session(db, reader.secret, now(), session_policy()) if reader.secret else None
    db.rollback()
    if not isinstance(found, UserSession) or found.user_id != reader.user_id:
        return None
    user = db.get(User, reader.user_id)
    return user if user is not None and user.active and user.role.value == reader.role else None
