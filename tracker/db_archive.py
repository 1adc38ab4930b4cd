"""Archiving a month of positions to a file an auditor can restore, and restoring it (PostgreSQL).

An archive is two files in the chosen folder: ``positions_YYYY_MM.csv.gz`` (the month's rows,
``COPY ... CSV HEADER`` ordered by id, gzip) and ``positions_YYYY_MM.manifest.json`` (row count,
id range and sum, SHA-256 of the compressed file and of the CSV inside). The month is detached
first (no fix can change under the copy), written, read back and checked against the table,
recorded in ``position_archives`` and only then dropped. A month holding fixes of a declaration
still open (in transit, arrived but not closed, ...) is refused: evidence in use never leaves.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO

from sqlalchemy import text as sql
from sqlalchemy.engine import Connection, Engine

from tracker.db_partitions import (LOCK_TIMEOUT, Month, PartitionError, attach_month, detach_month, is_partitioned,
                                   months, retrying_locks)
from tracker.models import OPEN_DECLARATION_STATUSES, utcnow

FORMAT = "mercury-positions-month/1"
CHUNK = 1 << 20
#: Session settings that make COPY's text the same on every server (so checksums compare).
COPY_SETTINGS = ("SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO, YMD'",
                 "SET LOCAL bytea_output = 'hex'", "SET LOCAL extra_float_digits = 1")


class ArchiveRefused(PartitionError):
    """The month may not be archived or restored (open declarations, current month, files exist, mismatch)."""


@dataclass(frozen=True)
class Manifest:
    """What an archive file holds, written beside it as JSON."""

    format: str
    month: str
    file: str
    rows: int
    id_min: int | None
    id_max: int | None
    id_sum: int
    sha256: str
    csv_sha256: str
    archived_at: str
    restore: str

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read a manifest file; raise ArchiveRefused when it is not one."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise ArchiveRefused(f"{path} is not a positions archive manifest: {exc}") from None
        if manifest.format != FORMAT:
            raise ArchiveRefused(f"{path}: unknown archive format {manifest.format!r}")
        if manifest.file != f"{Month.parse(str(manifest.month)).table}.csv.gz":
            raise ArchiveRefused(f"{path}: names {manifest.file!r}, not the file of {manifest.month}")
        return manifest


def paths_of(directory: Path, month: Month) -> tuple[Path, Path]:
    """Return the data file and manifest paths of ``month``'s archive in ``directory``."""
    return directory / f"{month.table}.csv.gz", directory / f"{month.table}.manifest.json"


def open_declarations(connection: Connection, table: str, month: Month) -> list[str]:
    """Return the references (or ids) of declarations still open that have fixes in ``table`` for ``month``."""
    statuses = [status.value for status in OPEN_DECLARATION_STATUSES]
    rows = connection.execute(sql(
        f"SELECT DISTINCT d.id, d.reference FROM declarations d WHERE d.status = ANY(:statuses) AND EXISTS "
        f"(SELECT 1 FROM {table} p WHERE p.declaration_id = d.id AND p.fix_time >= :start AND p.fix_time < :end) "
        "ORDER BY d.id"), {"statuses": statuses, "start": month.start, "end": month.end})
    return [reference or f"#{declaration_id}" for declaration_id, reference in rows]


def _refuse_open(connection: Connection, table: str, month: Month) -> None:
    found = open_declarations(connection, table, month)
    if found:
        raise ArchiveRefused(f"{month} holds fixes of {len(found)} declaration(s) still open: "
                             f"{', '.join(found[:10])}; archive it once they are closed")


def _check_archivable(engine: Engine, month: Month, today: date, files: tuple[Path, Path]) -> None:
    if month >= Month.of(today):
        raise ArchiveRefused(f"{month} is not over yet: only months before {Month.of(today)} are archived")
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ArchiveRefused(f"{', '.join(existing)} already exist(s): an archive is never overwritten")
    with engine.connect() as connection:
        if not is_partitioned(connection):
            raise ArchiveRefused("positions is not partitioned here: PostgreSQL at revision 0016 or later only")
        if month not in months(connection):
            raise ArchiveRefused(f"positions of {month} have no partition (already archived?)")
        _refuse_open(connection, "positions", month)


def _copy_out(connection: Connection, table: str, sink: IO[bytes]) -> str:
    """COPY ``table`` ordered by id as CSV into ``sink``; return the CSV's SHA-256."""
    for setting in COPY_SETTINGS:
        connection.execute(sql(setting))
    digest = hashlib.sha256()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        for block in copy:
            digest.update(block)
            sink.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(connection: Connection, month: Month, data_file: Path) -> str:
    """Write the detached month to ``data_file`` (written whole, then renamed); return the CSV's SHA-256."""
    partial = data_file.with_name(data_file.name + ".partial")
    with partial.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
        csv_sha256 = _copy_out(connection, month.qualified, zipped)
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    partial.rename(data_file)
    return csv_sha256


def _read_back(data_file: Path) -> tuple[str, int, int]:
    """Read an archive file again: return its CSV's SHA-256, its row count and the sum of its ids."""
    digest, rows, id_sum = hashlib.sha256(), 0, 0
    with gzip.open(data_file, "rb") as fh:
        text = io.TextIOWrapper(_Tee(fh, digest), encoding="utf-8", newline="")
        reader = csv.reader(text)
        next(reader, None)
        for row in reader:
            rows, id_sum = rows + 1, id_sum + int(row[0])
    return digest.hexdigest(), rows, id_sum


class _Tee(io.RawIOBase):
    """A readable stream that hashes what passes through it."""

    def __init__(self, source: IO[bytes], digest: "hashlib._Hash") -> None:
        self.source, self.digest = source, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        block = self.source.read(len(buffer))
        self.digest.update(block)
        buffer[:len(block)] = block
        return len(block)


