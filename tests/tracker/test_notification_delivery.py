"""Delivering notifications: e-mail to a real SMTP server, signed webhooks to a real receiver, retries."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.notifications import following, outbox
from tracker.domain.notifications.deliverer import Deliverer
from tracker.domain.notifications.email import MailServer
from tracker.domain.notifications.fanout import fan_out
from tracker.models import Declaration, DeclarationStatus, DeliveryState, OutboxMessage, Role, User, utcnow
from tracker.web.notification_mail import compose
from tests.tracker.notification_servers import SmtpServer, WebhookReceiver, free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on localhost (aiosmtpd), up."""
    server = SmtpServer()
    server.up()
    yield server
    server.down()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real webhook receiver on localhost, up."""
    hook = WebhookReceiver()
    hook.start()
    yield hook
    hook.stop()


@pytest.fixture
def deliverer(app: Flask, sessions: sessionmaker[Session], smtp: SmtpServer) -> Iterator[Deliverer]:
    """A deliverer on the test's database, mailing through the local server, allowed to reach localhost."""
    with app.app_context():
        yield Deliverer(sessions, compose, MailServer("127.0.0.1", smtp.port, sender="alerts@mercury.example.kg"),
                        "https://mercury.example.kg", allow_private=True)


@pytest.fixture
def declaration(make_declaration: Callable[..., Declaration]) -> Declaration:
    """A declaration in transit."""
    return make_declaration(status=DeclarationStatus.IN_TRANSIT)


@pytest.fixture
def auditor(db: Session, make_user: Callable[..., User]) -> User:
    """An auditor who reads Russian and wants e-mail (auditors follow critical alerts)."""
    user = make_user(Role.AUDITOR)
    user.language = "ru"
    following.choose(db, user, follow_defaults=True, by_email=True, email="auditor@minfin.example.kg")
    db.commit()
    return user


def messages(db: Session) -> list[OutboxMessage]:
    """Every outbox message, freshly read."""
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_an_alert_is_mailed_once_in_the_recipients_language(db: Session, deliverer: Deliverer, smtp: SmtpServer,
                                                             auditor: User, declaration: Declaration) -> None:
    alert = open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    db.commit()
    done = deliverer.run_once()
    assert (done.fanned_out, done.sent) == (1, 1)
    [mail] = smtp.mailbox.messages
    assert mail["To"] == "auditor@minfin.example.kg" and mail["From"] == "alerts@mercury.example.kg"
    assert "пломба нарушена" in mail["Subject"] and declaration.reference in mail["Subject"]
    assert f"https://mercury.example.kg/alerts/{alert.id}" in mail.get_content()
    [message] = messages(db)
    assert mail["Message-ID"] == f"<{message.idempotency_key}@mercury-tracking>"
    assert (message.state, message.attempts) == (DeliveryState.SENT, 1)
    assert deliverer.run_once().busy is False and len(smtp.mailbox.messages) == 1


def test_a_mail_server_that_is_down_delays_the_mail_and_loses_nothing(db: Session, deliverer: Deliverer,
                                                                      smtp: SmtpServer, auditor: User,
                                                                      declaration: Declaration) -> None:
    smtp.down()
    open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    db.commit()
    assert deliverer.run_once().retrying == 1
    [message] = messages(db)
    assert message.state == DeliveryState.PENDING and message.attempts == 1
    assert message.next_attempt_at > utcnow() and "SMTP" in message.last_error
    assert deliverer.run_once().busy is False              # not due yet: no attempt before the delay
    smtp.up()
    later = utcnow() + outbox.retry_delay(1) + timedelta(seconds=1)
    assert deliverer.run_once(now=later).sent == 1
    assert deliverer.run_once(now=later + timedelta(hours=2)).busy is False
    assert len(smtp.mailbox.messages) == 1
    assert messages(db)[0].state == DeliveryState.SENT


def test_retries_back_off_and_end_in_failed(db: Session, deliverer: Deliverer, smtp: SmtpServer, auditor: User,
                                            declaration: Declaration) -> None:
    smtp.down()
    open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    db.commit()
    moment, delays = utcnow() + timedelta(seconds=1), []
    for _ in range(outbox.MAX_ATTEMPTS):
        deliverer.run_once(now=moment)
        message = messages(db)[0]
        delays.append(message.next_attempt_at - moment)
        moment = message.next_attempt_at
    assert message.state == DeliveryState.FAILED and message.attempts == outbox.MAX_ATTEMPTS
    assert delays[1] == 2 * delays[0] and max(delays) <= outbox.MAX_DELAY
    assert deliverer.run_once(now=moment + timedelta(days=1)).busy is False


