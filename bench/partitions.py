"""Positions partitioned by month beside one plain table: ingest and evaluation as the table grows.

    .venv/bin/python bench/partitions.py --quick     # 100 k and 1 M rows, a few minutes
    .venv/bin/python bench/partitions.py             # 1 M and 10 M rows (run it alone: long, heavy)

For each layout it creates (and afterwards drops) a PostgreSQL database ``mercury_bench_part``:
both are migrated to head; in ``plain`` the positions are then made one table again by
revision 0016's own downgrade step, ``partitioned`` gets a partition for each month of the
filled year. Both get the gateway benchmark's beacons and declarations (bench/gateway.py), then the table is filled server-side
(``INSERT ... SELECT generate_series``, 1,000 beacons without declaration, their fixes spaced so
that the largest size covers the past year: the smaller one covers its first months, as a
table grows) to each size and, at each size, it measures:

- ingest: 100 beacons in closed loop through the gateway's batch writer and whole pipeline,
  with no declaration (store only) and with a declaration in transit (stored and evaluated);
  each size drives 100 other beacons, so its trips start afresh as the first size's did;
- COPY: 20,000 rows of the current month, the ceiling of any writer;
- evaluation: ``reevaluate_many`` over the last hour of 100 declarations (the LATERAL read of
  sync.py, the rules and the alert sync), and the LATERAL read alone. These 100 declarations
  have beacons of their own, each given 120 fixes (an hour, one every 30 s) before the first
  fill, so every size evaluates the same fixes: only the table around them grows;
- custody lookup: ``nearest_fix`` (custody_track) for a filler beacon at instants spread over the year.

Figures are printed side by side, with the load average (the machine may be shared).
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from alembic.migration import MigrationContext  # noqa: E402
from alembic.operations import Operations  # noqa: E402
from sqlalchemy import Engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import benchdb  # noqa: E402
import gateway  # noqa: E402  (bench/gateway.py: seed, tracks, closed loop, writer)
from beacon_gateway.evaluation import reevaluate_many  # noqa: E402
from beacon_gateway.evaluation.sync import read_fixes_many  # noqa: E402
from tracker import migrate  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.db_partitions import Month, create_month, months  # noqa: E402
from tracker.domain.custody_track import nearest_fix  # noqa: E402
from tracker.models import Beacon, Declaration  # noqa: E402
from tracker.models import Position as PositionRow  # noqa: E402

DATABASE = "mercury_bench_part"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
FILL_START = Month.of(NOW).plus(-12).start
FILLERS = 1000
#: Seconds between two fixes of a filler beacon: the largest size fills the year up to now.
STEP_S = [3.0]
COPIES = [0]
#: The beacons (of bench/gateway.py's backlog set, beyond those the closed loops use) whose
#: declarations the evaluation figures judge, and how many fixes each has.
JUDGED = range(5000, 5100)
JUDGED_FIXES = 120


def layout_database(layout: str) -> Engine:
    """Create the database for ``layout`` (both at head; plain: positions made one table again, as
    revision 0016's downgrade makes it; partitioned: a year of months)."""
    benchdb._admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    benchdb._admin(f"CREATE DATABASE {DATABASE}")
    url = f"{benchdb.SERVER}/{DATABASE}"
    migrate.upgrade(url, "head")
    engine = make_engine(url, pool_size=5)
    if layout == "plain":
        unpartition(engine)
    else:
        with engine.begin() as connection:
            present, month = set(months(connection)), Month.of(FILL_START)
            while month <= Month.of(NOW):
                if month not in present:
                    create_month(connection, month)
                month = month.plus(1)
    gateway.seed(engine)
    seed_judged(engine)
    return engine


def seed_judged(engine: Engine) -> None:
    """Give each judged declaration its hour of fixes, as the gateway's store would (trip attached)."""
    tracks = gateway.Tracks()
    with engine.begin() as connection:
        trips = dict(connection.execute(select(Beacon.device_id, Declaration.id).join(
            Declaration, Declaration.beacon_id == Beacon.id)).all())
        beacons = dict(connection.execute(select(Beacon.device_id, Beacon.id)).all())
        rows = []
        for _ in range(JUDGED_FIXES):
            for n in JUDGED:
                p = tracks.next(n)
                rows.append({"beacon_id": beacons[p.device_id], "declaration_id": trips[p.device_id],
                             "fix_time": p.fix_time, "received_at": NOW, "lat": p.lat, "lon": p.lon,
                             "speed_kmh": p.speed_kmh, "flags": [], "protocol": "json", "raw": p.raw})
        connection.execute(insert(PositionRow), rows)


def unpartition(engine: Engine) -> None:
    """Turn the positions table back into one plain table with revision 0016's own downgrade step
    (the later revisions stay: the benchmark's seed needs today's tables)."""
    path = next((ROOT / "migrations" / "versions").glob("*_0016_positions_by_month.py"))
    spec = importlib.util.spec_from_file_location("positions_by_month", path)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        revision._unpartition()


def fill(engine: Engine, rows: int) -> float:
    """Add ``rows`` fixes server-side (a fix every 3 s for each of 1,000 filler beacons); return rows/s."""
    with engine.connect() as connection:
        first_filler = connection.scalar(select(Beacon.id).where(Beacon.device_id == gateway.device_id(2 * gateway.BEACONS)))
        done = connection.scalar(select(func.count()).select_from(PositionRow).where(PositionRow.beacon_id >= first_filler))
    began = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO positions (beacon_id, fix_time, received_at, lat, lon, speed_kmh, flags, protocol, raw) "
            "SELECT CAST(:first + g % :fillers AS integer), :t0 + (g / :fillers) * make_interval(secs => :step), now(), "
            "40.6 + (g % 97) * 0.001, 72.85, 60, '[]', 'json', '\\x78'::bytea "
            "FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g"),
            {"first": first_filler, "fillers": FILLERS, "t0": FILL_START, "step": STEP_S[0],
             "start": done, "stop": done + rows - 1})
    seconds = time.perf_counter() - began
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE positions"))
    return rows / seconds


