"""The notification e-mail, written in its recipient's language (and time zone).

The deliverer (a CLI process, no request) asks for one message at a time; the text is
plain, short and links to the alert's page in the portal.
"""
from __future__ import annotations

from email.message import EmailMessage
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, gettext

from tracker.domain.notifications.payload import alert_url
from tracker.models import OutboxMessage
from tracker.web.i18n import LANGUAGES
from tracker.web.labels import label


def recipient_language(message: OutboxMessage) -> str:
    """Return the language to write to the message's recipient in (theirs, else English)."""
    language = message.notification.user.language
    return language if language in LANGUAGES else "en"


def compose(message: OutboxMessage, portal_url: str) -> EmailMessage:
    """Compose the e-mail of ``message`` (subject and plain text), without From/To/Message-ID."""
    zone = current_app.config["SETTINGS"].time_zone
    with force_locale(recipient_language(message)):
        mail = EmailMessage()
        mail["Subject"] = _subject(message)
        mail["Content-Language"] = recipient_language(message)
        mail.set_content(_body(message, portal_url, zone))
    return mail


def _subject(message: OutboxMessage) -> str:
    alert = message.notification.alert
    reference = alert.declaration.reference if alert.declaration is not None else None
    subject = gettext("Mercury alert: %(kind)s (%(severity)s)", kind=label(alert.kind), severity=label(alert.severity))
    return f"{subject} — {reference}" if reference else subject


def _body(message: OutboxMessage, portal_url: str, default_zone: str) -> str:
    notification = message.notification
    alert, user = notification.alert, notification.user
    zone = ZoneInfo(user.time_zone or default_zone)
    opened = alert.opened_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    declaration = alert.declaration
    lines = [gettext("Hello %(name)s,", name=user.name), "",
             gettext("An alert was opened: %(kind)s.", kind=label(alert.kind)),
             gettext("Severity: %(severity)s", severity=label(alert.severity)),
             gettext("Opened at: %(moment)s", moment=opened)]
    if declaration is not None:
        lines.append(gettext("Declaration: %(reference)s", reference=declaration.label))
    preferences = portal_url + "/notifications/preferences"
    lines += ["", gettext("See the alert: %(url)s", url=alert_url(portal_url, alert.id)), "",
              gettext("You receive this because of your notification preferences: %(url)s", url=preferences)]
    return "\n".join(lines) + "\n"
