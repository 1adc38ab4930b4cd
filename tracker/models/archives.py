"""Months of positions moved out of the database into archive files (PostgreSQL partitions).

Each row says which month left, where its file went, how many fixes it held and the file's
SHA-256, so an auditor can ask for the file and check it; the evidence seals of those fixes
stay in the database and are checked again once the month is restored.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, UTCDateTime, utcnow


class PositionArchive(Base):
    """One archived month of positions: its file, row count and checksum."""

    __tablename__ = "position_archives"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("row_count >= 0", name="row_count_not_negative"),
        CheckConstraint("restored_at IS NULL OR restored_at >= archived_at", name="restored_after_archived"),
        Index("ix_position_archives_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the first day of the archived month (fix times from it, to the next month, excluded)
    month: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the file was loaded back (the month is in the database again)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<PositionArchive {self.month:%Y-%m} {self.row_count} rows {self.file_name}>"
