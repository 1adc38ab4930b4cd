"""Bearer tokens for beacons and checkpoint stations; only their SHA-256 is stored.

Tokens are 256 random bits, so a fast hash is enough: nothing to brute-force.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Beacon, Checkpoint, DeviceKind, DeviceToken, User, utcnow

TOKEN_PREFIX = "mt_"
_TOKEN_FORM = re.compile(r"mt_[A-Za-z0-9_-]{16,128}")


def hash_token(token: str) -> str:
    """Return the hex SHA-256 under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    session: Session,
    *,
    name: str,
    beacon: Beacon | None = None,
    checkpoint: Checkpoint | None = None,
    created_by: User | None = None,
) -> tuple[DeviceToken, str]:
    """Create a device token for a beacon or a station; return the row and the secret.

    The secret is shown once and never stored.
    """
    if (beacon is None) == (checkpoint is None):
        raise ValueError("a token is for exactly one beacon or one checkpoint station")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = DeviceToken(
        kind=DeviceKind.BEACON if beacon is not None else DeviceKind.STATION,
        name=name,
        token_hash=hash_token(secret),
        beacon=beacon,
        checkpoint=checkpoint,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(row)
    session.flush()
    return row, secret


def authenticate_token(session: Session, token: str, now: datetime | None = None,
                       record_use: bool = True) -> DeviceToken | None:
    """Return the live token row matching ``token``, or None; records its last use if asked.

    Reads pass ``record_use=False``: a write in a read-only request would take SQLite's
    write lock for nothing and make a concurrent writer wait or fail.
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalars(
        select(DeviceToken).where(DeviceToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if record_use:
        row.last_used_at = now or utcnow()
    return row


def revoke_token(row: DeviceToken, now: datetime | None = None) -> None:
    """Revoke a token at once; later requests with it are refused."""
    row.revoked_at = now or utcnow()


def well_formed_token(token: str) -> bool:
    """Return whether ``token`` looks like a secret this module issues (checked before hashing it).

    Anything else (NUL bytes, lone surrogates, a megabyte of text) is refused without a lookup.
    """
    return _TOKEN_FORM.fullmatch(token) is not None
