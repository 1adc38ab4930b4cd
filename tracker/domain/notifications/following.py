"""A user's choices: keep the role's defaults, be mailed, follow records, register webhooks."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.access import declaration_filter
from tracker.domain.alert_kinds import kind_of
from tracker.domain.errors import Forbidden, NotFound, ValidationFailed
from tracker.domain.notifications.webhooks import WebhookRefused, check_url
from tracker.domain.text import text
from tracker.models import (
    Checkpoint,
    Dealer,
    Declaration,
    FollowSubject,
    NotificationSettings,
    Role,
    Subscription,
    User,
    WebhookEndpoint,
)

#: Roles that may send their notifications to other systems.
WEBHOOK_ROLES = frozenset({Role.AUDITOR, Role.LICENSING_ADMIN})
#: Roles that may follow a dealer (a trader follows its own declarations).
DEALER_ROLES = frozenset({Role.AUDITOR, Role.LICENSING_ADMIN, Role.CUSTOMS_OFFICER})
MAX_FOLLOWS = 200
MAX_WEBHOOKS = 10
_EMAIL = re.compile(r"^[^@\s<>,;\"\\]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")


def settings_of(session: Session, user: User) -> NotificationSettings:
    """Return ``user``'s settings; someone who never chose has the defaults (role's follows, no e-mail)."""
    settings = session.get(NotificationSettings, user.id)
    return settings or NotificationSettings(user_id=user.id, follow_defaults=True, by_email=False)


def choose(session: Session, user: User, follow_defaults: bool, by_email: bool, email: str) -> NotificationSettings:
    """Save whether ``user`` keeps the role's defaults and is mailed, and at which address."""
    email = email.strip()
    if email and not _EMAIL.match(email):
        raise ValidationFailed({"email": text("give an e-mail address such as name@example.kg")})
    if by_email and not email:
        raise ValidationFailed({"email": text("give the address to send e-mail to")})
    settings = settings_of(session, user)
    settings.follow_defaults, settings.by_email, settings.email = follow_defaults, by_email, email or None
    session.add(settings)
    session.flush()
    return settings


def _declaration_id(session: Session, user: User, reference: str) -> str:
    found = session.scalar(select(Declaration.id).where(
        Declaration.reference == reference.strip().upper(), declaration_filter(user)))
    if found is None:
        raise ValidationFailed({"value": text("no declaration {reference}", reference=reference.strip()[:40])})
    return str(found)


def _value(session: Session, user: User, subject: FollowSubject, value: str) -> str:
    """Return the stored value for following ``subject`` named by ``value`` (checked), else raise."""
    if subject == FollowSubject.ALERT_KIND:
        if kind_of(value) is None:
            raise ValidationFailed({"value": text("choose an alert kind")})
        return value
    if subject == FollowSubject.DECLARATION:
        return _declaration_id(session, user, value)
    if subject == FollowSubject.DEALER and user.role not in DEALER_ROLES:
        raise Forbidden(text("a trader follows its own declarations, not other dealers"))
    model = Dealer if subject == FollowSubject.DEALER else Checkpoint
    if not value.isdigit() or len(value) > 12 or session.get(model, int(value)) is None:
        raise ValidationFailed({"value": text("choose from the list")})
    return value


def follow(session: Session, user: User, subject: str, value: str) -> Subscription:
    """Follow an alert kind, a declaration (by reference), a dealer or a checkpoint (by id)."""
    try:
        chosen = FollowSubject(subject)
    except ValueError:
        raise ValidationFailed({"subject": text("choose what to follow")}) from None
    stored = _value(session, user, chosen, value.strip())
    existing = session.scalar(select(Subscription).where(
        Subscription.user_id == user.id, Subscription.subject == chosen, Subscription.value == stored))
    if existing is not None:
        return existing
    if _count(session, Subscription, Subscription.user_id, user) >= MAX_FOLLOWS:
        raise ValidationFailed({"value": text("you follow {count} things already", count=MAX_FOLLOWS)})
    subscription = Subscription(user_id=user.id, subject=chosen, value=stored)
    session.add(subscription)
    session.flush()
    return subscription


def unfollow(session: Session, user: User, subscription_id: int) -> None:
    """Stop following one of ``user``'s subscriptions."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.user_id != user.id:
        raise NotFound(text("no subscription {subscription_id}", subscription_id=subscription_id))
    session.delete(subscription)
    session.flush()


def follows_of(session: Session, user: User) -> list[Subscription]:
    """Return what ``user`` follows, in the order they chose it."""
    return list(session.scalars(select(Subscription).where(Subscription.user_id == user.id)
                                .order_by(Subscription.id)))


def _count(session: Session, model: type, column: object, user: User) -> int:
    return session.scalar(select(func.count()).select_from(model).where(column == user.id)) or 0  # type: ignore[operator]


def add_webhook(session: Session, user: User, url: str, allow_private: bool) -> WebhookEndpoint:
    """Register a webhook for ``user`` (auditor, licensing authority); its secret is made here."""
    if user.role not in WEBHOOK_ROLES:
        raise Forbidden(text("only auditors and the licensing authority send notifications to other systems"))
    try:
        checked = check_url(url, allow_private)
    except WebhookRefused as exc:
        raise ValidationFailed({"url": str(exc)}) from None
    if _count(session, WebhookEndpoint, WebhookEndpoint.owner_id, user) >= MAX_WEBHOOKS:
        raise ValidationFailed({"url": text("you have {count} webhooks already", count=MAX_WEBHOOKS)})
    endpoint = WebhookEndpoint(owner_id=user.id, url=checked, secret=secrets.token_hex(32), active=True)
    session.add(endpoint)
    session.flush()
    return endpoint


def webhooks_of(session: Session, user: User) -> list[WebhookEndpoint]:
    """Return ``user``'s webhooks."""
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.owner_id == user.id)
                                .order_by(WebhookEndpoint.id)))


def switch_webhook(session: Session, user: User, endpoint_id: int, active: bool) -> WebhookEndpoint:
    """Switch one of ``user``'s webhooks on or off (off: its queued messages fail, nothing new is queued)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.owner_id != user.id:
        raise NotFound(text("no webhook {endpoint_id}", endpoint_id=endpoint_id))
    endpoint.active = active
    session.flush()
    return endpoint
