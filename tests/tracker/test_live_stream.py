"""GET /live: the live pages' server-sent events, read as a browser reads them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import Auth
from tests.tracker.test_live_changes import add_fix
from tracker.domain.alerts import open_alert
from tracker.domain.notifications.fanout import fan_out
from tracker.domain.notifications.inbox import mark_read, notifications_of, unread_count
from tracker.domain.sessions import end_all_sessions
from tracker.models import Declaration, DeclarationStatus, Role, User
from tracker.web.portal import live

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    id: str | None


class Stream:
    """The events of one open stream, read as they come."""

    def __init__(self, response: Any) -> None:
        self.response, self.buffer = response, ""
        self.chunks: Iterator[bytes] = response.iter_encoded()

    def next(self) -> Event:
        while "\n\n" not in self.buffer:
            self.buffer += next(self.chunks).decode()
        block, self.buffer = self.buffer.split("\n\n", 1)
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" not in fields:
            return self.next()  # the retry line
        return Event(fields["event"], json.loads(fields["data"]), fields.get("id"))

    def until(self, kind: str, limit: int = 50) -> Event:
        for _ in range(limit):
            event = self.next()
            if event.kind == kind:
                return event
        raise AssertionError(f"no {kind} event")

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def live_app(app: Flask) -> Flask:
    app.config.update(LIVE_POLL_SECONDS=0.02, LIVE_HEARTBEAT_SECONDS=0.1, LIVE_MAX_SECONDS=30)
    return app


@pytest.fixture
def road(make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
         make_user: Callable[..., User]) -> dict[str, Any]:
    ours = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    theirs = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    return {"ours": ours, "theirs": theirs, "trader": make_user(Role.TRADER, dealer=ours.declarant),
            "auditor": make_user(Role.AUDITOR), "officer": make_user(Role.CUSTOMS_OFFICER)}


def open_stream(client: FlaskClient, query: str, **headers: str) -> Stream:
    response = client.get(f"/live?{query}", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/event-stream"
    return Stream(response)


def test_the_now_stream_sends_a_new_fix_and_alert(live_app: Flask, client: FlaskClient, auth: Auth, db: Session,
                                                  road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now")
    assert "As of" in stream.until("tick").data["as_of"]
    add_fix(db, road["ours"], 41.5, 73.5)
    open_alert(db, kind="off_route", declaration=road["ours"])
    db.commit()
    change = stream.until("change")
    assert change.data["declarations"] == [road["ours"].id]
    assert [(f["lat"], f["lon"]) for f in change.data["fixes"]] == [(41.5, 73.5)]
    assert [(a["kind"], a["action"]) for a in change.data["alerts"]] == [("off_route", "opened")]
    assert change.id == change.data["cursor"]
    stream.close()


def test_a_trader_follows_their_own_declaration_and_nothing_of_anothers(
        live_app: Flask, client: FlaskClient, auth: Auth, db: Session, road: dict[str, Any]) -> None:
    auth.sign_in_as(road["trader"])
    assert client.get(f"/live?topic=declaration&declaration={road['theirs'].id}").status_code == 404
    assert client.get("/live?topic=now").status_code == 403
    stream = open_stream(client, f"topic=declaration&declaration={road['ours'].id}")
    add_fix(db, road["theirs"], 42.0, 74.0)
    db.commit()
    add_fix(db, road["ours"], 41.0, 73.0)
    db.commit()
    change = stream.until("change")
    assert change.data["declarations"] == [road["ours"].id]
    assert [f["declaration"] for f in change.data["fixes"]] == [road["ours"].id]
    stream.close()


@pytest.mark.parametrize("query, status", [
    ("topic=now", 403), ("topic=checkpoint", 200), ("topic=weather", 400), ("", 400),
    ("topic=declaration&declaration=abc", 400), ("topic=declaration&declaration=" + "9" * 40, 400),
    ("topic=declaration&declaration=%00", 400), ("topic=declaration&declaration=999999999", 404)])
def test_an_officer_is_answered_by_topic(live_app: Flask, client: FlaskClient, auth: Auth, road: dict[str, Any],
                                         query: str, status: int) -> None:
    auth.sign_in_as(road["officer"])
    response = client.get(f"/live?{query}", buffered=False)
    assert response.status_code == status
    response.close()


def test_without_a_session_the_stream_is_refused(live_app: Flask, client: FlaskClient) -> None:
    assert client.get("/live?topic=now").status_code == 401


@pytest.mark.parametrize("last_event_id", ["9" * 19 + "-1-1", "1-2", "ÿ-1-1", "99999999-99999999-99999999"])
def test_a_hostile_last_event_id_is_passed_over(live_app: Flask, client: FlaskClient, auth: Auth, db: Session,
                                                road: dict[str, Any], last_event_id: str) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now", **{"Last-Event-ID": last_event_id})
    stream.until("tick")
    add_fix(db, road["ours"], 41.7, 73.7)
    db.commit()
    assert [f["lat"] for f in stream.until("change").data["fixes"]] == [41.7]
    stream.close()


def test_a_control_character_in_last_event_id_is_refused(live_app: Flask, client: FlaskClient, auth: Auth,
                                                         road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    assert client.get("/live?topic=now", headers={"Last-Event-ID": "1-1-1\x00"}).status_code == 400


def test_a_reconnecting_browser_resumes_after_its_last_event(live_app: Flask, client: FlaskClient, auth: Auth,
                                                             db: Session, road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now")
    last = stream.until("tick").id
    stream.close()
    add_fix(db, road["ours"], 41.8, 73.8)  # while the browser was away
    db.commit()
    again = open_stream(client, "topic=now", **{"Last-Event-ID": last or ""})
    assert [f["lat"] for f in again.until("change").data["fixes"]] == [41.8]
    again.close()


def test_a_changed_role_ends_the_stream(live_app: Flask, client: FlaskClient, auth: Auth, db: Session,
                                        road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now")
    stream.until("tick")
    road["auditor"].role = Role.CUSTOMS_OFFICER
    db.commit()
    assert stream.until("denied").data == {"status": 401}
    with pytest.raises(StopIteration):
        stream.next()


def test_a_session_ended_elsewhere_ends_the_stream(live_app: Flask, client: FlaskClient, auth: Auth, db: Session,
                                                   road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now")
    stream.until("tick")
    end_all_sessions(db, road["auditor"])  # "sign out everywhere", a password reset, a deactivation
    db.commit()
    assert stream.until("denied").kind == "denied"


def test_a_stream_ends_after_its_lifetime_and_full_processes_refuse(live_app: Flask, client: FlaskClient,
                                                                   auth: Auth, road: dict[str, Any]) -> None:
    auth.sign_in_as(road["auditor"])
    live_app.config.update(LIVE_MAX_SECONDS=0)
    stream = open_stream(client, "topic=now")
    assert stream.until("end").data == {}
    stream.close()
    live_app.extensions.pop("tracker.live_slots", None)
    live_app.config.update(LIVE_MAX_STREAMS=0)
    busy = open_stream(client, "topic=now")
    assert busy.next().kind == "busy"
    with pytest.raises(StopIteration):
        busy.next()


def test_a_database_that_goes_away_pauses_the_stream_and_it_carries_on(
        live_app: Flask, client: FlaskClient, auth: Auth, db: Session, road: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    auth.sign_in_as(road["auditor"])
    stream = open_stream(client, "topic=now")
    stream.until("tick")
    answer = live.changes_since
    outage = {"left": 3}

    def away_for_a_while(*args: Any, **kwargs: Any) -> Any:
        if outage["left"]:
            outage["left"] -= 1
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return answer(*args, **kwargs)

    monkeypatch.setattr(live, "changes_since", away_for_a_while)
    add_fix(db, road["ours"], 41.9, 73.9)
    db.commit()
    assert [f["lat"] for f in stream.until("change").data["fixes"]] == [41.9]
    assert outage["left"] == 0, "the stream went on asking through the outage"
    stream.close()


def notified(db: Session, declaration: Declaration) -> None:
    """Open an alert on ``declaration`` and fan it out, as the deliverer does (its traders are told)."""
    open_alert(db, kind="off_route", declaration=declaration)
    fan_out(db, email_on=False)
    db.commit()


def events_over(stream: Stream, ticks: int) -> list[str]:
    """Return the kinds of the events other than ticks that come before ``ticks`` ticks."""
    kinds = []
    while ticks:
        kind = stream.next().kind
        ticks -= kind == "tick"
        kinds += [kind] if kind != "tick" else []
    return kinds


def test_the_bell_stream_sends_the_readers_own_count_and_nobody_elses(
        live_app: Flask, client: FlaskClient, auth: Auth, db: Session, road: dict[str, Any],
        make_user: Callable[..., User]) -> None:
    other = make_user(Role.TRADER, dealer=road["theirs"].declarant)
    auth.sign_in_as(road["trader"])
    stream = open_stream(client, "topic=notifications")
    assert stream.until("bell").data == {"unread": 0, "number": "", "label": "Notifications: 0 unread"}
    notified(db, road["theirs"])
    assert unread_count(db, other) == 1
    assert events_over(stream, ticks=3) == [], "another user's notification tells the reader nothing"
    notified(db, road["ours"])
    assert stream.until("bell").data == {"unread": 1, "number": "1", "label": "Notifications: 1 unread"}
    [notification] = db.scalars(notifications_of(road["trader"])).all()
    mark_read(db, road["trader"], notification.id)
    db.commit()
    assert stream.until("bell").data["unread"] == 0
    stream.close()


def test_a_live_pages_stream_carries_the_bell_too(live_app: Flask, client: FlaskClient, auth: Auth, db: Session,
                                                 road: dict[str, Any]) -> None:
    auth.sign_in_as(road["trader"])
    stream = open_stream(client, f"topic=declaration&declaration={road['ours'].id}")
    assert stream.until("bell").data["unread"] == 0
    notified(db, road["ours"])
    assert stream.until("bell").data["number"] == "1"
    stream.close()


def test_without_a_session_the_bell_stream_is_refused(live_app: Flask, client: FlaskClient) -> None:
    assert client.get("/live?topic=notifications").status_code == 401


def test_a_session_ended_elsewhere_ends_the_bell_stream(live_app: Flask, client: FlaskClient, auth: Auth,
                                                       db: Session, road: dict[str, Any]) -> None:
    auth.sign_in_as(road["trader"])
    stream = open_stream(client, "topic=notifications")
    stream.until("bell")
    end_all_sessions(db, road["trader"])
    db.commit()
    assert stream.until("denied").data == {"status": 401}