def test_a_webhook_is_signed_and_delivered_once(db: Session, deliverer: Deliverer, receiver: WebhookReceiver,
                                                make_user: Callable[..., User], declaration: Declaration) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    endpoint = following.add_webhook(db, admin, receiver.url, allow_private=True)
    receiver.secret = endpoint.secret
    alert = open_alert(db, kind=AlertKind.LICENCE_REVOKED, declaration=declaration)
    db.commit()
    assert deliverer.run_once().sent == 1
    [receipt] = receiver.received
    assert receipt.signature_ok
    body = json.loads(receipt.body)
    assert body["event"] == "alert.opened" and body["alert"]["id"] == alert.id
    assert body["alert"]["kind"] == "licence_revoked" and body["recipient"] == admin.login
    assert receipt.headers["Idempotency-Key"] == body["id"] == messages(db)[0].idempotency_key
    assert deliverer.run_once().busy is False and len(receiver.received) == 1


def test_a_receiver_that_is_down_gets_the_webhook_once_it_is_back(db: Session, deliverer: Deliverer,
                                                                  make_user: Callable[..., User],
                                                                  declaration: Declaration) -> None:
    port = free_port()
    hook = WebhookReceiver()
    admin = make_user(Role.LICENSING_ADMIN)
    endpoint = following.add_webhook(db, admin, f"http://127.0.0.1:{port}/mercury", allow_private=True)
    hook.secret = endpoint.secret
    open_alert(db, kind=AlertKind.LICENCE_REVOKED, declaration=declaration)
    db.commit()
    assert deliverer.run_once().retrying == 1              # nobody listens: refused
    assert messages(db)[0].state == DeliveryState.PENDING
    hook.start(port)
    try:
        hook.status = 503                                  # up but failing: still retried
        deliverer.run_once(now=utcnow() + timedelta(minutes=2))
        assert messages(db)[0].last_error.endswith("HTTP 503")
        hook.status = 200
        assert deliverer.run_once(now=utcnow() + timedelta(hours=2)).sent == 1
        assert deliverer.run_once(now=utcnow() + timedelta(days=1)).busy is False
    finally:
        hook.stop()
    assert [r.signature_ok for r in hook.received] == [True, True]
    assert len(set(hook.keys())) == 1 and messages(db)[0].state == DeliveryState.SENT


def test_webhooks_to_private_addresses_fail_unless_allowed(db: Session, app: Flask, sessions: Any,
                                                           receiver: WebhookReceiver,
                                                           make_user: Callable[..., User],
                                                           declaration: Declaration) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    following.add_webhook(db, admin, receiver.url, allow_private=True)
    open_alert(db, kind=AlertKind.LICENCE_REVOKED, declaration=declaration)
    db.commit()
    with app.app_context():
        strict = Deliverer(sessions, compose, None, "https://mercury.example.kg", allow_private=False)
        assert strict.run_once().failed == 1
    [message] = messages(db)
    assert message.state == DeliveryState.FAILED and "private" in message.last_error
    assert receiver.received == []


def test_a_message_abandoned_while_sending_is_sent_again_after_its_lease(db: Session, deliverer: Deliverer,
                                                                         smtp: SmtpServer, auditor: User,
                                                                         declaration: Declaration) -> None:
    open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    db.commit()
    with deliverer.sessions() as session:                # a deliverer that claims, then dies before sending
        fan_out(session, email_on=True)
        claimed = outbox.claim(session, utcnow())
        session.commit()
    assert len(claimed) == 1 and deliverer.run_once().busy is False     # claimed by someone: left alone
    assert deliverer.run_once(now=utcnow() + outbox.LEASE + timedelta(seconds=1)).sent == 1
    assert len(smtp.mailbox.messages) == 1 and messages(db)[0].attempts == 2


def test_the_deliver_command_does_a_round_and_says_when_email_is_off(app: Flask, db: Session, auditor: User,
                                                                     declaration: Declaration) -> None:
    open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    db.commit()
    result = app.test_cli_runner().invoke(args=["notifications", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "e-mail is off" in result.output and "fanned out 1, sent 0" in result.output
    assert messages(db) == []                            # no mail server: nothing queued for e-mail


def test_a_fault_in_one_message_does_not_hold_up_the_others(db: Session, app: Flask, sessions: Any,
                                                           receiver: WebhookReceiver, auditor: User,
                                                           make_user: Callable[..., User],
                                                           declaration: Declaration) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    receiver.secret = following.add_webhook(db, admin, receiver.url, allow_private=True).secret
    open_alert(db, kind=AlertKind.LICENCE_REVOKED, declaration=declaration)
    db.commit()

    def broken(message: OutboxMessage, portal_url: str) -> Any:
        raise KeyError("a bug in composing")

    with app.app_context():
        done = Deliverer(sessions, broken, MailServer("127.0.0.1", free_port()), "https://x", True).run_once()
    assert (done.sent, done.retrying) == (1, 1) and len(receiver.received) == 1
    mail = next(m for m in messages(db) if m.channel.value == "email")
    assert mail.state == DeliveryState.PENDING and mail.last_error == "internal error: KeyError"


def test_the_deliverer_waits_out_a_database_that_is_away(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    from tracker.db import make_engine, make_session_factory

    gone = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"))
    deliverer = Deliverer(gone, compose)
    stop = threading.Event()
    worker = threading.Thread(target=deliverer.run, args=(stop, 0.05))
    worker.start()
    time.sleep(0.3)
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive() and "database unavailable" in caplog.text
