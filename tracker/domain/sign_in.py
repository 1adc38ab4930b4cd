"""Signing in with a login and password, limited per account and recorded.

Each account (each login as typed, so an unknown login behaves exactly like a known one)
may fail ``failures`` times within ``window``; further attempts are refused, without
checking the password, until the oldest of those failures is ``window`` old. A correct
sign-in starts the count afresh. The count lives in the database (the account audit
trail), so it holds across every web worker. Limits per address are the web layer's.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tracker.domain import account_events
from tracker.domain.users import authenticate, find_by_login
from tracker.models import AccountEventKind, User

log = logging.getLogger("tracker.sign_in")


@dataclass(frozen=True)
class SignInLimit:
    """At most ``failures`` failed sign-ins per account within ``window``."""

    failures: int = 5
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignInOutcome:
    """The signed-in user, or None; ``retry_after`` seconds > 0 when the account is limited."""

    user: User | None
    retry_after: int = 0


def _key(login: str) -> str:
    return login.strip().lower()[:account_events.LOGIN_WIDTH]


def seconds_locked(db: Session, login: str, account: User | None, now: datetime, limit: SignInLimit) -> int:
    """Return how many seconds ``login`` (its ``account``, if any) must wait before trying again (0: now)."""
    since = now - limit.window
    if account is not None and account.last_login_at is not None and account.last_login_at > since:
        since = account.last_login_at
    failures = account_events.recent_failures(db, _key(login), since)
    if len(failures) < limit.failures:
        return 0
    return max(1, math.ceil((failures[limit.failures - 1] + limit.window - now).total_seconds()))


def attempt_sign_in(db: Session, login: str, password: str, *, now: datetime, address: str | None,
                    limit: SignInLimit) -> SignInOutcome:
    """Check ``login`` and ``password`` within the limit; record and log the attempt either way."""
    key, account = _key(login), find_by_login(db, login)
    if (wait := seconds_locked(db, login, account, now, limit)) > 0:
        account_events.record(db, AccountEventKind.SIGN_IN_LIMITED, key, user=account, address=address, at=now)
        log.warning("sign-in refused, too many failures: login=%r address=%s retry_after=%ss", key, address, wait)
        return SignInOutcome(None, wait)
    user = authenticate(db, login, password, now)
    if user is None:
        account_events.record(db, AccountEventKind.SIGN_IN_FAILED, key, user=account, address=address, at=now)
        log.warning("sign-in failed: login=%r address=%s", key, address)
        return SignInOutcome(None)
    account_events.record(db, AccountEventKind.SIGNED_IN, key, user=user, address=address, at=now)
    return SignInOutcome(user)
