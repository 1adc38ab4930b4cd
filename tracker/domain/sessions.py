"""Signed-in sessions kept on the server, so that ending one ends it everywhere.

The browser's signed cookie carries a random secret; the ``user_sessions`` row keeps its
SHA-256. Every request looks the row up: a deleted row (sign-out, password reset,
deactivation) refuses every copy of the cookie at once. A session also ends after
``idle`` without a request and ``lifetime`` after sign-in, however busy it is.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from tracker.models import User, UserSession

#: How finely the idle time is kept: a session's row is rewritten at most this often.
SEEN_RESOLUTION = timedelta(seconds=60)


class SessionEnd(StrEnum):
    """Why a session no longer signs its user in."""

    IDLE = "idle"
    EXPIRED = "expired"
    ENDED = "ended"


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lasts: without a request (idle), and at most (lifetime)."""

    idle: timedelta
    lifetime: timedelta


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _over(user: User, now: datetime, policy: SessionPolicy):  # type: ignore[no-untyped-def]
    """The condition selecting ``user``'s sessions that have ended by ``now`` under ``policy``."""
    return (UserSession.user_id == user.id) & (
        (UserSession.last_seen_at < now - policy.idle) | (UserSession.created_at < now - policy.lifetime))


def open_session(db: Session, user: User, now: datetime, policy: SessionPolicy, address: str | None = None) -> str:
    """Start a session for ``user`` (clearing away their ended ones); return its secret for the cookie."""
    db.execute(delete(UserSession).where(_over(user, now, policy)))
    secret = secrets.token_urlsafe(32)
    db.add(UserSession(user_id=user.id, secret_hash=_digest(secret), created_at=now, last_seen_at=now,
                       address=(address or "")[:64] or None))
    db.flush()
    return secret


def check_session(db: Session, secret: str, now: datetime, policy: SessionPolicy,
                  renew: bool = True) -> UserSession | SessionEnd:
    """Return the live session behind ``secret``, or why it has ended.

    ``renew`` starts its idle time again: a person did something. A page updating itself
    (a live stream, its refreshes) passes False, so an unattended screen still times out.
    """
    row = db.scalars(select(UserSession).options(joinedload(UserSession.user))
                     .where(UserSession.secret_hash == _digest(secret))).one_or_none()
    if row is None or not row.user.active:
        return SessionEnd.ENDED
    ended = SessionEnd.EXPIRED if now - row.created_at > policy.lifetime else \
        SessionEnd.IDLE if now - row.last_seen_at > policy.idle else None
    if ended is not None:
        db.delete(row)
        return ended
    if renew and now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
    return row


def end_all_sessions(db: Session, user: User) -> int:
    """End every session of ``user`` at once; return how many there were."""
    result = db.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return int(result.rowcount or 0)


def live_sessions(db: Session, user: User, now: datetime, policy: SessionPolicy) -> list[UserSession]:
    """Return ``user``'s sessions that have not ended by ``now``, newest first."""
    return list(db.scalars(select(UserSession).where(UserSession.user_id == user.id, ~_over(user, now, policy))
                           .order_by(UserSession.created_at.desc())))
