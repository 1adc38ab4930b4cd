"""Several deliverers at once on PostgreSQL (FOR UPDATE SKIP LOCKED): each alert fanned out once, each message sent once."""
from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.conftest import PASSWORD, database_of_its_own
from tests.tracker.notification_servers import SmtpServer, WebhookReceiver
from tracker.db import make_session_factory
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.notifications import following
from tracker.domain.notifications.deliverer import Deliverer, Round
from tracker.domain.notifications.email import MailServer
from tracker.domain.notifications.fanout import fan_out
from tracker.domain.users import create_user
from tracker.models import DeliveryState, Notification, OutboxMessage, Role
from tracker.web.notification_mail import compose

ALERTS = 60
DELIVERERS = 3


@pytest.fixture
def own(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A PostgreSQL database of the test's own: the deliverers commit."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite runs one deliverer")
    with database_of_its_own(engine, tmp_path) as database:
        yield database


def seed(own: Engine, hook: WebhookReceiver) -> None:
    """An auditor mailed and hooked, an administrator hooked, and critical licence alerts for both
    (half of them fanned out, so the deliverers race on messages from their first round)."""
    with make_session_factory(own)() as session:
        auditor = create_user(session, login="auditor", name="Auditor", role=Role.AUDITOR, password=PASSWORD)
        admin = create_user(session, login="admin", name="Admin", role=Role.LICENSING_ADMIN, password=PASSWORD)
        following.choose(session, auditor, follow_defaults=True, by_email=True, email="auditor@minfin.example.kg")
        hook.secret = following.add_webhook(session, auditor, hook.url, allow_private=True).secret
        following.add_webhook(session, admin, hook.url, allow_private=True).secret = hook.secret
        for _ in range(ALERTS):
            open_alert(session, kind=AlertKind.LICENCE_SUSPENDED)
        session.commit()
        fan_out(session, email_on=True, limit=ALERTS // 2)     # half fanned out already: the rest races too
        session.commit()


def test_racing_deliverers_send_every_message_exactly_once(own: Engine, app: Flask, fast_passwords: None) -> None:
    smtp, hook = SmtpServer(), WebhookReceiver()
    smtp.up()
    hook.start()
    try:
        seed(own, hook)
        rounds: list[Round] = []
        start = threading.Barrier(DELIVERERS)

        def deliver() -> None:
            with app.app_context():
                deliverer = Deliverer(make_session_factory(own), compose, MailServer("127.0.0.1", smtp.port),
                                      "https://mercury.example.kg", allow_private=True)
                start.wait()
                idle = 0
                while idle < 3:                          # the others may still be committing what they took
                    done = deliverer.run_once()
                    rounds.append(done)
                    idle = 0 if done.busy else idle + 1
                    time.sleep(0 if done.busy else 0.2)

        workers = [threading.Thread(target=deliver) for _ in range(DELIVERERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        smtp.down()
        hook.stop()
    expected = ALERTS * 3                                   # the auditor's mail and webhook, the admin's webhook
    mail_ids = Counter(m["Message-ID"] for m in smtp.mailbox.messages)
    hook_keys = Counter(hook.keys())
    assert len(mail_ids) == ALERTS and set(mail_ids.values()) == {1}
    assert len(hook_keys) == 2 * ALERTS and set(hook_keys.values()) == {1}
    assert all(r.signature_ok for r in hook.received)
    assert sum(r.fanned_out for r in rounds) == ALERTS - ALERTS // 2 and sum(r.sent for r in rounds) == expected
    with make_session_factory(own)() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 2 * ALERTS
        states = Counter(session.scalars(select(OutboxMessage.state)))
        assert states == {DeliveryState.SENT: expected}
