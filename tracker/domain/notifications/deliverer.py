"""The deliverer: fan out opened alerts, then send what is due, round after round.

Each round commits the fan-out, then claims due outbox messages and sends each in its own
transaction, so a mail server or webhook receiver that is down only delays its messages
(they wait with a growing delay, then fail visibly) and a database that goes away stops
the round without losing anything: the next round starts where this one stopped.
"""
from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tracker.domain.notifications import outbox
from tracker.domain.notifications.email import Mailer, MailServer, message_id
from tracker.domain.notifications.fanout import fan_out
from tracker.domain.notifications.payload import webhook_payload
from tracker.domain.notifications.webhooks import DeliveryFailed, post
from tracker.models import Channel, DeliveryState, OutboxMessage, utcnow

log = logging.getLogger(__name__)

#: Composes the e-mail of an outbox message (links to the portal's address), in its recipient's language.
Composer = Callable[[OutboxMessage, str], EmailMessage]


@dataclass
class Round:
    """What one round did."""

    fanned_out: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def count(self, state: DeliveryState) -> None:
        """Count one message by where it ended this round."""
        if state == DeliveryState.SENT:
            self.sent += 1
        elif state == DeliveryState.FAILED:
            self.failed += 1
        else:
            self.retrying += 1

    @property
    def busy(self) -> bool:
        """Tell whether the round found anything to do."""
        return bool(self.fanned_out or self.sent or self.retrying or self.failed)


@dataclass
class Deliverer:
    """Sends notifications by e-mail (when a server is set) and signed webhooks."""

    sessions: sessionmaker[Session]
    compose: Composer
    mail: MailServer | None = None
    portal_url: str = ""
    allow_private: bool = False

    def run_once(self, now: datetime | None = None) -> Round:
        """Fan out opened alerts and send every message due at ``now``."""
        result = Round()
        with self.sessions() as session:
            while (fanned := fan_out(session, email_on=self.mail is not None)):
                session.commit()
                result.fanned_out += fanned
            ids = outbox.claim(session, now or utcnow())
            session.commit()
        with Mailer(self.mail) if self.mail is not None else nullcontext() as mailer:
            for ident in ids:
                self._deliver(ident, mailer, now, result)
        return result

    def run(self, stop: threading.Event, idle_s: float = 2.0) -> None:
        """Deliver round after round until ``stop`` is set; wait ``idle_s`` when there was nothing to do."""
        while not stop.is_set():
            try:
                busy = self.run_once().busy
            except SQLAlchemyError as exc:             # the database went away: nothing is lost, try again
                log.warning("notifications: database unavailable (%s); retrying", type(exc).__name__)
                busy = False
            if not busy:
                stop.wait(idle_s)

    def _deliver(self, ident: int, mailer: Mailer | None, now: datetime | None, result: Round) -> None:
        with self.sessions() as session:
            message = session.get(OutboxMessage, ident)
            if message is None:
                return
            try:
                self._send(message, mailer)
            except DeliveryFailed as exc:
                outbox.mark_failed_attempt(message, str(exc), now or utcnow(), exc.permanent)
            except SQLAlchemyError:
                raise                                    # the database is away: the message stays claimed
            except Exception as exc:                     # a fault of ours must not hold up the other messages
                log.exception("notifications: message %s could not be sent", ident)
                outbox.mark_failed_attempt(message, f"internal error: {type(exc).__name__}", now or utcnow())
            else:
                outbox.mark_sent(message, now or utcnow())
            session.commit()
            result.count(message.state)

    def _send(self, message: OutboxMessage, mailer: Mailer | None) -> None:
        if message.channel == Channel.EMAIL:
            self._send_mail(message, mailer)
            return
        endpoint = message.webhook
        if endpoint is None or not endpoint.active:
            raise DeliveryFailed("the webhook was switched off", permanent=True)
        post(endpoint.url, endpoint.secret, webhook_payload(message, self.portal_url), message.idempotency_key,
             int(utcnow().timestamp()), self.allow_private)

    def _send_mail(self, message: OutboxMessage, mailer: Mailer | None) -> None:
        if self.mail is None or mailer is None:
            raise DeliveryFailed("no mail server is set (SMTP_HOST)")
        settings = _settings_of(message)
        if settings is None or not settings.email:
            raise DeliveryFailed("the recipient has no e-mail address", permanent=True)
        mail = self.compose(message, self.portal_url)
        mail["From"], mail["To"] = self.mail.sender, settings.email
        mail["Message-ID"] = message_id(message.idempotency_key)
        mailer.send(mail)


def _settings_of(message: OutboxMessage) -> Any:
    from tracker.models import NotificationSettings

    session = Session.object_session(message)
    assert session is not None
    return session.get(NotificationSettings, message.notification.user_id)
