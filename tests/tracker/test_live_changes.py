"""The live pages' change feed: new fixes, alert steps and custody events after a cursor, scoped like the pages;
what wakes the streams (the bell's notifications too)."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Callable, Iterator

import psycopg
import pytest
from sqlalchemy import Connection, Engine, event, insert
from sqlalchemy.orm import Session

from tracker.domain.alerts import acknowledge_alert, open_alert
from tracker.domain.changes import CHANNEL, Cursor, Scope, announce, changes_since, current_cursor
from tracker.domain.notifications.fanout import fan_out
from tracker.domain.notifications.inbox import mark_all_read, mark_read, notifications_of
from tracker.models import Declaration, DeclarationStatus, Position, Role, User, utcnow
from tracker.web.live_signal import Signal, _conninfo, signal_for


def add_fix(db: Session, declaration: Declaration, lat: float, lon: float, ago_s: float = 60,
            flags: list[str] | None = None) -> None:
    db.execute(insert(Position), [{"beacon_id": declaration.beacon_id, "declaration_id": declaration.id,
                                   "fix_time": utcnow() - timedelta(seconds=ago_s), "lat": lat, "lon": lon,
                                   "flags": flags or [], "protocol": "json", "raw": b"{}"}])


@pytest.fixture
def two_traders(make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
                make_user: Callable[..., User]) -> dict[str, Any]:
    """Two traders' declarations in transit, each with its own beacon and trader account."""
    ours = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    theirs = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    return {"ours": ours, "theirs": theirs,
            "trader": make_user(Role.TRADER, dealer=ours.declarant),
            "auditor": make_user(Role.AUDITOR)}


def test_a_new_fix_is_reported_once_as_the_declarations_last(db: Session, two_traders: dict[str, Any]) -> None:
    ours, auditor = two_traders["ours"], two_traders["auditor"]
    start = current_cursor(db)
    add_fix(db, ours, 41.0, 73.0, ago_s=120)
    add_fix(db, ours, 41.1, 73.1, ago_s=60)
    changes = changes_since(db, auditor, start)
    assert [(f.declaration_id, f.lat, f.lon) for f in changes.fixes] == [(ours.id, 41.1, 73.1)]
    assert changes.cursor == current_cursor(db)
    assert not changes_since(db, auditor, changes.cursor), "nothing new after the new cursor"


def test_a_trader_never_hears_of_another_traders_fixes_or_alerts(db: Session, two_traders: dict[str, Any]) -> None:
    ours, theirs, trader = two_traders["ours"], two_traders["theirs"], two_traders["trader"]
    start = current_cursor(db)
    add_fix(db, theirs, 42.0, 74.0)
    open_alert(db, kind="off_route", declaration=theirs)
    seen = changes_since(db, trader, start)
    assert not seen, seen
    assert seen.cursor != start, "the cursor moves past what the trader may not see"
    add_fix(db, ours, 41.2, 73.2)
    assert [f.declaration_id for f in changes_since(db, trader, seen.cursor).fixes] == [ours.id]


def test_a_future_fix_does_not_move_the_marker(db: Session, two_traders: dict[str, Any]) -> None:
    start = current_cursor(db)
    add_fix(db, two_traders["ours"], 45.0, 80.0, ago_s=-3600, flags=["future_fix"])
    assert not changes_since(db, two_traders["auditor"], start).fixes


def test_alert_steps_and_custody_events_are_reported(db: Session, two_traders: dict[str, Any],
                                                     make_user: Callable[..., User]) -> None:
    ours, auditor = two_traders["ours"], two_traders["auditor"]
    start = current_cursor(db)
    alert = open_alert(db, kind="off_route", declaration=ours)
    acknowledge_alert(db, alert, make_user(Role.CUSTOMS_OFFICER))
    steps = changes_since(db, auditor, start).alerts
    assert [(a.alert_id, a.action, a.status) for a in steps] == [(alert.id, "opened", "acknowledged"),
                                                                  (alert.id, "acknowledged", "acknowledged")]


