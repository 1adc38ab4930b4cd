"""Fan-out: from "an alert opened" to the bell's notifications and the outbox's messages.

``open_alert`` only records a :class:`NotificationFanout` row (one insert, same
transaction); the deliverer claims those rows here, writes one notification per
recipient and one outbox message per channel, and deletes the row, all in one
transaction: an alert is fanned out once, whatever crashes or how many deliverers run.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain.notifications.recipients import Follower, Readable, load_followers, recipients
from tracker.models import (
    Alert,
    Channel,
    Notification,
    NotificationFanout,
    OutboxMessage,
    User,
    WebhookEndpoint,
    utcnow,
)

#: Alerts fanned out per transaction.
BATCH = 200


def message_key(alert: Alert, user: User, channel: Channel, endpoint: WebhookEndpoint | None = None) -> str:
    """Return the outbox message's idempotency key: unique, as one user is told of one alert once."""
    suffix = f"-{endpoint.id}" if endpoint is not None else ""
    return f"mercury-a{alert.id}-u{user.id}-{channel.value}{suffix}"


def _claim(session: Session, limit: int) -> list[NotificationFanout]:
    query = select(NotificationFanout).order_by(NotificationFanout.alert_id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _queue(session: Session, notification: Notification, follower: Follower, email_on: bool) -> int:
    """Queue the notification's outbox messages: e-mail if wanted and on, each active webhook."""
    messages = []
    settings = follower.settings
    if email_on and settings is not None and settings.by_email and settings.email:
        messages.append(OutboxMessage(notification=notification, channel=Channel.EMAIL))
    messages += [OutboxMessage(notification=notification, channel=Channel.WEBHOOK, webhook=e) for e in follower.webhooks]
    for message in messages:
        message.idempotency_key = message_key(notification.alert, follower.user, message.channel, message.webhook)
        message.next_attempt_at = notification.created_at
        session.add(message)
    return len(messages)


def notify(session: Session, alert: Alert, followers: list[Follower], email_on: bool,
           readable: Readable | None = None) -> list[Notification]:
    """Write the notifications of one alert and queue their messages."""
    now = utcnow()
    notifications = []
    for follower in recipients(session, alert, followers, readable):
        notification = Notification(user=follower.user, alert=alert, created_at=now)
        session.add(notification)
        _queue(session, notification, follower, email_on)
        notifications.append(notification)
    return notifications


def fan_out(session: Session, email_on: bool, limit: int = BATCH) -> int:
    """Fan out up to ``limit`` opened alerts; return how many. The caller commits."""
    pending = _claim(session, limit)
    if not pending:
        return 0
    followers = load_followers(session)
    opened = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_([r.alert_id for r in pending]))
                                                 .options(selectinload(Alert.declaration)))}
    readable: Readable = {}
    for row in pending:
        alert = opened.get(row.alert_id)
        if alert is not None:
            notify(session, alert, followers, email_on, readable)
        session.delete(row)
    session.flush()
    return len(pending)
