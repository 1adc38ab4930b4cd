"""The outbox's life: claim due messages, then mark each sent, retry later, or failed.

A claim moves a message to ``sending`` and counts the attempt in one UPDATE whose
WHERE clause re-checks that it is still due; on PostgreSQL the candidates are picked
``FOR UPDATE SKIP LOCKED``, so several deliverers never take the same message. A
deliverer that dies after sending but before marking leaves a ``sending`` message that
is taken again after :data:`LEASE`: the one possible repeat, which receivers drop by the
message's idempotency key (Message-ID, ``Idempotency-Key``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from tracker.models import DeliveryState, OutboxMessage

#: Attempts before a message is given up as failed.
MAX_ATTEMPTS = 8
#: The first retry waits this long; each next one twice as long, up to :data:`MAX_DELAY`.
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
#: A message still ``sending`` this long after its claim is taken to be abandoned and claimed again.
LEASE = timedelta(minutes=5)
#: Messages claimed per round.
BATCH = 50
#: The longest error kept on a message.
ERROR_CHARS = 500


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the ``attempts``-th failed attempt (doubling, capped)."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(and_(OutboxMessage.state == DeliveryState.PENDING, OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.state == DeliveryState.SENDING, OutboxMessage.claimed_at <= now - LEASE))


def claim(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to ``limit`` due messages for this deliverer; return their ids. The caller commits."""
    candidates = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = [row for row in session.scalars(candidates)]
    if not ids:
        return []
    claimed = session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), _due(now))
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id).execution_options(synchronize_session=False))
    return sorted(claimed.scalars())


def mark_sent(message: OutboxMessage, now: datetime) -> None:
    """Record that the message went out."""
    message.state, message.sent_at, message.last_error = DeliveryState.SENT, now, ""


def mark_failed_attempt(message: OutboxMessage, error: str, now: datetime, permanent: bool = False) -> None:
    """Record a failed attempt: retry after a growing delay, or give up after the last attempt."""
    message.last_error = error[:ERROR_CHARS]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.state = DeliveryState.FAILED
        return
    message.state = DeliveryState.PENDING
    message.next_attempt_at = now + retry_delay(message.attempts)
