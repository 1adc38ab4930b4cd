"""The bell: a user's notifications, how many are unread, marking them read, delivery states."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from tracker.domain.access import sees_everything
from tracker.domain.changes import announce
from tracker.domain.errors import Forbidden, NotFound
from tracker.domain.text import text
from tracker.models import DeliveryState, Notification, OutboxMessage, User, utcnow


def notifications_of(user: User, unread_only: bool = False) -> Select[tuple[Notification]]:
    """Return the query of ``user``'s notifications, newest first, with their alerts and deliveries."""
    query = select(Notification).where(Notification.user_id == user.id).options(
        selectinload(Notification.alert), selectinload(Notification.deliveries))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.id.desc())


def unread_count(session: Session, user: User) -> int:
    """Return how many of ``user``'s notifications are unread (the bell's number)."""
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user: User, notification_id: int, at: datetime | None = None) -> Notification:
    """Mark one of ``user``'s notifications read (again: no change); NotFound for anyone else's."""
    notification = session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user.id))
    if notification is None:
        raise NotFound(text("no notification {notification_id}", notification_id=notification_id))
    if notification.read_at is None:
        notification.read_at = max(at or utcnow(), notification.created_at)
        session.flush()
    return notification


def mark_all_read(session: Session, user: User, at: datetime | None = None) -> int:
    """Mark every unread notification of ``user`` read; return how many."""
    at = at or utcnow()
    done = session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None), Notification.created_at <= at)
        .values(read_at=at).execution_options(synchronize_session=False))
    if done.rowcount:
        announce(session)  # a bulk update passes the mapper's events by: the bell's streams are told here
    return int(done.rowcount or 0)


def deliveries(user: User, state: DeliveryState | None = None) -> Select[tuple[OutboxMessage]]:
    """Return every outbox message, newest first, for the licensing authority or an auditor."""
    if not sees_everything(user):
        raise Forbidden(text("only the licensing authority and auditors see every delivery"))
    query = select(OutboxMessage).options(
        selectinload(OutboxMessage.notification).selectinload(Notification.user),
        selectinload(OutboxMessage.webhook))
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    return query.order_by(OutboxMessage.id.desc())
