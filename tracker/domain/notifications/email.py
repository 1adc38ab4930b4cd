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


def send(server: MailServer, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server; raise :class:`DeliveryFailed` when it does not take it."""
    try:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_S) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.user:
                smtp.login(server.user, server.password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP {server.host}:{server.port}: {exc}") from None