def test_one_declarations_scope_leaves_out_the_others(db: Session, two_traders: dict[str, Any]) -> None:
    ours, theirs, auditor = two_traders["ours"], two_traders["theirs"], two_traders["auditor"]
    start = current_cursor(db)
    add_fix(db, theirs, 42.0, 74.0)
    open_alert(db, kind="off_route", declaration=theirs)
    assert not changes_since(db, auditor, start, Scope(declaration_id=ours.id))
    assert changes_since(db, auditor, start, Scope(declaration_id=theirs.id)).declaration_ids() == [theirs.id] * 2


def test_an_officers_checkpoint_scope_is_what_comes_to_or_through_their_posts(
        db: Session, two_traders: dict[str, Any]) -> None:
    ours, theirs, auditor = two_traders["ours"], two_traders["theirs"], two_traders["auditor"]
    start = current_cursor(db)
    add_fix(db, ours, 41.0, 73.0)
    add_fix(db, theirs, 42.0, 74.0)
    posts = Scope(posts=(ours.destination_id,))
    assert [f.declaration_id for f in changes_since(db, auditor, start, posts).fixes] == [ours.id]


@pytest.mark.parametrize("raw", ["", "1-2", "1-2-3-4", "a-b-c", "-1-2-3", "1-2-3\x00", "1-2-3\n", "9" * 19 + "-1-1",
                                 "１-２-３", None])
def test_a_cursor_that_is_not_ours_is_not_read(raw: str | None) -> None:
    assert Cursor.parse(raw) is None


def test_a_cursor_reads_back_and_is_held_to_the_present() -> None:
    cursor = Cursor.parse("12-3-40")
    assert cursor == Cursor(12, 3, 40) and cursor.token() == "12-3-40"
    assert cursor.at_most(Cursor(10, 5, 5)) == Cursor(10, 3, 5)


def test_announce_wakes_the_streams_on_commit_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite the streams poll")
    url = engine.url.render_as_string(hide_password=False)
    with psycopg.connect(_conninfo(url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with Session(engine) as session:
            announce(session)
            session.rollback()
        assert list(listener.notifies(timeout=0.5)) == [], "a rolled-back transaction announces nothing"
        with Session(engine) as session:
            announce(session)
            session.commit()
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [CHANNEL]


def test_the_process_signal_wakes_waiting_streams_after_a_commit(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite the streams poll")
    signal = signal_for(engine.url.render_as_string(hide_password=False))
    deadline = time.monotonic() + 10
    while not signal.listening and time.monotonic() < deadline:
        time.sleep(0.05)
    assert signal.listening
    seen = signal.generation()
    with Session(engine) as session:
        announce(session)
        session.commit()
    signal.wait(seen, 5)
    assert signal.generation() != seen


def test_a_signal_wait_ends_at_its_timeout_without_a_wake_up() -> None:
    signal = Signal()
    seen = signal.generation()
    signal.wait(seen, 0.01)
    assert signal.generation() == seen


@pytest.fixture
def notifies(connection: Connection) -> Iterator[list[str]]:
    """The ``pg_notify`` statements the test's transaction runs (delivered on commit, see above)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "pg_notify" in statement:
            sent.append(statement)

    event.listen(connection, "before_cursor_execute", seen)
    yield sent
    event.remove(connection, "before_cursor_execute", seen)


def test_a_notification_written_or_read_announces_itself(engine: Engine, db: Session, two_traders: dict[str, Any],
                                                         notifies: list[str]) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite the streams poll")
    trader = two_traders["trader"]
    for _ in range(2):
        open_alert(db, kind="off_route", declaration=two_traders["ours"])
        db.commit()
        notifies.clear()  # the alert step's own
        fan_out(db, email_on=False)
        db.commit()
        assert notifies, "a notification written"
    first, _second = db.scalars(notifications_of(trader)).all()
    notifies.clear()
    mark_read(db, trader, first.id)
    db.commit()
    assert notifies, "one notification read"
    notifies.clear()
    mark_all_read(db, trader)
    db.commit()
    assert notifies, "every notification read"
