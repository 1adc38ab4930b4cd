"""Monthly partitions of the positions table (PostgreSQL only; SQLite keeps one plain table).

Revision 0016 makes ``positions`` a table partitioned by RANGE on ``fix_time``: one partition
per calendar month (UTC) in the schema ``position_months`` (``positions_2026_12``) and a
DEFAULT partition (``positions_default``) that catches every fix no month holds: a beacon's
clock in 2000 or 2080, or a month nobody created. Nothing is ever refused for lack of a
partition. The application role owns nothing and so creates no table: months ahead are
created by the owner role (the migration, then ``flask --app tracker positions prepare``
from cron); a month created after fixes landed in the default partition takes them over.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, TypeVar

from sqlalchemy import text as sql
from psycopg.errors import DeadlockDetected, LockNotAvailable
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

SCHEMA = "position_months"
DEFAULT_PARTITION = "positions_default"
#: Months created ahead of the current one by the migration and ``positions prepare``.
AHEAD = 3
#: How long DDL on positions waits for its lock before giving up (the gateway must not queue behind it).
LOCK_TIMEOUT = "5s"
#: How many times DDL that timed out on a lock (or deadlocked) is tried (after 1 s, 2 s, ...).
LOCK_ATTEMPTS = 4
T = TypeVar("T")
MONTH_NAME = re.compile(r"^positions_(\d{4})_(\d{2})$")
MONTH_TEXT = re.compile(r"^(\d{4})-(\d{2})$")


class PartitionError(ValueError):
    """A month cannot be created, detached or attached (bad month, not partitioned, exists)."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC, the unit positions are partitioned and archived by."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Month:
        """Read ``YYYY-MM``; raise PartitionError otherwise."""
        found = MONTH_TEXT.match(value.strip())
        if not found or not 1 <= int(found.group(2)) <= 12 or not 1970 <= int(found.group(1)) <= 9998:
            raise PartitionError(f"{value!r} is not a month written YYYY-MM")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, moment: date) -> Month:
        """Return the month ``moment`` (a date, or a datetime in UTC) falls in."""
        return cls(moment.year, moment.month)

    def plus(self, months: int) -> Month:
        """Return the month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        """Return the first instant of the month (UTC)."""
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """Return the first instant of the next month (UTC), excluded from this one."""
        return self.plus(1).start

    @property
    def table(self) -> str:
        """Return the partition's table name (without schema)."""
        return f"positions_{self.year:04d}_{self.month:02d}"

    @property
    def qualified(self) -> str:
        """Return the partition's schema-qualified name."""
        return f"{SCHEMA}.{self.table}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def is_partitioned(connection: Connection) -> bool:
    """Tell whether ``positions`` is a partitioned table (PostgreSQL after revision 0016)."""
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.scalar(sql("SELECT relkind FROM pg_class WHERE oid = to_regclass('public.positions')"))
    return kind == "p"


def _require_partitioned(connection: Connection) -> None:
    if not is_partitioned(connection):
        raise PartitionError("positions is not partitioned here: PostgreSQL at revision 0016 or later only")


