"""Password hashing with Argon2id (a slow, memory-hard KDF)."""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tracker.domain.text import text

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class WeakPassword(ValueError):
    """A password too short to protect evidence-grade data."""


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``, refusing weak ones."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(text("password must be at least {length} characters", length=MIN_PASSWORD_LENGTH))
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``; never raises on a bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a new random password fit to print once (demo accounts, resets)."""
    return secrets.token_urlsafe(12)
