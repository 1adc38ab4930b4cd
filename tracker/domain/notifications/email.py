"""E-mail over SMTP: the server's settings and sending one composed message.

Every message carries a ``Message-ID`` made of its outbox idempotency key, so a mail
system (or a person's filter) can drop the one repeat a crash after sending could cause.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from tracker.domain.notifications.webhooks import DeliveryFailed

TIMEOUT_S = 20
MESSAGE_ID_DOMAIN = "mercury-tracking"


@dataclass(frozen=True)
class MailServer:
    """Where and as whom the deliverer sends mail."""

    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "mercury-tracking@localhost"

    @classmethod
    def from_settings(cls, settings: Any) -> MailServer | None:
        """Return the configured server, or None when no ``SMTP_HOST`` is set (the e-mail channel is off)."""
        if not settings.smtp_host:
            return None
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
                   settings.smtp_starttls, settings.mail_from)


def message_id(key: str) -> str:
    """Return the Message-ID of the outbox message whose idempotency key is ``key``."""
    return f"<{key}@{MESSAGE_ID_DOMAIN}>"


class Mailer:
    """One SMTP connection for a round of messages: opened on the first, closed after the last or an error."""

    def __init__(self, server: MailServer) -> None:
        self.server = server
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.server.host, self.server.port, timeout=TIMEOUT_S)
        if self.server.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if self.server.user:
            smtp.login(self.server.user, self.server.password)
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the SMTP server; raise :class:`DeliveryFailed` when it does not take it."""
        try:
            self.smtp = self.smtp or self._connect()
            self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryFailed(f"SMTP {self.server.host}:{self.server.port}: {exc}") from None

    def close(self) -> None:
        """Say goodbye to the server (a connection that broke is just dropped)."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None
