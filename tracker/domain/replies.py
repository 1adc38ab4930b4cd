"""Saved replies of idempotent requests: the same request again gets the same answer.

A reply is kept per *scope* (who asked: ``user:7``, ``device:3``, or a domain key space
such as ``custody-event``) and *key*, with the SHA-256 of the request it answered, so
a key reused for a different request can be told apart from a retry.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import IdempotentReply

MAX_KEY_LENGTH = 200


def request_digest(*parts: bytes | str) -> str:
    """Return the SHA-256 (hex) of the request's parts, each length-prefixed so they cannot run together."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def find_reply(session: Session, scope: str, key: str) -> IdempotentReply | None:
    """Return the reply saved for ``key`` in ``scope``, if any."""
    return session.scalars(select(IdempotentReply).where(
        IdempotentReply.scope == scope, IdempotentReply.key == key)).one_or_none()


def save_reply(session: Session, scope: str, key: str, digest: str, status_code: int, body: str) -> IdempotentReply:
    """Keep the reply to a request; a concurrent duplicate fails on the unique (scope, key)."""
    reply = IdempotentReply(scope=scope, key=key, request_digest=digest, status_code=status_code, body=body)
    session.add(reply)
    session.flush()
    return reply
