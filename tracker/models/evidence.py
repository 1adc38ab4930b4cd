"""Evidence besides custody and trade: the stock book, chain heads, idempotent replies, customs data.

``StockEntry`` is append-only and chained like custody events and transactions;
``ChainHead`` remembers each chain's length and newest hash (and is what writers lock);
``ChainSignature`` keeps every head the application signed with a key the database never
sees, so re-hashing or cutting rows off a chain is detected; ``EvidenceSeal`` chains a
digest of evidence kept outside the chains (positions, submitted declaration items, alert
history, customs records); ``IdempotentReply`` keeps the answer given to a
request so a retried request gets the same answer; ``CustomsRecord`` is one row of an
imported customs border-crossing dataset.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, positive, utcnow
from tracker.models.enums import CrossingDirection, StockEntryKind

if TYPE_CHECKING:
    from tracker.models.parties import Dealer


class StockEntry(Base):
    """Mercury entering the books by production or leaving them by declared use."""

    __tablename__ = "stock_entries"
    __table_args__ = (
        CheckConstraint("length(row_hash) = 64", name="row_hash_sha256"),
        CheckConstraint("prev_hash IS NULL OR length(prev_hash) = 64", name="prev_hash_sha256"),
        positive("mass_g"),
        Index("ix_stock_entries_dealer_date", "dealer_id", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[StockEntryKind] = mapped_column(enum_type(StockEntryKind, "kind"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    mass_g: Mapped[int] = mapped_column(BigInteger)
    entry_date: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200))
    remarks: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    dealer: Mapped[Dealer] = relationship()

    @property
    def label(self) -> str:
        """Name the entry by kind and id."""
        return f"{self.kind}#{self.id}"


class ChainHead(Base):
    """The length and newest hash of one evidence chain, moved forward with every append."""

    __tablename__ = "chain_heads"
    __table_args__ = (
        CheckConstraint("length >= 0", name="length_not_negative"),
        CheckConstraint("tip_hash IS NULL OR length(tip_hash) = 64", name="tip_hash_sha256"),
    )

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    length: Mapped[int] = mapped_column(Integer, default=0)
    tip_hash: Mapped[str | None] = mapped_column(String(64))

    @property
    def label(self) -> str:
        """Name the head by its chain."""
        return self.chain


class ChainSignature(Base):
    """One signed chain head: the chain's length and newest hash at a time, signed with Ed25519.

    Append-only. The application may insert rows, but a row forged without the private
    key fails verification.
    """

    __tablename__ = "chain_signatures"
    __table_args__ = (
        UniqueConstraint("chain", "length"),
        CheckConstraint("length >= 0", name="length_not_negative"),
        CheckConstraint("tip_hash IS NULL OR length(tip_hash) = 64", name="tip_hash_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    length: Mapped[int] = mapped_column(Integer)
    tip_hash: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

    @property
    def label(self) -> str:
        """Name the signature by chain and length."""
        return f"{self.chain}@{self.length}"


class EvidenceSeal(Base):
    """A chained digest of evidence kept outside the chains, over the rows it names.

    ``kind`` says what is covered (positions, declaration_items, alert_history,
    customs_records), ``subject`` which group (e.g. a declaration and hour), ``row_keys``
    the rows (ids as ranges "1-5,9"); the newest seal of a subject covers all of it.
    """

    __tablename__ = "evidence_seals"
    __table_args__ = (
        CheckConstraint("length(row_hash) = 64", name="row_hash_sha256"),
        CheckConstraint("prev_hash IS NULL OR length(prev_hash) = 64", name="prev_hash_sha256"),
        CheckConstraint("length(digest) = 64", name="digest_sha256"),
        Index("ix_evidence_seals_kind_subject", "kind", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(80))
    row_keys: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def label(self) -> str:
        """Name the seal by what it covers."""
        return f"{self.kind}:{self.subject}"


class IdempotentReply(Base):
    """The answer given to a request, replayed when the same request comes again."""

    __tablename__ = "idempotent_replies"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint("length(request_digest) = 64", name="request_digest_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        """Name the reply by scope and key."""
        return f"{self.scope}/{self.key}"


class CustomsRecord(Base):
    """One border crossing as the customs service recorded it (an imported dataset row)."""

    __tablename__ = "customs_records"
    __table_args__ = (
        positive("mass_g"),
        CheckConstraint("reference IS NOT NULL OR sscc IS NOT NULL", name="identifies_goods"),
        CheckConstraint("length(row_key) = 64", name="row_key_sha256"),
        Index("ix_customs_records_crossing_date", "crossing_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    crossing_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(24), index=True)
    sscc: Mapped[str | None] = mapped_column(String(18), index=True)
    direction: Mapped[CrossingDirection] = mapped_column(enum_type(CrossingDirection, "direction"))
    mass_g: Mapped[int] = mapped_column(BigInteger)
    checkpoint_code: Mapped[str | None] = mapped_column(String(24))
    source_name: Mapped[str] = mapped_column(String(200))
    line_number: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the row's normalised content and its occurrence in the file: re-imports match it.
    row_key: Mapped[str] = mapped_column(String(64), unique=True)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        """Name the record by what it identifies and its date."""
        return f"{self.reference or self.sscc}@{self.crossing_date}"
