"""Notifications: who follows what, the portal's bell, and the outbox that delivers by mail and webhook.

An alert opening records one ``NotificationFanout`` row in its own transaction (cheap on the
gateway's hot path); the deliverer turns it into ``Notification`` rows (the bell) and
``OutboxMessage`` rows (one per notification and channel), then sends those. Nothing is lost
while a mail server or receiver is down, and the unique keys keep anything from being sent twice.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow

if TYPE_CHECKING:
    from tracker.models.tracking import Alert
    from tracker.models.users import User


class FollowSubject(StrEnum):
    """What a subscription follows: every alert of a kind, or alerts about one record."""

    ALERT_KIND = "alert_kind"
    DECLARATION = "declaration"
    DEALER = "dealer"
    CHECKPOINT = "checkpoint"


class Channel(StrEnum):
    """A way out of the portal (the bell itself is the ``Notification`` row)."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(StrEnum):
    """Where one outbox message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NotificationSettings(Base):
    """One user's choices: follow the role's defaults or not, and whether to be mailed (and where)."""

    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint("NOT by_email OR email IS NOT NULL", name="email_needs_address"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    follow_defaults: Mapped[bool] = mapped_column(Boolean, default=True)
    by_email: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))

    @property
    def label(self) -> str:
        """Name the settings by their user."""
        return f"settings of user {self.user_id}"


class Subscription(Base):
    """A user follows an alert kind, a declaration, a dealer or a checkpoint (``value`` names it)."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "subject", "value", name="uq_notification_subscriptions_follow"),
        CheckConstraint("length(value) > 0", name="value_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject: Mapped[FollowSubject] = mapped_column(enum_type(FollowSubject, "subject"))
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        """Name the subscription by what it follows."""
        return f"{self.subject}:{self.value}"


class WebhookEndpoint(Base):
    """A URL of another system that receives a user's notifications, signed with its secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("url LIKE 'http://%' OR url LIKE 'https://%'", name="url_http"),
        CheckConstraint("length(secret) >= 32", name="secret_long_enough"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        """Name the endpoint by its URL, never its secret."""
        return self.url


class NotificationFanout(Base):
    """An alert opened whose recipients the deliverer has not worked out yet (written with the alert)."""

    __tablename__ = "notification_fanout"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    alert: Mapped[Alert] = relationship()

    @property
    def label(self) -> str:
        """Name the row by its alert."""
        return f"fan-out of alert {self.alert_id}"


class Notification(Base):
    """One alert told to one user: the bell's entry, read or not."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "alert_id", name="uq_notifications_user_alert"),
        CheckConstraint("read_at IS NULL OR read_at >= created_at", name="read_after_created"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    alert: Mapped[Alert] = relationship()
    deliveries: Mapped[list[OutboxMessage]] = relationship(back_populates="notification",
                                                           order_by="OutboxMessage.id")

    @property
    def label(self) -> str:
        """Name the notification by its user and alert."""
        return f"alert {self.alert_id} to user {self.user_id}"


class OutboxMessage(Base):
    """One notification to send over one channel: its state, attempts and last error."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint("(channel = 'webhook') = (webhook_id IS NOT NULL)", name="webhook_has_endpoint"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("(state = 'sent') = (sent_at IS NOT NULL)", name="sent_has_time"),
        Index("ix_notification_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                                                   index=True)
    state: Mapped[DeliveryState] = mapped_column(enum_type(DeliveryState, "state"), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    #: Sent along (Message-ID, Idempotency-Key) so a receiver can drop the one possible repeat.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")
    webhook: Mapped[WebhookEndpoint | None] = relationship()

    @property
    def label(self) -> str:
        """Name the message by its key."""
        return self.idempotency_key
