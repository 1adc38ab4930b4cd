"""Importing the customs service's border-crossing dataset (CSV) for reconciliation.

The file has a header row naming its columns (any order, any case; comma, semicolon
or tab separated):

    date,reference,sscc,direction,mass_kg,checkpoint
    2026-11-20,26KGHG00000012340,,export,69.000,AKJOL

``date`` (YYYY-MM-DD), ``reference`` (a declaration reference) and/or ``sscc``,
``direction`` (import or export; in/entry and out/exit are understood), the mass as
``mass_g`` (whole grams) or ``mass_kg`` (kilograms, to the gram), and optionally
``checkpoint`` (code of the crossing). Good rows are kept, bad rows are reported by
line number with every reason; importing the same file again adds nothing (each row
is known by its content and its occurrence in the file).
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, may
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.gs1 import InvalidIdentifier, validate_sscc
from tracker.domain.seals import seal_customs_records
from tracker.domain.text import joined, text
from tracker.models import CrossingDirection, CustomsRecord, User

DIRECTIONS = {
    "import": CrossingDirection.IMPORT, "in": CrossingDirection.IMPORT, "entry": CrossingDirection.IMPORT,
    "export": CrossingDirection.EXPORT, "out": CrossingDirection.EXPORT, "exit": CrossingDirection.EXPORT,
}
REQUIRED = ("date", "direction")
MAX_FIELD = 200
#: The largest file an upload may send (the command line reads any size), and its most rows:
#: a file at either limit is imported in seconds, well inside one web worker's timeout.
MAX_UPLOAD_BYTES = 1024 * 1024
MAX_UPLOAD_ROWS = 5_000


@dataclass(frozen=True)
class CustomsRow:
    """One good row of the file, normalised."""

    line: int
    crossing_date: date
    reference: str | None
    sscc: str | None
    direction: CrossingDirection
    mass_g: int
    checkpoint_code: str | None

    def content(self) -> str:
        """Return the row's normalised content (what makes two rows the same crossing)."""
        return "|".join(str(v or "") for v in (self.crossing_date, self.reference, self.sscc,
                                               self.direction.value, self.mass_g, self.checkpoint_code))


@dataclass(frozen=True)
class RowError:
    """A refused row: its line number in the file and everything wrong with it."""

    line: int
    message: str