def copy_rate(engine: Engine, rows: int = 20_000) -> float:
    """COPY ``rows`` fixes of the last day for a filler beacon not copied to before; return rows/s."""
    COPIES[0] += 1
    with engine.connect() as connection:
        beacon = connection.scalar(select(Beacon.id).where(
            Beacon.device_id == gateway.device_id(2 * gateway.BEACONS + FILLERS - COPIES[0])))
    base = NOW - timedelta(days=1)
    raw = engine.raw_connection()
    began = time.perf_counter()
    try:
        with raw.cursor().copy("COPY positions (beacon_id, fix_time, received_at, lat, lon, speed_kmh, flags, "
                               "protocol, raw) FROM STDIN") as copy:
            for n in range(rows):
                copy.write_row((beacon, base + timedelta(seconds=n * 0.5 + 0.001), NOW, 40.6, 72.85, 60.0, "[]",
                                "json", b"x"))
        raw.commit()
    finally:
        raw.close()
    return rows / (time.perf_counter() - began)


def best_rate(count: int, work: Callable[[], object], repeat: int = 3) -> float:
    """Return the best of ``repeat`` runs of ``work``, as ``count`` per second."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return count / best


def evaluation_rates(engine: Engine) -> tuple[float, float]:
    """Return (declarations re-evaluated per s, LATERAL reads per s) over the judged declarations' hour of fixes."""
    with Session(engine) as session:
        judged = [gateway.device_id(gateway.BACKLOG + n) for n in JUDGED]
        last = session.execute(select(PositionRow.declaration_id, func.max(PositionRow.fix_time))
                               .join(Beacon, Beacon.id == PositionRow.beacon_id).where(Beacon.device_id.in_(judged))
                               .group_by(PositionRow.declaration_id)).all()
        windows = {declaration_id: at - timedelta(seconds=30 * JUDGED_FIXES) for declaration_id, at in last}

        def evaluate() -> None:
            reevaluate_many(session, windows, now=NOW)
            session.rollback()

        return (best_rate(len(windows), evaluate),
                best_rate(len(windows), lambda: read_fixes_many(session, windows)))


