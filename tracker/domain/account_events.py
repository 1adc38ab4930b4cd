"""The account audit trail: what was done to each account, and every sign-in attempt.

Administrators' acts (opened, role changed, deactivated, reactivated, password reset)
name the actor; sign-in attempts name the login as typed and the address it came from,
whether or not an account has that login.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from tracker.models import AccountEvent, AccountEventKind, User, utcnow

#: The longest login a failed attempt is stored under (the column's width).
LOGIN_WIDTH = 64


def record(db: Session, kind: AccountEventKind, login: str, *, user: User | None = None,
           actor: User | None = None, address: str | None = None, detail: str | None = None,
           at: datetime | None = None) -> AccountEvent:
    """Add one entry to the audit trail (flushed with the caller's transaction)."""
    event = AccountEvent(kind=kind, login=login[:LOGIN_WIDTH], user_id=user.id if user else None,
                         actor_id=actor.id if actor else None, address=(address or "")[:64] or None,
                         detail=(detail or "")[:200] or None, at=at or utcnow())
    db.add(event)
    db.flush()
    return event


def history_query(user: User) -> Select[tuple[AccountEvent]]:
    """Select ``user``'s audit trail, newest first (failed sign-ins under their login included)."""
    return (select(AccountEvent)
            .where(or_(AccountEvent.user_id == user.id, AccountEvent.login == user.login))
            .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()))


def failed_sign_ins_query() -> Select[tuple[AccountEvent]]:
    """Select every failed or limited sign-in attempt, newest first (unknown logins included)."""
    kinds = (AccountEventKind.SIGN_IN_FAILED, AccountEventKind.SIGN_IN_LIMITED)
    return select(AccountEvent).where(AccountEvent.kind.in_(kinds)).order_by(AccountEvent.at.desc(),
                                                                             AccountEvent.id.desc())


def failures_since(db: Session, since: datetime) -> dict[str, int]:
    """Count failed sign-ins per login since ``since`` (for the administrator's list)."""
    rows = db.execute(select(AccountEvent.login, func.count()).where(
        AccountEvent.kind == AccountEventKind.SIGN_IN_FAILED, AccountEvent.at >= since)
        .group_by(AccountEvent.login))
    return {login: int(count) for login, count in rows}


def recent_failures(db: Session, login: str, since: datetime) -> list[datetime]:
    """Return the times of failed sign-ins under ``login`` since ``since``, newest first."""
    return list(db.scalars(select(AccountEvent.at).where(
        AccountEvent.kind == AccountEventKind.SIGN_IN_FAILED, AccountEvent.login == login[:LOGIN_WIDTH],
        AccountEvent.at > since).order_by(AccountEvent.at.desc())))
