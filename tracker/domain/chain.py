"""Hash chains over append-only evidence (custody events, transactions, stock entries).

Each row's hash is SHA-256(previous row's hash || canonical JSON of the row's own
fields), so editing, deleting, reordering or forging a row breaks the chain there.
A chain head (length and newest hash, moved forward with every append) also catches
rows cut off the end, or appended with a correct hash by someone bypassing the code.

Writers hold the chain lock from before they read the tip until they commit, so two
officers recording at the same moment cannot fork the chain: PostgreSQL takes a
transaction-scoped advisory lock; SQLite takes the database write lock (the lock
``BEGIN IMMEDIATE`` would take) with the first write of the transaction.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Union

from sqlalchemy import func, select
from sqlalchemy import text as sql  # not "text": that name marks translatable messages (tracker.domain.text)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.domain.text import text
from tracker.models import ChainHead, CustodyEvent, StockEntry, Transaction

GENESIS = "0" * 64

ChainedRow = Union[CustodyEvent, Transaction, StockEntry]
ChainedModel = Union[type[CustodyEvent], type[Transaction], type[StockEntry]]

#: The fields that make up each chained row; the hashes themselves are excluded.
CUSTODY_FIELDS = (
    "client_event_id", "kind", "container_id", "declaration_id", "checkpoint_id",
    "from_party_id", "to_party_id", "officer_id", "device_token_id", "event_time",
    "event_time_zone", "recorded_at", "lat", "lon", "seal_intact", "measured_net_g",
    "remarks", "photo_digest", "device", "unregistered_sscc",
)
TRANSACTION_FIELDS = (
    "kind", "seller_id", "buyer_id", "mass_g", "place", "transaction_date",
    "declaration_id", "corrects_id", "remarks", "recorded_by_id", "recorded_at",
)
STOCK_ENTRY_FIELDS = (
    "kind", "dealer_id", "mass_g", "entry_date", "place", "remarks", "recorded_by_id", "recorded_at",
)
CHAINED_FIELDS: dict[type, tuple[str, ...]] = {
    CustodyEvent: CUSTODY_FIELDS,
    Transaction: TRANSACTION_FIELDS,
    StockEntry: STOCK_ENTRY_FIELDS,
}
#: Fields added after rows were first chained: hashed only when set, so older rows still verify.
LATER_FIELDS: dict[type, dict[str, Any]] = {CustodyEvent: {"device": "", "unregistered_sscc": None}}

#: Chain name (its table) → model, in the order verify-chain walks them.
CHAINS: dict[str, ChainedModel] = {
    "custody_events": CustodyEvent,
    "transactions": Transaction,
    "stock_entries": StockEntry,
}


def _canonical_value(value: Any) -> Any:
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
        data[name] = _canonical_value(value)
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
    session.flush()


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


@dataclass(frozen=True)
class ChainReport:
    """The result of walking one chain: its length, and the first broken row if any."""

    chain: str
    count: int
    broken_row_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the chain is intact."""
        return self.reason is None


def _why_link_breaks(session: Session, model: ChainedModel, row: ChainedRow) -> str:
    """Explain a broken link by finding the row the broken row claims to follow."""
    if row.prev_hash is None:
        return text("it claims to start the chain, but rows come before it (a forged or moved row)")
    followed = session.scalar(select(model.id).where(model.row_hash == row.prev_hash))
    if followed is None:
        return text("the row it follows is missing (deleted), or it was forged")
    if followed > row.id:
        return text("out of order: it follows row {followed}, which comes after it (rows swapped)",
                    followed=followed)
    return text("it follows row {followed}, not the row just before it (a row was inserted before it)",
                followed=followed)


def verify_chain(session: Session, model: ChainedModel) -> ChainReport:
    """Walk ``model``'s chain in order and report the first row that breaks it, and why."""
    name = chain_name(model)
    head = session.get(ChainHead, name, populate_existing=True)
    head_length, head_tip = (head.length, head.tip_hash) if head else (0, None)
    prev: str | None = None
    count = 0
    rows = session.scalars(select(model).order_by(model.id).execution_options(yield_per=1000))
    for row in rows:
        count += 1
        if row.prev_hash != prev:
            return ChainReport(name, count, row.id, _why_link_breaks(session, model, row))
        if row.row_hash != row_hash(prev, row):
            return ChainReport(name, count, row.id, text("row hash does not match the row's contents (edited)"))
        if count > head_length:
            return ChainReport(name, count, row.id, text("the chain head records {length} rows: this row was "
                                                         "appended outside the application (forged)",
                                                         length=head_length))
        prev = row.row_hash
    if count < head_length:
        return ChainReport(name, count, None, text("the chain head records {length} rows but {count} remain: "
                                                   "rows were deleted from the end",
                                                   length=head_length, count=count))
    if prev != head_tip:
        return ChainReport(name, count, None, text("the newest row's hash differs from the chain head"))
    return ChainReport(name, count)


def verify_all(session: Session) -> list[ChainReport]:
    """Verify every evidence chain."""
    return [verify_chain(session, model) for model in CHAINS.values()]


def chain_length(session: Session, model: ChainedModel) -> int:
    """Return the number of rows in ``model``'s table."""
    return session.scalar(select(func.count()).select_from(model)) or 0