def custody_rate(engine: Engine, lookups: int = 500) -> float:
    """Return nearest_fix lookups per second for a filler beacon at instants spread over the filled year."""
    with Session(engine) as session:
        beacon = session.scalar(select(Beacon.id).where(Beacon.device_id == gateway.device_id(2 * gateway.BEACONS + 5)))
        span = (NOW - FILL_START).total_seconds()
        instants = [FILL_START + timedelta(seconds=span * n / lookups) for n in range(lookups)]
        return best_rate(lookups, lambda: [nearest_fix(session, beacon, at) for at in instants])


def measure(engine: Engine, duration_s: float, tracks: dict[str, gateway.Tracks]) -> dict[str, float]:
    """Return every figure at the table's present size."""
    writer = gateway.make_writer(engine)
    figures = {}
    for what, track in tracks.items():
        pings, seconds = gateway.closed_loop(writer, track, 100, duration_s)
        figures[f"ingest {what} pings/s"] = pings / seconds
    writer.stop()
    figures["COPY rows/s"] = copy_rate(engine)
    figures["re-evaluation decl/s"], figures["LATERAL read decl/s"] = evaluation_rates(engine)
    figures["custody nearest_fix /s"] = custody_rate(engine)
    return figures


def run_layout(layout: str, sizes: list[int], duration_s: float) -> dict[int, dict[str, float]]:
    """Fill one layout's database to each size and measure; drop it afterwards."""
    engine = layout_database(layout)
    results: dict[int, dict[str, float]] = {}
    try:
        for round_, size in enumerate(sizes):
            # Each size's closed loops drive 100 beacons of their own, so every size starts the
            # same trips afresh: only the table grows, not the trips' own histories.
            tracks = {"store": gateway.Tracks(untracked=True), "evaluated": gateway.Tracks()}
            for track in tracks.values():
                track.offset += 100 * round_
            with engine.connect() as connection:
                present = connection.scalar(select(func.count()).select_from(PositionRow)) or 0
            rate = fill(engine, size - present) if size > present else 0.0
            results[size] = {"fill rows/s": rate, **measure(engine, duration_s, tracks)}
            results[size]["load average"] = os.getloadavg()[0]
            print(f"  {layout} at {size:,} rows: " + ", ".join(f"{k} {v:,.0f}" for k, v in results[size].items()),
                  flush=True)
        show_plans(engine, layout)
    finally:
        benchdb.drop_database(engine, DATABASE)
    return results


def show_plans(engine: Engine, layout: str) -> None:
    """Print how many tables a month-bounded read and the evaluation's LATERAL read touch."""
    if layout != "partitioned":
        return
    month = Month.of(NOW).plus(-3)
    with engine.connect() as connection:
        plan = "\n".join(connection.scalars(text(
            "EXPLAIN SELECT count(*) FROM positions WHERE fix_time >= :start AND fix_time < :end"),
            {"start": month.start, "end": month.end}))
    scanned = sorted({word for word in plan.split() if word.startswith("positions_")})
    print(f"  plan of a read bounded to {month}: scans {', '.join(scanned)} (of {len(months_of(engine))} months)")


def months_of(engine: Engine) -> list[Month]:
    with engine.connect() as connection:
        return months(connection)


def main(argv: list[str] | None = None) -> int:
    """Measure both layouts and print their figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 k and 1 M rows, short runs")
    parser.add_argument("--sizes", help="table sizes, comma-separated (default 1000000,10000000)")
    args = parser.parse_args(argv)
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000])
    duration = 3.0 if args.quick else 8.0
    STEP_S[0] = (NOW - FILL_START).total_seconds() * FILLERS / max(sizes)
    logging.disable(logging.WARNING)
    print(f"positions partitioned vs plain, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
          flush=True)
    results = {layout: run_layout(layout, sizes, duration) for layout in ("plain", "partitioned")}
    names = list(next(iter(results["plain"].values())))
    print(f"\n{'figure':<26}" + "".join(f"{f'{layout} {size / 1e6:g}M':>20}"
                                         for size in sizes for layout in ("plain", "partitioned")))
    for name in names:
        print(f"{name:<26}" + "".join(f"{results[layout][size][name]:>20,.1f}"
                                      for size in sizes for layout in ("plain", "partitioned")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
