"""Fan-out: from "an alert opened" to the bell's notifications and the outbox's messages.

``open_alert`` only records a :class:`NotificationFanout` row (one insert, same
transaction); the deliverer claims those rows here, writes one notification per
recipient and one outbox message per channel, and deletes the row, all in one
transaction: an alert is fanned out once, whatever crashes or how many deliverers run.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.notifications.recipients import Follower, load_followers, recipients
from tracker.models import (
    Alert,
    Channel,
    Notification,
    NotificationFanout,
    OutboxMessage,
    WebhookEndpoint,
    utcnow,
)

#: Alerts fanned out per transaction.
BATCH = 200


def message_key(notification: Notification, channel: Channel, endpoint: WebhookEndpoint | None = None) -> str:
    """Return the outbox message's idempotency key (unique: one message per notification and channel)."""
    suffix = f"-{endpoint.id}" if endpoint is not None else ""
    return f"mercury-n{notification.id}-{channel.value}{suffix}"


def _claim(session: Session, limit: int) -> list[NotificationFanout]:
    query = select(NotificationFanout).order_by(NotificationFanout.alert_id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _queue(session: Session, notification: Notification, follower: Follower,
           endpoints: list[WebhookEndpoint], email_on: bool) -> int:
    """Queue the notification's outbox messages: e-mail if wanted and on, each active webhook."""
    messages = []
    settings = follower.settings
    if email_on and settings is not None and settings.by_email and settings.email:
        messages.append(OutboxMessage(notification=notification, channel=Channel.EMAIL))
    messages += [OutboxMessage(notification=notification, channel=Channel.WEBHOOK, webhook=e) for e in endpoints]
    for message in messages:
        message.idempotency_key = message_key(notification, message.channel, message.webhook)
        message.next_attempt_at = notification.created_at
        session.add(message)
    return len(messages)


def notify(session: Session, alert: Alert, followers: list[Follower], email_on: bool) -> list[Notification]:
    """Write the notifications of one alert and queue their messages."""
    now = utcnow()
    told = recipients(session, alert, followers)
    owners = [f.user.id for f in told]
    endpoints: dict[int, list[WebhookEndpoint]] = {uid: [] for uid in owners}
    for endpoint in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.owner_id.in_(owners),
                                                                  WebhookEndpoint.active.is_(True))):
        endpoints[endpoint.owner_id].append(endpoint)
    notifications = []
    for follower in told:
        notification = Notification(user=follower.user, alert=alert, created_at=now)
        session.add(notification)
        session.flush()                                  # its id names its messages
        _queue(session, notification, follower, endpoints[follower.user.id], email_on)
        notifications.append(notification)
    return notifications


def fan_out(session: Session, email_on: bool, limit: int = BATCH) -> int:
    """Fan out up to ``limit`` opened alerts; return how many. The caller commits."""
    pending = _claim(session, limit)
    if not pending:
        return 0
    followers = load_followers(session)
    for row in pending:
        alert = session.get(Alert, row.alert_id)
        if alert is not None:
            notify(session, alert, followers, email_on)
        session.delete(row)
    session.flush()
    return len(pending)
