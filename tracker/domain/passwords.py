"""Passwords: the policy a new password must meet, and hashing with Argon2id.

The policy applies when a password is set (an account opened, a password reset); a
password set before it keeps working. A password has 10 to 256 characters, is not only
spaces, does not contain the user's login or a part of their name, and is not easy to
guess: zxcvbn (Dropbox's estimator, with its lists of common passwords, words, names,
keyboard patterns, repeats and sequences) must rate it at least "safely unguessable"
(score 3, about 10^8 guesses).
"""
from __future__ import annotations

import re
import secrets
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from tracker.domain.text import Text, text

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
#: zxcvbn's score a new password needs (0..4; 3 = about 10^8 guesses).
MIN_STRENGTH = 3
#: zxcvbn rates the first this many characters (its own default ceiling; longer costs seconds).
RATED_PREFIX = 72
#: Parts of a name shorter than this may appear in a password ("Li" in "Lima ...").
MIN_NAME_PART = 3


class WeakPassword(ValueError):
    """A password that does not meet the policy."""


def _name_parts(names: Iterable[str]) -> set[str]:
    """Return each name and each part of it (split at spaces and punctuation), case-folded."""
    parts: set[str] = set()
    for name in names:
        folded = name.casefold().strip()
        parts.update(p for p in [folded, *re.split(r"[\W_]+", folded)] if len(p) >= MIN_NAME_PART)
    return parts


def password_problem(password: str, names: Iterable[str] = ()) -> Text | None:
    """Return why ``password`` may not be set for a user called ``names`` (login, full name), or None."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return text("a password has {low} to {high} characters", low=MIN_PASSWORD_LENGTH, high=MAX_PASSWORD_LENGTH)
    if not password.strip():
        return text("a password cannot be only spaces")
    folded, parts = password.casefold(), _name_parts(names)
    if any(part in folded for part in parts):
        return text("a password must not contain your login or name")
    if zxcvbn(password[:RATED_PREFIX], user_inputs=sorted(parts))["score"] < MIN_STRENGTH:
        return text("this password is too common or too easy to guess; use a few unrelated words")
    return None


def require_good_password(password: str, names: Iterable[str] = ()) -> None:
    """Raise :class:`WeakPassword` naming the problem when ``password`` does not meet the policy."""
    if (problem := password_problem(password, names)) is not None:
        raise WeakPassword(problem)


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password`` (the policy is the caller's: see require_good_password)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(text("a password has {low} to {high} characters",
                                low=MIN_PASSWORD_LENGTH, high=MAX_PASSWORD_LENGTH))
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``; never raises on a bad hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False  # no Argon2 work for a 100,000-character guess
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(names: Iterable[str] = ()) -> str:
    """Return a new random password that meets the policy, fit to print once (demo accounts, resets)."""
    names = list(names)
    while True:
        password = secrets.token_urlsafe(12)
        if password_problem(password, names) is None:
            return password
