"""Hash chains over append-only evidence (custody events, transactions, buyers' answers, stock entries, seals).

Each row's hash is SHA-256(previous row's hash || canonical JSON of the row's own
fields), so editing, deleting, reordering or forging a row breaks the chain there.
Every append signs the chain's new head (length and newest hash) with a key the
database never sees (``tracker.domain.signed_heads``), so rows cut off the end,
appended by someone bypassing the code, or re-hashed from top to bottom are caught
too; ``tracker.domain.chain_verify`` walks the chains.

Writers hold the chain lock from before they read the tip until they commit, so two
officers recording at the same moment cannot fork the chain: PostgreSQL takes a
transaction-scoped advisory lock; SQLite takes the database write lock (the lock
``BEGIN IMMEDIATE`` would take) with the first write of the transaction.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from typing import Any, Iterable, Union

from sqlalchemy import func, select
from sqlalchemy import text as sql  # not "text": that name marks translatable messages (tracker.domain.text)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.domain.signed_heads import sign_head
from tracker.models import ChainHead, CustodyEvent, EvidenceSeal, SaleAnswer, StockEntry, Transaction

GENESIS = "0" * 64

ChainedRow = Union[CustodyEvent, Transaction, SaleAnswer, StockEntry, EvidenceSeal]
ChainedModel = Union[type[CustodyEvent], type[Transaction], type[SaleAnswer], type[StockEntry], type[EvidenceSeal]]

#: The fields that make up each chained row; the hashes themselves are excluded.
CUSTODY_FIELDS = (
    "client_event_id", "kind", "container_id", "declaration_id", "checkpoint_id",
    "from_party_id", "to_party_id", "officer_id", "device_token_id", "event_time",
    "event_time_zone", "recorded_at", "lat", "lon", "seal_intact", "measured_net_g",
    "remarks", "photo_digest", "device", "unregistered_sscc",
)
TRANSACTION_FIELDS = (
    "kind", "seller_id", "buyer_id", "mass_g", "place", "transaction_date",
    "declaration_id", "corrects_id", "remarks", "recorded_by_id", "recorded_at", "needs_confirmation",
)
SALE_ANSWER_FIELDS = ("transaction_id", "answer", "reason", "answered_by_id", "recorded_at")
STOCK_ENTRY_FIELDS = (
    "kind", "dealer_id", "mass_g", "entry_date", "place", "remarks", "recorded_by_id", "recorded_at",
)
SEAL_FIELDS = ("kind", "subject", "row_keys", "row_count", "digest", "recorded_at")
CHAINED_FIELDS: dict[type, tuple[str, ...]] = {
    CustodyEvent: CUSTODY_FIELDS,
    Transaction: TRANSACTION_FIELDS,
    SaleAnswer: SALE_ANSWER_FIELDS,
    StockEntry: STOCK_ENTRY_FIELDS,
    EvidenceSeal: SEAL_FIELDS,
}
#: Fields added after rows were first chained: hashed only when set, so older rows still verify.
LATER_FIELDS: dict[type, dict[str, Any]] = {CustodyEvent: {"device": "", "unregistered_sscc": None},
                                            Transaction: {"needs_confirmation": False}}

#: Chain name (its table) → model, in the order verify-chain walks them.
CHAINS: dict[str, ChainedModel] = {
    "custody_events": CustodyEvent,
    "transactions": Transaction,
    "sale_answers": SaleAnswer,
    "stock_entries": StockEntry,
    "evidence_seals": EvidenceSeal,
}


def canonical_value(value: Any) -> Any:
    """Return ``value`` as canonical JSON spells it: UTC times with microseconds, enums by value."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def canonical_json(row: ChainedRow) -> str:
    """Return the row's chained fields as canonical JSON (sorted keys, no spaces)."""
    later = LATER_FIELDS.get(type(row), {})
    data = {}
    for name in CHAINED_FIELDS[type(row)]:
        value = getattr(row, name)
        if name in later and value == later[name]:
            continue
        data[name] = canonical_value(value)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str | None, row: ChainedRow) -> str:
    """Return SHA-256(prev_hash || canonical JSON) as hex."""
    digest = hashlib.sha256()
    digest.update((prev_hash or GENESIS).encode("ascii"))
    digest.update(canonical_json(row).encode("utf-8"))
    return digest.hexdigest()


def chain_name(model: ChainedModel) -> str:
    """Return the name of ``model``'s chain (its table)."""
    return model.__tablename__


def chain_tip(session: Session, model: ChainedModel) -> str | None:
    """Return the hash of the newest row of ``model``'s chain, or None when empty."""
    return session.scalar(select(model.row_hash).order_by(model.id.desc()).limit(1))


def _lock_key(name: str) -> int:
    """Return a stable signed 64-bit advisory-lock key for chain ``name``."""
    return int.from_bytes(hashlib.sha256(f"mercury-chain:{name}".encode()).digest()[:8], "big", signed=True)


def lock_chain(session: Session, model: ChainedModel) -> None:
    """Hold ``model``'s chain lock until the transaction ends, and make sure its head exists.

    Call it before reading anything the append depends on. On SQLite the head insert
    is the transaction's first write and takes the database write lock, waiting for
    the other writer (a transaction that has already read may instead be refused
    with "database is locked": start a fresh transaction first, as the API does).
    """
    name = chain_name(model)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
        insert = pg_insert(ChainHead)
    else:
        insert = sqlite_insert(ChainHead)
    session.execute(insert.values(chain=name, length=0).on_conflict_do_nothing())


def _apply_defaults(row: ChainedRow) -> None:
    """Fill unset scalar column defaults now: the hash must see what the INSERT will store."""
    for name in CHAINED_FIELDS[type(row)]:
        column = row.__table__.columns[name]
        if getattr(row, name) is None and column.default is not None and column.default.is_scalar:
            setattr(row, name, column.default.arg)


def append_to_chain(session: Session, row: ChainedRow) -> None:
    """Link ``row`` after the current tip, add it to the session and move the head.

    Takes the chain lock (again, if the caller already holds it); the unique index
    on ``prev_hash`` refuses a fork in any case. Set foreign keys as ``*_id`` values,
    not relationships: the hash is computed before the row is flushed.
    """
    model = type(row)
    lock_chain(session, model)
    if row.recorded_at is None:
        row.recorded_at = datetime.now(timezone.utc)
    _apply_defaults(row)
    row.prev_hash = chain_tip(session, model)
    row.row_hash = row_hash(row.prev_hash, row)
    session.add(row)
    session.flush()
    head = session.get(ChainHead, chain_name(model), populate_existing=True)
    assert head is not None  # lock_chain created it
    head.length += 1
    head.tip_hash = row.row_hash
    sign_head(session, head.chain, head.length, head.tip_hash)
    session.flush()


def chain_rows(session: Session, model: ChainedModel) -> Iterable[ChainedRow]:
    """Return ``model``'s rows in chain order, read in pages."""
    return session.scalars(select(model).order_by(model.id).execution_options(yield_per=1000))


def first_broken(rows: Iterable[ChainedRow]) -> tuple[int, str] | None:
    """Return (row id, reason) of the first row that breaks the links, or None when intact."""
    prev: str | None = None
    for row in rows:
        if row.prev_hash != prev:
            return row.id, "previous hash does not match the row before it"
        if row.row_hash != row_hash(prev, row):
            return row.id, "row hash does not match the row's contents"
        prev = row.row_hash
    return None


def chain_length(session: Session, model: ChainedModel) -> int:
    """Return the number of rows in ``model``'s table."""
    return session.scalar(select(func.count()).select_from(model)) or 0


