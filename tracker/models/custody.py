"""Custody events (who holds which container, seen where) and the transaction register.

Both tables are append-only evidence: each row carries the hash of the previous row
and its own, so an edit, a deletion or a forged row breaks the chain.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from tracker.models.base import (
    Base,
    UTCDateTime,
    enum_type,
    lat_lon_checks,
    positive,
    utcnow,
)
from tracker.models.enums import CustodyKind, SaleAnswerKind, TransactionKind

if TYPE_CHECKING:
    from tracker.models.containers import Container
    from tracker.models.declarations import Declaration
    from tracker.models.parties import Dealer
    from tracker.models.places import Checkpoint

_HASH_CHECKS = (
    CheckConstraint("length(row_hash) = 64", name="row_hash_sha256"),
    CheckConstraint("prev_hash IS NULL OR length(prev_hash) = 64", name="prev_hash_sha256"),
)


class CustodyEvent(Base):
    """A container seen at a checkpoint: departure, arrival, inspection or handover."""

    __tablename__ = "custody_events"
    __table_args__ = (
        *lat_lon_checks(),
        *_HASH_CHECKS,
        positive("measured_net_g", allow_null=True),
        CheckConstraint("officer_id IS NOT NULL OR device_token_id IS NOT NULL", name="has_recorder"),
        CheckConstraint("photo_digest IS NULL OR length(photo_digest) = 64", name="photo_digest_sha256"),
        CheckConstraint("container_id IS NOT NULL OR unregistered_sscc IS NOT NULL", name="identifies_container"),
        Index("ix_custody_events_container_event_time", "container_id", "event_time"),
        Index("ix_custody_events_checkpoint_event_time", "checkpoint_id", "event_time"),   # a post's day
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[CustodyKind] = mapped_column(enum_type(CustodyKind, "kind"))
    container_id: Mapped[int | None] = mapped_column(ForeignKey("containers.id"))
    #: An SSCC scanned that no registered container carries: kept as evidence all the same.
    unregistered_sscc: Mapped[str | None] = mapped_column(String(18))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    from_party_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    to_party_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_token_id: Mapped[int | None] = mapped_column(ForeignKey("device_tokens.id"))
    #: The reading device as the station names it (scanner, phone), beside the token.
    device: Mapped[str] = mapped_column(String(120), default="")
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    event_time_zone: Mapped[str] = mapped_column(String(6), default="+06:00")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    seal_intact: Mapped[bool] = mapped_column(Boolean)
    measured_net_g: Mapped[int | None] = mapped_column(BigInteger)
    remarks: Mapped[str] = mapped_column(Text, default="")
    photo_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    container: Mapped[Container | None] = relationship()
    declaration: Mapped[Declaration | None] = relationship()
    checkpoint: Mapped[Checkpoint] = relationship()

    @property
    def label(self) -> str:
        """Name the event by its client id."""
        return self.client_event_id

    @property
    def sscc(self) -> str:
        """Return the SSCC scanned: the registered container's, or the unregistered one."""
        return self.container.sscc if self.container is not None else str(self.unregistered_sscc)


class Transaction(Base):
    """A sale or purchase of mercury between two dealers; corrections refer to the original."""

    __tablename__ = "transactions"
    __table_args__ = (
        *_HASH_CHECKS,
        positive("mass_g"),
        CheckConstraint("seller_id <> buyer_id", name="distinct_parties"),
        CheckConstraint("(kind = 'sale') = (corrects_id IS NULL)", name="correction_refers"),
        Index("ix_transactions_seller_date", "seller_id", "transaction_date"),
        Index("ix_transactions_buyer_date", "buyer_id", "transaction_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TransactionKind] = mapped_column(enum_type(TransactionKind, "kind"), default=TransactionKind.SALE)
    seller_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    mass_g: Mapped[int] = mapped_column(BigInteger)
    place: Mapped[str] = mapped_column(String(200))
    transaction_date: Mapped[date] = mapped_column(Date)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    remarks: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The buyer must confirm it before it counts in the books (set on sales and corrections
    #: entered since revision 0014; entries from before count as confirmed). Hashed when true.
    needs_confirmation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    seller: Mapped[Dealer] = relationship(foreign_keys=[seller_id])
    buyer: Mapped[Dealer] = relationship(foreign_keys=[buyer_id])
    corrects: Mapped[Transaction | None] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        """Name the entry by kind and id."""
        return f"{self.kind}#{self.id}"


class SaleAnswer(Base):
    """The buyer's confirmation or dispute of a sale or correction: its own append-only, chained row.

    Register entries are hashed and never updated, so the answer is not written into
    the entry: a sale's state is its answers (pending with none, confirmed once confirmed).
    """

    __tablename__ = "sale_answers"
    __table_args__ = (
        *_HASH_CHECKS,
        CheckConstraint("answer = 'confirmed' OR length(reason) > 0", name="dispute_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    answer: Mapped[SaleAnswerKind] = mapped_column(enum_type(SaleAnswerKind, "answer"))
    reason: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def label(self) -> str:
        """Name the answer by kind and the entry it answers."""
        return f"{self.answer}#{self.transaction_id}"