@dataclass
class ParsedFile:
    """The good rows (with their keys) and the refused ones."""

    rows: list[tuple[CustomsRow, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did."""

    added: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


def _mass(row: dict[str, str], problems: list[str]) -> int:
    grams, kilograms = (row.get("mass_g") or "").strip(), (row.get("mass_kg") or "").strip()
    try:
        value = Decimal(grams) if grams else Decimal(kilograms) * 1000
    except InvalidOperation:
        problems.append(text("mass {column}: not a number", column="mass_g" if grams else "mass_kg"))
        return 0
    if value != value.to_integral_value() or value <= 0:
        problems.append(text("mass: must be a positive whole number of grams"))
        return 0
    return int(value)


def _identity(row: dict[str, str], problems: list[str]) -> tuple[str | None, str | None]:
    reference = (row.get("reference") or "").strip().upper() or None
    raw_sscc = (row.get("sscc") or "").strip().removeprefix("(00)") or None
    sscc = None
    if raw_sscc is not None:
        try:
            sscc = validate_sscc(raw_sscc)
        except InvalidIdentifier as exc:
            problems.append(text("sscc: {problem}", problem=str(exc)))
    if reference is not None and len(reference) > 24:
        problems.append(text("reference: at most 24 characters"))
    if reference is None and raw_sscc is None:
        problems.append(text("reference or sscc: give at least one"))
    return reference, sscc


def _row(line: int, row: dict[str, str]) -> CustomsRow | RowError:
    problems: list[str] = []
    try:
        on = date.fromisoformat((row.get("date") or "").strip())
    except ValueError:
        problems.append(text("date: not a date (YYYY-MM-DD)"))
        on = date.min
    direction = DIRECTIONS.get((row.get("direction") or "").strip().lower())
    if direction is None:
        problems.append(text("direction: import or export"))
    reference, sscc = _identity(row, problems)
    mass = _mass(row, problems)
    checkpoint = (row.get("checkpoint") or "").strip().upper() or None
    if checkpoint is not None and len(checkpoint) > 24:
        problems.append(text("checkpoint: at most 24 characters"))
    if problems:
        return RowError(line, joined(problems))
    assert direction is not None
    return CustomsRow(line, on, reference, sscc, direction, mass, checkpoint)


def _reader(content: str) -> csv.DictReader[str]:
    first = content.split("\n", 1)[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(content), dialect=dialect)
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = headers
    missing = [h for h in REQUIRED if h not in headers]
    if not {"mass_g", "mass_kg"} & set(headers):
        missing.append("mass_g or mass_kg")
    if not {"reference", "sscc"} & set(headers):
        missing.append("reference or sscc")
    if missing:
        raise ValidationFailed({"header": text("line 1 must name the columns; missing: {columns}",
                                                columns=", ".join(missing))})
    return reader


def parse_customs_csv(data: bytes | str, max_rows: int | None = None) -> ParsedFile:
    """Parse the file: every good row with its dedup key, every bad row with its line number.

    With ``max_rows``, a file with more rows is refused whole as soon as the row after the last is read.
    """
    try:
        decoded = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise ValidationFailed({"file": text("not UTF-8 text")}) from None
    parsed, seen = ParsedFile(), Counter[str]()
    reader = _reader(decoded)
    for count, record in enumerate(reader, start=1):
        if max_rows is not None and count > max_rows:
            raise ValidationFailed({"file": text("at most {rows} rows per upload: split the file",
                                                 rows=max_rows)})
        line = reader.line_num
        if None in record or any(len(v or "") > MAX_FIELD for v in record.values() if isinstance(v, str)):
            parsed.errors.append(RowError(line, text("more fields than the header names, or a field too long")))
            continue
        result = _row(line, record)
        if isinstance(result, RowError):
            parsed.errors.append(result)
            continue
        content = result.content()
        seen[content] += 1
        key = hashlib.sha256(f"{content}#{seen[content]}".encode()).hexdigest()
        parsed.rows.append((result, key))
    return parsed


def _known_keys(session: Session, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        known.update(session.scalars(select(CustomsRecord.row_key).where(CustomsRecord.row_key.in_(chunk))))
    return known


def store_customs_rows(session: Session, actor: User | None, rows: Iterable[tuple[CustomsRow, str]],
                       source_name: str) -> ImportResult:
    """Keep the rows not imported before; ``actor=None`` is the command line's operator.

    ``rows`` may be wrapped in a progress bar: it is consumed one row at a time.
    """
    if actor is not None and not may(actor, Action.IMPORT_CUSTOMS_DATA):
        raise Forbidden(text("only customs officers and the licensing authority import customs data"))
    result, batch = ImportResult(), []
    for row, key in rows:
        batch.append((row, key))
        if len(batch) >= 500:
            _store_batch(session, actor, batch, source_name, result)
            batch = []
    _store_batch(session, actor, batch, source_name, result)
    return result


def _store_batch(session: Session, actor: User | None, batch: list[tuple[CustomsRow, str]],
                 source_name: str, result: ImportResult) -> None:
    known, added = _known_keys(session, [key for _, key in batch]), []
    for row, key in batch:
        if key in known:
            result.duplicates += 1
            continue
        known.add(key)
        added.append(CustomsRecord(
            crossing_date=row.crossing_date, reference=row.reference, sscc=row.sscc, direction=row.direction,
            mass_g=row.mass_g, checkpoint_code=row.checkpoint_code, source_name=source_name[:200],
            line_number=row.line, row_key=key, imported_by_id=actor.id if actor else None))
        result.added += 1
    session.add_all(added)
    session.flush()
    seal_customs_records(session, added)


def import_customs_csv(session: Session, actor: User | None, data: bytes | str, source_name: str,
                       max_rows: int | None = MAX_UPLOAD_ROWS) -> ImportResult:
    """Parse and store a customs CSV file (at most ``max_rows`` rows); return the counts and the refused rows."""
    if actor is not None and not may(actor, Action.IMPORT_CUSTOMS_DATA):
        raise Forbidden(text("only customs officers and the licensing authority import customs data"))
    parsed = parse_customs_csv(data, max_rows)
    result = store_customs_rows(session, actor, parsed.rows, source_name)
    result.errors = parsed.errors
    return result
