"""Accounts: creating users and checking their passwords."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import account_events
from tracker.domain.passwords import hash_password, require_good_password, verify_password
from tracker.domain.text import text
from tracker.models import AccountEventKind, Checkpoint, Dealer, Role, User, utcnow

#: What a login may look like: lower-case letters, digits, dot, dash, underscore; 2-64 long.
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Verified against when the login is unknown, so timing does not reveal which logins exist.
_DUMMY_HASH = hash_password("not-a-real-password-0")


class AccountError(ValueError):
    """An account cannot be created as asked."""


def create_user(
    session: Session,
    *,
    login: str,
    name: str,
    role: Role | str,
    password: str,
    dealer: Dealer | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    actor: User | None = None,
) -> User:
    """Create an account (recorded in its history, by ``actor`` if an administrator); a trader needs
    a dealer, an officer at least one checkpoint."""
    role = Role(role)
    checkpoints = list(checkpoints)
    if not LOGIN_PATTERN.match(login):
        raise AccountError(text("login: 2-64 lower-case letters, digits, '.', '_' or '-'"))
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise AccountError(text("login {login!r} is taken", login=login))
    if (role == Role.TRADER) != (dealer is not None):
        raise AccountError(text("a trader belongs to exactly one dealer; other roles to none"))
    if role == Role.CUSTOMS_OFFICER and not checkpoints:
        raise AccountError(text("a customs officer is posted to at least one checkpoint"))
    if role != Role.CUSTOMS_OFFICER and checkpoints:
        raise AccountError(text("only customs officers are posted to checkpoints"))
    require_good_password(password, [login, name])
    user = User(login=login, name=name, role=role, dealer=dealer,
                checkpoints=checkpoints, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    account_events.record(session, AccountEventKind.CREATED, user.login, user=user, actor=actor, detail=role.value)
    return user


def find_by_login(session: Session, login: str) -> User | None:
    """Return the account with ``login`` (as typed: spaces and capitals ignored), or None."""
    return session.scalars(select(User).where(User.login == login.strip().lower())).one_or_none()


def authenticate(session: Session, login: str, password: str, now: datetime | None = None) -> User | None:
    """Return the active user with this login and password (signed in at ``now``), or None."""
    user = find_by_login(session, login)
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not user.active or not verify_password(user.password_hash, password):
        return None
    user.last_login_at = now or utcnow()
    return user
