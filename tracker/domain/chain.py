"""Hash chains over append-only evidence (custody events, transactions).

Each row's hash is SHA-256(previous row's hash || canonical JSON of the row's own
fields), so editing, deleting, reordering or forging a row breaks the chain there.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import CustodyEvent, Transaction

GENESIS = "0" * 64

#: The fields that make up each chained row; the hashes themselves are excluded.
CUSTODY_FIELDS = (
    "client_event_id", "kind", "container_id", "declaration_id", "checkpoint_id",
    "from_party_id", "to_party_id", "officer_id", "device_token_id", "event_time",
    "event_time_zone", "recorded_at", "lat", "lon", "seal_intact", "measured_net_g",
    "remarks", "photo_digest",
)
TRANSACTION_FIELDS = (
    "kind", "seller_id", "buyer_id", "mass_g", "place", "transaction_date",
    "declaration_id", "corrects_id", "remarks", "recorded_by_id", "recorded_at",
)
CHAINED_FIELDS: dict[type, tuple[str, ...]] = {
    CustodyEvent: CUSTODY_FIELDS,
    Transaction: TRANSACTION_FIELDS,
}


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def canonical_json(row: CustodyEvent | Transaction) -> str:
    """Return the row's chained fields as canonical JSON (sorted keys, no spaces)."""
    fields = CHAINED_FIELDS[type(row)]
    data = {name: _canonical_value(getattr(row, name)) for name in fields}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str | None, row: CustodyEvent | Transaction) -> str:
    """Return SHA-256(prev_hash || canonical JSON) as hex."""
    digest = hashlib.sha256()
    digest.update((prev_hash or GENESIS).encode("ascii"))
    digest.update(canonical_json(row).encode("utf-8"))
    return digest.hexdigest()


def chain_tip(session: Session, model: type[CustodyEvent] | type[Transaction]) -> str | None:
    """Return the hash of the newest row of ``model``'s chain, or None when empty."""
    return session.scalar(select(model.row_hash).order_by(model.id.desc()).limit(1))


def append_to_chain(session: Session, row: CustodyEvent | Transaction) -> None:
    """Link ``row`` after the current tip and add it to the session.

    The caller holds the chain lock (issue #3 adds it) so two writers cannot fork it;
    the unique index on ``prev_hash`` refuses a fork in any case.
    """
    if row.recorded_at is None:
        row.recorded_at = datetime.now(timezone.utc)
    row.prev_hash = chain_tip(session, type(row))
    row.row_hash = row_hash(row.prev_hash, row)
    session.add(row)
    session.flush()


def first_broken(rows: Iterable[CustodyEvent | Transaction]) -> tuple[int, str] | None:
    """Return (row id, reason) of the first row that breaks the chain, or None when intact."""
    prev: str | None = None
    for row in rows:
        if row.prev_hash != prev:
            return row.id, "previous hash does not match the row before it"
        if row.row_hash != row_hash(prev, row):
            return row.id, "row hash does not match the row's contents"
        prev = row.row_hash
    return None
