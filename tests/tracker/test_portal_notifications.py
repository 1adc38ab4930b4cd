"""The bell, the notifications list, preferences and deliveries in the portal, and the API."""
from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.notifications.fanout import fan_out
from tracker.models import (
    Alert,
    Channel,
    Declaration,
    DeclarationStatus,
    DeliveryState,
    Notification,
    NotificationSettings,
    OutboxMessage,
    Role,
    Subscription,
    User,
    WebhookEndpoint,
)


@pytest.fixture
def declaration(make_declaration: Callable[..., Declaration]) -> Declaration:
    """A declaration in transit."""
    return make_declaration(status=DeclarationStatus.IN_TRANSIT)


@pytest.fixture
def trader(make_user: Callable[..., User], declaration: Declaration) -> User:
    """A trader of the declaring dealer."""
    return make_user(Role.TRADER, dealer=declaration.declarant)


def alerted(db: Session, declaration: Declaration, kind: AlertKind = AlertKind.OFF_ROUTE) -> Alert:
    """Open an alert and fan it out (what the deliverer does)."""
    alert = open_alert(db, kind=kind, declaration=declaration)
    fan_out(db, email_on=True)
    db.commit()
    return alert


def bell_count(client: FlaskClient) -> str | None:
    """The number on the header's bell, or None without one."""
    match = re.search(r'<span class="bell-count">([^<]+)</span>', client.get("/").get_data(as_text=True))
    return match.group(1) if match else None


def test_the_bell_counts_unread_notifications_and_opening_one_reads_it(db: Session, client: FlaskClient, auth: Any,
                                                                        trader: User, declaration: Declaration) -> None:
    auth.sign_in_as(trader)
    assert bell_count(client) is None
    alert = alerted(db, declaration)
    alerted(db, declaration, AlertKind.LATE)
    assert bell_count(client) == "2"
    page = client.get("/notifications").get_data(as_text=True)
    assert "off route" in page and "late" in page and declaration.reference in page
    [notification] = [n for n in db.scalars(select(Notification)) if n.alert_id == alert.id]
    opened = client.get(f"/notifications/{notification.id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/alerts/{alert.id}")
    assert bell_count(client) == "1"
    assert auth.post_form("/notifications/read", {}, "/notifications").status_code == 302
    assert bell_count(client) is None


def test_nobody_reads_or_marks_anothers_notifications(db: Session, client: FlaskClient, auth: Any, trader: User,
                                                      make_user: Callable[..., User],
                                                      declaration: Declaration) -> None:
    alerted(db, declaration)
    [notification] = db.scalars(select(Notification)).all()
    auth.sign_in_as(make_user(Role.AUDITOR))
    assert client.get(f"/notifications/{notification.id}").status_code == 404
    assert auth.post_form(f"/notifications/{notification.id}/read", {}, "/notifications").status_code == 404
    assert declaration.reference not in client.get("/notifications").get_data(as_text=True)
    assert client.post(f"/api/v1/notifications/{notification.id}/read").status_code == 404
    db.refresh(notification)
    assert notification.read_at is None


def test_the_list_shows_each_channels_delivery_state(db: Session, client: FlaskClient, auth: Any, trader: User,
                                                     declaration: Declaration) -> None:
    db.add(NotificationSettings(user_id=trader.id, follow_defaults=True, by_email=True, email="t@example.kg"))
    alerted(db, declaration)
    message = db.scalars(select(OutboxMessage)).one()
    message.state, message.attempts, message.last_error = DeliveryState.FAILED, 8, "SMTP mail.example.kg:25: refused"
    db.commit()
    auth.sign_in_as(trader)
    page = client.get("/notifications").get_data(as_text=True)
    assert "failed" in page and "8 attempts" in page and "SMTP mail.example.kg:25: refused" in page