def partition_names(connection: Connection) -> list[str]:
    """Return the names of the tables attached to ``positions`` (months and default)."""
    return list(connection.scalars(sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'public.positions'::regclass ORDER BY c.relname")))


def months(connection: Connection) -> list[Month]:
    """Return the months that have a partition, oldest first."""
    found = (MONTH_NAME.match(name) for name in partition_names(connection))
    return sorted(Month(int(m.group(1)), int(m.group(2))) for m in found if m)


def has_default(connection: Connection) -> bool:
    """Tell whether the DEFAULT partition is attached."""
    return DEFAULT_PARTITION in partition_names(connection)


def _default_holds(connection: Connection, month: Month) -> bool:
    return bool(connection.scalar(sql(
        f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.{DEFAULT_PARTITION} WHERE fix_time >= :start AND fix_time < :end)"),
        {"start": month.start, "end": month.end}))


def _bounds(month: Month) -> str:
    return f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"


def _place_month(connection: Connection, month: Month, statement: str) -> int:
    """Run ``statement`` (creating or attaching ``month``'s partition), taking over the default's fixes of it."""
    connection.execute(sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    if not has_default(connection) or not _default_holds(connection, month):
        connection.execute(sql(statement))
        return 0
    default, window = f"{SCHEMA}.{DEFAULT_PARTITION}", {"start": month.start, "end": month.end}
    connection.execute(sql(f"ALTER TABLE positions DETACH PARTITION {default}"))
    connection.execute(sql(statement))
    moved = connection.execute(sql(
        f"INSERT INTO {month.qualified} SELECT * FROM {default} WHERE fix_time >= :start AND fix_time < :end"),
        window).rowcount
    connection.execute(sql(f"DELETE FROM {default} WHERE fix_time >= :start AND fix_time < :end"), window)
    connection.execute(sql(f"ALTER TABLE positions ATTACH PARTITION {default} DEFAULT"))
    return moved


def create_month(connection: Connection, month: Month) -> int:
    """Create ``month``'s partition, moving in any of its fixes the default partition holds; return them.

    Runs in the caller's transaction (all or nothing); fails after ``LOCK_TIMEOUT`` rather
    than make the gateway's inserts wait behind it.
    """
    _require_partitioned(connection)
    if month in months(connection):
        raise PartitionError(f"positions of {month} already have a partition")
    return _place_month(connection, month, f"CREATE TABLE {month.qualified} PARTITION OF positions {_bounds(month)}")


def attach_month(connection: Connection, month: Month) -> int:
    """Attach the table ``month.qualified`` back as the month's partition (fixes that landed meanwhile in
    the default partition join it); return how many moved."""
    _require_partitioned(connection)
    return _place_month(connection, month, f"ALTER TABLE positions ATTACH PARTITION {month.qualified} {_bounds(month)}")


def retrying_locks(work: Callable[[], T], attempts: int = LOCK_ATTEMPTS) -> T:
    """Run ``work`` (one transaction of DDL on positions), again after 1 s, 2 s... when it lost on a lock.

    A gateway transaction that planned its statements before a detach locks the old partition
    when it runs them again: DDL that waited too long or deadlocked with it is retried, the
    gateway's transaction goes on.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if not isinstance(exc.orig, (LockNotAvailable, DeadlockDetected)) or attempt == attempts:
                raise
            time.sleep(attempt)
    raise AssertionError("unreachable")


def detach_month(engine: Engine, month: Month) -> None:
    """Detach ``month``'s partition, leaving it a plain table in ``SCHEMA``; fixes of it then go to the default.

    CONCURRENTLY (no lock that stops the gateway) is only possible without a default partition;
    with one, the detach is a short catalog change that waits at most ``LOCK_TIMEOUT`` for the
    transactions under way (the gateway's inserts queue behind it meanwhile), tried again if need be.
    """
    retrying_locks(lambda: _detach(engine, month))


def _detach(engine: Engine, month: Month) -> None:
    with engine.begin() as connection:
        _require_partitioned(connection)
        if month not in months(connection):
            raise PartitionError(f"positions of {month} have no partition")
        concurrently = not has_default(connection)
        if not concurrently:
            connection.execute(sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            connection.execute(sql(f"ALTER TABLE positions DETACH PARTITION {month.qualified}"))
    if concurrently:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sql(f"ALTER TABLE positions DETACH PARTITION {month.qualified} CONCURRENTLY"))


def prepare_months(connection: Connection, today: date, ahead: int = AHEAD) -> list[Month]:
    """Create the partitions of the current month and ``ahead`` months after it that are missing."""
    _require_partitioned(connection)
    present = set(months(connection))
    wanted = [Month.of(today).plus(step) for step in range(ahead + 1)]
    missing = [month for month in wanted if month not in present]
    for month in missing:
        create_month(connection, month)
    return missing


@dataclass(frozen=True)
class PartitionSize:
    """One partition as ``positions partitions`` lists it."""

    name: str
    month: Month | None  # None: the default partition
    rows: int
    bytes: int


def partition_sizes(connection: Connection) -> list[PartitionSize]:
    """Return every attached partition with its exact row count and its size on disk (table and indexes)."""
    _require_partitioned(connection)
    sizes = []
    for name in partition_names(connection):
        rows = connection.scalar(sql(f'SELECT count(*) FROM {SCHEMA}."{name}"')) or 0
        size = connection.scalar(sql("SELECT pg_total_relation_size(:table)"), {"table": f"{SCHEMA}.{name}"})
        found = MONTH_NAME.match(name)
        month = Month(int(found.group(1)), int(found.group(2))) if found else None
        sizes.append(PartitionSize(name, month, int(rows), int(size or 0)))
    return sorted(sizes, key=lambda s: (s.month is None, s.month or Month(0, 1)))