def _totals(connection: Connection, table: str) -> tuple[int, int | None, int | None, int]:
    row = connection.execute(sql(f"SELECT count(*), min(id), max(id), coalesce(sum(id), 0) FROM {table}")).one()
    return int(row[0]), row[1], row[2], int(row[3])


def _manifest(month: Month, data_file: Path, csv_sha256: str, totals: tuple[int, int | None, int | None, int]
              ) -> Manifest:
    rows, id_min, id_max, id_sum = totals
    return Manifest(FORMAT, str(month), data_file.name, rows, id_min, id_max, id_sum, file_sha256(data_file),
                    csv_sha256, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    f"flask --app tracker positions restore {data_file.name.replace('.csv.gz', '.manifest.json')}"
                    f"  (or: \\copy positions FROM PROGRAM 'zcat {data_file.name}' WITH (FORMAT csv, HEADER))")


def _export_detached(engine: Engine, month: Month, files: tuple[Path, Path]) -> Manifest:
    """Write and verify the detached month's file and manifest; raise ArchiveRefused on any mismatch."""
    data_file, manifest_file = files
    with engine.begin() as connection:
        _refuse_open(connection, month.qualified, month)  # the detached table is final: check it again
        totals = _totals(connection, month.qualified)
        csv_sha256 = _write(connection, month, data_file)
    manifest = _manifest(month, data_file, csv_sha256, totals)
    if _read_back(data_file) != (csv_sha256, manifest.rows, manifest.id_sum):
        raise ArchiveRefused(f"{data_file} does not read back as written: the month stays in the database")
    manifest_file.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    return manifest


def _forget(engine: Engine, month: Month, manifest: Manifest, data_file: Path) -> None:
    """Record the archive and drop the detached table, in one transaction."""
    with engine.begin() as connection:
        connection.execute(sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        connection.execute(sql(
            "INSERT INTO position_archives (month, file_name, row_count, sha256, archived_at) "
            "VALUES (:month, :file, :rows, :sha256, :at)"),
            {"month": month.start.date(), "file": str(data_file)[:255], "rows": manifest.rows,
             "sha256": manifest.sha256, "at": utcnow()})
        connection.execute(sql(f"DROP TABLE {month.qualified}"))


def archive_month(engine: Engine, month: Month, directory: Path, today: date) -> Manifest:
    """Detach ``month``, write it to ``directory``, verify the file, record it and drop the month.

    On any failure after the detach the month is attached again and partial files removed:
    it is either in the database or in a verified file, never in neither.
    """
    files = paths_of(directory, month)
    _check_archivable(engine, month, today, files)
    detach_month(engine, month)
    try:
        manifest = _export_detached(engine, month, files)
        retrying_locks(lambda: _forget(engine, month, manifest, files[0]))
    except BaseException:
        retrying_locks(lambda: _attach(engine, month))
        for path in (*files, files[0].with_name(files[0].name + ".partial")):
            path.unlink(missing_ok=True)
        raise
    return manifest


def _attach(engine: Engine, month: Month) -> None:
    with engine.begin() as connection:
        attach_month(connection, month)


def _copy_in(connection: Connection, table: str, data_file: Path) -> None:
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with gzip.open(data_file, "rb") as fh, cursor.copy(
            f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
        for block in iter(lambda: fh.read(CHUNK), b""):
            copy.write(block)


def restore_month(engine: Engine, manifest_file: Path) -> Manifest:
    """Load an archived month back as its partition, after checking the file against its manifest.

    The rows loaded must give back the manifest's CSV checksum, count and id sum, or nothing is kept.
    """
    manifest = Manifest.read(manifest_file)
    month, data_file = Month.parse(manifest.month), manifest_file.with_name(manifest.file)
    if not data_file.exists() or file_sha256(data_file) != manifest.sha256:
        raise ArchiveRefused(f"{data_file} is missing or does not match the SHA-256 of {manifest_file}")
    return retrying_locks(lambda: _load(engine, month, manifest, data_file))


def _load(engine: Engine, month: Month, manifest: Manifest, data_file: Path) -> Manifest:
    """Load the file as ``month``'s partition and record the restore, in one transaction."""
    with engine.begin() as connection:
        if not is_partitioned(connection):
            raise ArchiveRefused("positions is not partitioned here: PostgreSQL at revision 0016 or later only")
        if month in months(connection):
            raise ArchiveRefused(f"positions of {month} are in the database: nothing to restore")
        connection.execute(sql(f"CREATE TABLE {month.qualified} (LIKE positions INCLUDING DEFAULTS "
                               "INCLUDING CONSTRAINTS)"))
        _copy_in(connection, month.qualified, data_file)
        restored = _verify_restored(connection, month, manifest)
        attach_month(connection, month)
        connection.execute(sql("UPDATE position_archives SET restored_at = :at WHERE month = :month "
                               "AND restored_at IS NULL"), {"at": utcnow(), "month": month.start.date()})
    return restored


def _verify_restored(connection: Connection, month: Month, manifest: Manifest) -> Manifest:
    totals = _totals(connection, month.qualified)
    digest = _copy_out(connection, month.qualified, _Discard())
    if digest != manifest.csv_sha256 or (totals[0], totals[3]) != (manifest.rows, manifest.id_sum):
        raise ArchiveRefused(f"the rows loaded from {manifest.file} differ from its manifest: nothing restored")
    return manifest


class _Discard(io.RawIOBase):
    """A sink that keeps nothing (the checksum is all a verification needs)."""

    def writable(self) -> bool:
        return True

    def write(self, block: bytes) -> int:  # type: ignore[override]
        return len(block)