def test_preferences_save_channels_and_follows_and_refuse_bad_input(db: Session, client: FlaskClient, auth: Any,
                                                                     trader: User, declaration: Declaration) -> None:
    auth.sign_in_as(trader)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "E-mail is off on this server" in page and "My webhooks" not in page
    bad = auth.post_form("/notifications/preferences/channels", {"by_email": "1", "email": "nobody"},
                         "/notifications/preferences")
    assert bad.status_code == 422 and "give an e-mail address" in bad.get_data(as_text=True)
    assert db.get(NotificationSettings, trader.id) is None            # nothing stored
    good = auth.post_form("/notifications/preferences/channels", {"email": "trader@example.kg"},
                          "/notifications/preferences")
    assert good.status_code == 302
    settings = db.get(NotificationSettings, trader.id)
    db.refresh(settings)
    assert (settings.follow_defaults, settings.email) == (False, "trader@example.kg")
    followed = auth.post_form("/notifications/preferences/follow",
                              {"subject": "declaration", "value_declaration": declaration.reference.lower()},
                              "/notifications/preferences")
    assert followed.status_code == 302
    assert db.scalars(select(Subscription.value)).all() == [str(declaration.id)]
    assert declaration.reference in client.get("/notifications/preferences").get_data(as_text=True)
    refused = auth.post_form("/notifications/preferences/follow", {"subject": "dealer", "value_dealer": "1"},
                             "/notifications/preferences")
    assert refused.status_code == 403


def test_an_auditor_registers_a_webhook_and_sees_its_secret_once(db: Session, client: FlaskClient, auth: Any,
                                                                  make_user: Callable[..., User], app: Any) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    refused = auth.post_form("/notifications/webhooks", {"url": "http://127.0.0.1:9000/hook"},
                             "/notifications/preferences")
    assert refused.status_code == 422 and "loopback or private" in refused.get_data(as_text=True)
    added = auth.post_form("/notifications/webhooks", {"url": "https://93.184.215.14/mercury"},
                           "/notifications/preferences")
    endpoint = db.scalars(select(WebhookEndpoint)).one()
    assert added.status_code == 200 and endpoint.secret in added.get_data(as_text=True)
    assert endpoint.secret not in client.get("/notifications/preferences").get_data(as_text=True)
    assert auth.post_form(f"/notifications/webhooks/{endpoint.id}/switch", {"active": "0"},
                          "/notifications/preferences").status_code == 302
    db.refresh(endpoint)
    assert endpoint.active is False


def test_only_the_licensing_authority_and_auditors_see_every_delivery(db: Session, client: FlaskClient, auth: Any,
                                                                      trader: User, make_user: Callable[..., User],
                                                                      declaration: Declaration) -> None:
    db.add(NotificationSettings(user_id=trader.id, follow_defaults=True, by_email=True, email="t@example.kg"))
    alerted(db, declaration)
    auth.sign_in_as(trader)
    assert client.get("/notifications/deliveries").status_code == 403
    auth.logout()
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    page = client.get("/notifications/deliveries?state=pending").get_data(as_text=True)
    assert trader.login in page and "e-mail" in page and "waiting" in page
    assert trader.login not in client.get("/notifications/deliveries?state=sent").get_data(as_text=True)


def test_the_api_lists_notifications_and_marks_them_read(db: Session, client: FlaskClient, auth: Any, trader: User,
                                                         declaration: Declaration) -> None:
    db.add(NotificationSettings(user_id=trader.id, follow_defaults=True, by_email=True, email="t@example.kg"))
    alert = alerted(db, declaration)
    auth.sign_in_as(trader)
    body = client.get("/api/v1/notifications").get_json()
    assert body["unread"] == 1 and body["total"] == 1
    [item] = body["items"]
    assert item["alert"]["id"] == alert.id and item["read_at"] is None
    assert item["deliveries"] == [{"channel": Channel.EMAIL.value, "state": "pending", "attempts": 0,
                                   "next_attempt_at": item["deliveries"][0]["next_attempt_at"], "sent_at": None,
                                   "last_error": None}]
    read = client.post(f"/api/v1/notifications/{item['id']}/read")
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    assert client.get("/api/v1/notifications?unread=true").get_json()["total"] == 0


def test_signed_out_visitors_get_no_bell_and_no_notifications(client: FlaskClient) -> None:
    assert 'id="bell"' not in client.get("/login").get_data(as_text=True)
    assert client.get("/notifications").status_code in (302, 401)
    assert client.get("/api/v1/notifications").status_code == 401
