"""Who must be told of an alert: each role's defaults, plus what each user follows.

Defaults: a customs officer follows declarations whose route passes one of their posts
(and custody at their posts); an auditor follows critical alerts; the licensing authority
follows licences and approvals that stop holding; a trader follows its own declarations.
A user may turn the defaults off and follow alert kinds, declarations, dealers or
checkpoints instead. Nobody is told of an alert they may not read (``alert_filter``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.sql.elements import True_
from sqlalchemy.orm import Session, selectinload

from tracker.domain.access import alert_filter
from tracker.domain.alert_kinds import AlertKind
from tracker.models import (
    Alert,
    AlertSeverity,
    Checkpoint,
    FollowSubject,
    NotificationSettings,
    Role,
    Subscription,
    User,
    WebhookEndpoint,
)

#: The kinds the licensing authority is told of by default: a licence or approval stopped holding.
LICENSING_KINDS = frozenset({
    AlertKind.LICENCE_SUSPENDED, AlertKind.LICENCE_REVOKED, AlertKind.LICENCE_EXPIRED,
    AlertKind.APPROVAL_EXPIRED, AlertKind.APPROVAL_EXHAUSTED, AlertKind.APPROVAL_REVOKED,
    AlertKind.CUSTODY_LICENCE_INVALID,
})


@dataclass(frozen=True)
class AlertFacts:
    """What following can match in an alert: its kind, severity, declaration, dealers and checkpoints."""

    kind: str
    severity: AlertSeverity
    declaration_id: int | None
    dealer_ids: frozenset[int]
    checkpoint_ids: frozenset[int]

    def follows(self, subject: FollowSubject, value: str) -> bool:
        """Tell whether a subscription to ``subject``/``value`` matches this alert."""
        if subject == FollowSubject.ALERT_KIND:
            return value == self.kind
        if not value.isdigit():
            return False
        number = int(value)
        if subject == FollowSubject.DECLARATION:
            return number == self.declaration_id
        return number in (self.dealer_ids if subject == FollowSubject.DEALER else self.checkpoint_ids)


@dataclass
class Follower:
    """An active user with their settings, subscriptions, (officers) posts and active webhooks."""

    user: User
    settings: NotificationSettings | None
    follows: list[tuple[FollowSubject, str]] = field(default_factory=list)
    posts: frozenset[int] = frozenset()
    webhooks: list[WebhookEndpoint] = field(default_factory=list)

    @property
    def follow_defaults(self) -> bool:
        """Tell whether the user keeps the role's defaults (the default: yes)."""
        return self.settings is None or self.settings.follow_defaults


def facts_of(session: Session, alert: Alert) -> AlertFacts:
    """Gather what subscriptions and defaults match in ``alert``."""
    declaration = alert.declaration
    dealers: set[int] = set()
    checkpoints: set[int] = set()
    if declaration is not None:
        dealers = {d for d in (declaration.declarant_id, declaration.consignor_id, declaration.consignee_id) if d}
        checkpoints = {c for c in declaration.route_checkpoint_ids if c is not None}
    code = (alert.details or {}).get("checkpoint")
    if isinstance(code, str) and code:
        checkpoints.update(session.scalars(select(Checkpoint.id).where(Checkpoint.code == code)))
    return AlertFacts(alert.kind, AlertSeverity(alert.severity), alert.declaration_id,
                      frozenset(dealers), frozenset(checkpoints))


def load_followers(session: Session) -> list[Follower]:
    """Load every active user with what they follow and their webhooks (once per fan-out batch)."""
    users = list(session.scalars(select(User).where(User.active.is_(True))
                                 .options(selectinload(User.checkpoints)).order_by(User.id)))
    settings = {s.user_id: s for s in session.scalars(select(NotificationSettings))}
    followers = {u.id: Follower(u, settings.get(u.id), posts=frozenset(c.id for c in u.checkpoints)) for u in users}
    for sub in session.scalars(select(Subscription)):
        if sub.user_id in followers:
            followers[sub.user_id].follows.append((sub.subject, sub.value))
    for endpoint in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))):
        if endpoint.owner_id in followers:
            followers[endpoint.owner_id].webhooks.append(endpoint)
    return list(followers.values())


def by_default(follower: Follower, facts: AlertFacts) -> bool:
    """Tell whether the user's role follows this alert by default."""
    user = follower.user
    if user.role == Role.CUSTOMS_OFFICER:
        return bool(follower.posts & facts.checkpoint_ids)
    if user.role == Role.AUDITOR:
        return facts.severity == AlertSeverity.CRITICAL
    if user.role == Role.LICENSING_ADMIN:
        return facts.kind in LICENSING_KINDS
    return user.dealer_id is not None and user.dealer_id in facts.dealer_ids


def wants(follower: Follower, facts: AlertFacts) -> bool:
    """Tell whether the user asked (by default or by a subscription) to be told of the alert."""
    if follower.follow_defaults and by_default(follower, facts):
        return True
    return any(facts.follows(subject, value) for subject, value in follower.follows)


def may_read(session: Session, user: User, alert: Alert) -> bool:
    """Tell whether ``user`` may read ``alert`` (the portal's own rule, asked of the database
    unless the rule lets the user read every alert)."""
    rule = alert_filter(user)
    if isinstance(rule, True_):
        return True
    return session.scalar(select(Alert.id).where(Alert.id == alert.id, rule)) is not None


#: Whether a user may read a declaration's alerts, by (user id, declaration id): the rule reads an
#: alert through its declaration, so one answer serves every alert of it in a fan-out batch.
Readable = dict[tuple[int, int | None], bool]


def recipients(session: Session, alert: Alert, followers: list[Follower],
               readable: Readable | None = None) -> list[Follower]:
    """Return the followers to tell of ``alert``: those who want it and may read it."""
    facts = facts_of(session, alert)
    readable = {} if readable is None else readable
    told = []
    for follower in followers:
        if not wants(follower, facts):
            continue
        key = (follower.user.id, alert.declaration_id)
        if key not in readable:
            readable[key] = may_read(session, follower.user, alert)
        if readable[key]:
            told.append(follower)
    return told
