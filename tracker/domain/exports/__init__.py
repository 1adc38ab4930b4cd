"""Audit exports: GeoJSON, GPX, KML, CSV and EPCIS 2.0, each a generator of text chunks.

Rows are read in batches (``yield_per``: a server-side cursor on PostgreSQL) and text
leaves in chunks of about ``CHUNK_CHARS``, so a year of positions never sits in memory.
Every generator reads only; none writes to the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Iterator

from sqlalchemy import Select
from sqlalchemy.orm import Session

#: Rows fetched from the database at a time.
BATCH_ROWS = 500
#: Characters gathered before a chunk is handed on.
CHUNK_CHARS = 64 * 1024
#: Decimal places of exported coordinates (7 places: about a centimetre).
COORD_DIGITS = 7


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end`` (inclusive); either end may be open.

    In a message it reads "2026-01-01 – 2026-12-31" (the API's, the logs'); the portal writes
    each day as its reader's language writes dates.
    """

    start: date | None = None
    end: date | None = None

    def __format__(self, _spec: str) -> str:
        return f"{self.start or '…'} \u2013 {self.end or '…'}"

    @property
    def since(self) -> datetime | None:
        """Return the first moment of the period (UTC), or None when open."""
        return None if self.start is None else datetime.combine(self.start, time(), timezone.utc)

    @property
    def before(self) -> datetime | None:
        """Return the first moment after the period (UTC), or None when open."""
        return None if self.end is None else datetime.combine(self.end + timedelta(days=1), time(), timezone.utc)

    def bound(self, query: Select[Any], column: Any, by_day: bool = False) -> Select[Any]:
        """Return ``query`` limited to the period on ``column`` (a timestamp, or a date when ``by_day``)."""
        if self.start is not None:
            query = query.where(column >= (self.start if by_day else self.since))
        if self.end is not None:
            query = query.where(column <= self.end if by_day else column < self.before)
        return query


def stream_rows(session: Session, query: Select[Any]) -> Iterator[Any]:
    """Yield the rows of ``query`` a batch at a time (a server-side cursor where the driver has one)."""
    yield from session.execute(query.execution_options(yield_per=BATCH_ROWS))


def chunked(pieces: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Join small pieces of text into chunks of about ``size`` characters."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def utc_text(moment: datetime | None) -> str:
    """Return an ISO 8601 UTC timestamp ending in Z (seconds; milliseconds when present), or ''."""
    if moment is None:
        return ""
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def coord(value: float) -> float:
    """Round a longitude or latitude for export."""
    return round(float(value), COORD_DIGITS)
