"""Audit reports on PostgreSQL: route compliance of one long track and flows over many declarations.

    .venv/bin/python bench/audit.py            # quick: tracks of 100k and 1M fixes; 10k and 100k declarations
    .venv/bin/python bench/audit.py --full     # tracks of 100k, 1M and 10M fixes

It creates (and afterwards drops) the PostgreSQL database ``mercury_bench_audit``, migrates
it and fills it with COPY and bulk inserts. It then prints, in one run:

1. route compliance (``tracker.domain.audit.compliance``, what the API answers) of one
   declaration per track size, beside the floor: a bare psycopg read of the same fixes
   (time, longitude, latitude) in fix-time order, and a COUNT of them;
2. the flow tables (route, crossing, dealer, month; unfiltered and filtered by one month,
   by kind and by dealer), with 10,000 and then 100,000 departed declarations, beside the
   floor: one aggregate of every declaration's items (COUNT and SUM over a join, no grouping);
3. "now": the first page of declarations in transit with their last position, and the
   open alerts by severity and age;
4. the plan of every query each report ran (EXPLAIN ANALYZE of the exact statements,
   captured as they went to the server): execution time and the scans it used.

Times are the best of three runs after one warm-up (the cache is warm: the figures are the
work of the queries and of Python, not of the disk).
"""
from __future__ import annotations

import argparse
import math
import secrets
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import Engine, event, insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import benchdb  # noqa: E402
from benchdb import fresh_database  # noqa: E402
from tracker.domain import geography as geo  # noqa: E402
from tracker.domain.audit import FlowFilter, compliance, flows, in_transit, open_alert_summary  # noqa: E402
from tracker.domain.audit.compliance import track_query  # noqa: E402
from tracker.domain.audit.flows import totals  # noqa: E402
from tracker.domain.gs1 import make_sscc  # noqa: E402
from tracker.models import (  # noqa: E402
    Alert,
    Beacon,
    Checkpoint,
    Container,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    ExpectedCheckpoint,
    Role,
    User,
)

DATABASE = "mercury_bench_audit"
ROUTE = geo.route_line(geo.KHAIDARKAN_AKJOL)
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
AUDITOR = User(login="bench.auditor", name="Bench auditor", role=Role.AUDITOR, active=True, password_hash="-")
POSTS = [("OSH", 40.528, 72.799), ("BISHKEK", 42.875, 74.590), ("KHAIDARKAN", 39.947, 71.343),
         ("KADAMJAI", 40.130, 71.724), ("KYZYL-KIYA", 40.257, 72.128), ("JALAL-ABAD", 40.933, 73.0),
         ("TASH-KUMYR", 41.347, 72.217), ("TOKTOGUL", 41.873, 72.941), ("KARA-BALTA", 42.814, 73.848),
         ("NARYN", 41.429, 75.991)]
CROSSINGS = [("AKJOL", 43.04, 74.71, "KZ"), ("DOSTUK", 40.77, 72.61, "UZ"), ("TORUGART", 40.56, 75.39, "CN"),
             ("IRKESHTAM", 39.68, 73.90, "CN")]
DEALERS, FOREIGN = 200, 20
#: Id ranges kept apart so the tracks and the flows never collide.
TRACK_IDS = 10_000_000


# ------------------------------------------------------------------ database
def create_database() -> Engine:
    """Create and migrate the benchmark database; return an engine on it."""
    return fresh_database(DATABASE, pool_size=2)


def drop_database(engine: Engine) -> None:
    """Drop the benchmark database."""
    benchdb.drop_database(engine, DATABASE)


def seed_places(engine: Engine) -> None:
    """Dealers (domestic and foreign), customs posts, border crossings, one officer."""
    with engine.begin() as c:
        c.execute(insert(Dealer), [{"id": n + 1, "legal_name": f"Dealer {n + 1}", "taxpayer_number": str(n + 1),
                                    "country": "KG" if n < DEALERS else "CN"} for n in range(DEALERS + FOREIGN)])
        c.execute(insert(Checkpoint), [
            {"id": n + 1, "code": code, "name": code, "kind": "customs_post", "lat": lat, "lon": lon,
             "radius_m": 500, "country": "KG"} for n, (code, lat, lon) in enumerate(POSTS)])
        c.execute(insert(Checkpoint), [
            {"id": 100 + n, "code": code, "name": code, "kind": "border_crossing", "lat": lat, "lon": lon,
             "radius_m": 500, "country": "KG", "neighbour_country": other}
            for n, (code, lat, lon, other) in enumerate(CROSSINGS)])
        c.execute(insert(User).values(id=1, login="bench.officer", name="Officer", role="customs_officer",
                                      password_hash="-", active=True))


@contextmanager
def driver(engine: Engine) -> Iterator[Any]:
    """Lend a pooled connection's psycopg connection (for COPY and EXPLAIN), then return it to the pool."""
    pooled = engine.raw_connection()
    try:
        yield pooled.driver_connection
    finally:
        pooled.close()


# ------------------------------------------------------------------ a long track
def track_points(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``n`` fixes (lon, lat, outside) driving the route back and forth, every 200th block of 40 off it."""
    coords = np.asarray(ROUTE.coords)
    steps = np.hypot(np.diff(coords[:, 0]) * math.cos(math.radians(41)), np.diff(coords[:, 1]))
    along = np.concatenate([[0], np.cumsum(steps)])
    phase = np.arange(n) * (along[-1] / 5_000)                   # 5,000 fixes one way
    s = np.abs((phase % (2 * along[-1])) - along[-1])
    lon, lat = np.interp(s, along, coords[:, 0]), np.interp(s, along, coords[:, 1])
    outside = (np.arange(n) % 8_000) < 40
    lon = lon + np.where(outside, 0.02, 0.0)                      # about 1.7 km east
    return lon, lat, outside


def copy_track(engine: Engine, declaration_id: int, beacon_id: int, n: int) -> int:
    """Store a declaration in transit with ``n`` fixes every 5 s and an off-route alert per excursion."""
    with engine.begin() as c:
        c.execute(insert(Beacon).values(id=beacon_id, device_id=f"86{beacon_id:013d}", protocol="json",
                                        reporting_period_s=5, description=""))
        c.execute(insert(Declaration).values({**declaration(declaration_id, "domestic", "in_transit", 3, 1, START),
                                              "beacon_id": beacon_id}))
    lon, lat, outside = track_points(n)
    start = START.timestamp()
    with driver(engine) as raw:
        with raw.cursor() as cursor, cursor.copy(
                "COPY positions (beacon_id, declaration_id, fix_time, received_at, lat, lon, flags, protocol, raw)"
                " FROM STDIN") as copy:
            for i in range(n):
                when = datetime.fromtimestamp(start + 5 * i, timezone.utc)
                copy.write_row((beacon_id, declaration_id, when, when, float(lat[i]), float(lon[i]), "[]", "json",
                                b"x"))
        raw.commit()
    alerts = []
    for first in np.flatnonzero(outside & ~np.roll(outside, 1)):
        begin, end = START + timedelta(seconds=5 * int(first)), START + timedelta(seconds=5 * (int(first) + 40))
        alerts.append({"declaration_id": declaration_id, "kind": "off_route", "severity": "warning",
                       "status": "closed", "opened_at": begin + timedelta(seconds=120), "closed_at": end,
                       "details": {"start": begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_s": 200.0,
                                   "max_distance_m": 1700.0}, "resolution": ""})
    with engine.begin() as c:
        if alerts:
            c.execute(insert(Alert), alerts)
        c.execute(text("ANALYZE positions"))
    return len(alerts)


# ------------------------------------------------------------------ many declarations
def declaration(i: int, kind: str, status: str, origin: int, destination: int, departed: datetime | None,
                declarant: int = 1, consignor: int = 1, consignee: int = 2) -> dict[str, Any]:
    """Return the row of declaration ``i``."""
    return {"id": i, "reference": f"B{i:010d}", "kind": kind, "status": status, "declarant_id": declarant,
            "consignor_id": consignor, "consignee_id": consignee, "origin_id": origin, "destination_id": destination,
            "route": ROUTE.wkt, "corridor_m": 500, "vehicle": "", "decision_reason": "", "receipt_remarks": "",
            "planned_departure": (departed or START) - timedelta(hours=1),
            "planned_arrival": (departed or START) + timedelta(days=2), "departed_at": departed}


def seed_declarations(engine: Engine, first: int, count: int, seed: int) -> None:
    """Add ``count`` declarations (ids from ``first``) of every kind over two years, with items and crossings.

    Kinds: half domestic, a quarter export, 15 % import, 10 % transit; 90 % departed
    (60 % received, 20 % in transit, 10 % arrived), 10 % approved and waiting; one to three
    flasks each; a custody event at 70 % of the expected border crossings.
    """
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["domestic", "export", "import", "transit"], size=count, p=[0.5, 0.25, 0.15, 0.1])
    statuses = rng.choice(["closed", "in_transit", "arrived", "approved"], size=count, p=[0.6, 0.2, 0.1, 0.1])
    days = rng.integers(0, 670, size=count)
    flasks = rng.integers(1, 4, size=count)
    dealers = rng.integers(1, DEALERS + 1, size=(count, 2))
    posts = rng.integers(1, len(POSTS) + 1, size=(count, 2))
    crossings = rng.integers(100, 100 + len(CROSSINGS), size=(count, 2))
    seen = rng.random(size=(count, 2)) < 0.7
    rows, items, containers, expected, events = [], [], [], [], []
    container = first * 3
    for n in range(count):
        i, kind, status = first + n, str(kinds[n]), str(statuses[n])
        departed = None if status == "approved" else START + timedelta(days=int(days[n]), hours=int(n % 24))
        seller, buyer = int(dealers[n, 0]), int(dealers[n, 1])
        origin, destination = int(posts[n, 0]), int(posts[n, 1])
        way = [int(crossings[n, 0])] if kind in ("export", "import") else []
        if kind == "transit":
            way = [int(crossings[n, 0]), 100 + (int(crossings[n, 0]) - 99) % len(CROSSINGS)]
        if kind == "import":
            seller, origin = DEALERS + 1 + n % FOREIGN, way[0]
        if kind == "export":
            buyer, destination = DEALERS + 1 + n % FOREIGN, way[0]
        if kind == "transit":
            seller, buyer, origin, destination = DEALERS + 1 + n % FOREIGN, DEALERS + 1 + (n + 1) % FOREIGN, *way
        rows.append(declaration(i, kind, status, origin, destination, departed, seller, seller, buyer))
        for k in range(int(flasks[n])):
            container += 1
            received = 34_500 - int(rng.integers(0, 120)) if status == "closed" else None
            containers.append({"id": container, "sscc": make_sscc(0, "470000001", container), "container_type":
                               "flask_34_5kg", "tare_g": 2_700, "capacity_g": 34_500, "net_g": 34_500,
                               "status": "in_transit", "owner_id": seller, "custodian_id": seller})
            items.append({"declaration_id": i, "container_id": container, "declared_net_g": 34_500,
                          "received_net_g": received})
        for seq, checkpoint in enumerate(way):
            expected.append({"declaration_id": i, "seq": seq, "checkpoint_id": checkpoint})
            if departed is not None and seen[n, seq]:
                events.append({"id": 2 * i + seq, "client_event_id": f"bench-{i}-{seq}", "kind": "inspection",
                               "container_id": container, "declaration_id": i, "checkpoint_id": checkpoint,
                               "officer_id": 1, "event_time": departed + timedelta(hours=6 + seq),
                               "event_time_zone": "+06:00", "recorded_at": departed, "seal_intact": True,
                               "remarks": "", "device": "", "row_hash": secrets.token_hex(32)})
    with engine.begin() as c:
        for model, batch in ((Container, containers), (Declaration, rows), (DeclarationItem, items),
                             (ExpectedCheckpoint, expected), (CustodyEvent, events)):
            for at in range(0, len(batch), 20_000):
                c.execute(insert(model), batch[at:at + 20_000])
        c.execute(text("ANALYZE"))


# ------------------------------------------------------------------ measuring
@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect the SELECT statements (with their parameters) sent to the server meanwhile."""
    found: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def best_of(run: Callable[[], Any], times: int = 3) -> tuple[float, Any]:
    """Return the best wall time of ``times`` runs after a warm-up, and the last result."""
    result = run()
    best = math.inf
    for _ in range(times):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def plan_summary(engine: Engine, statement: str, parameters: Any) -> str:
    """Return 'execution ms: scans' of one statement's EXPLAIN ANALYZE."""
    with driver(engine) as raw, raw.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        plan = cursor.fetchone()[0][0]
        raw.rollback()
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if "Scan" in kind and kind not in ("Subquery Scan", "CTE Scan", "Function Scan"):
            name = node.get("Index Name") or node.get("Relation Name", "")
            loops = node.get("Actual Loops", 1)
            scans.append(f"{kind} {name}" + (f" ×{loops}" if loops > 1 else ""))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return f"{plan['Execution Time']:.1f} ms: {', '.join(dict.fromkeys(scans)) or 'no table read'}"


def show_plans(engine: Engine, statements: list[tuple[str, Any]], limit: int = 6) -> None:
    """Print the plan summary of each distinct statement (the first ``limit``)."""
    for statement, parameters in list({s: (s, p) for s, p in statements}.values())[:limit]:
        first_line = " ".join(statement.split())[:90]
        print(f"      {plan_summary(engine, statement, parameters)}\n        ← {first_line}…")


def bench_compliance(engine: Engine, sizes: list[int], explain: bool) -> None:
    print("\n1. route compliance of one declaration (best of 3, warm cache)")
    print(f"{'fixes':>12} {'report s':>9} {'floor: read s':>14} {'COUNT s':>8} {'excursions':>11} {'time share':>11}")
    for n, size in enumerate(sizes):
        declaration_id = TRACK_IDS + n
        copy_track(engine, declaration_id, declaration_id, size)
        with Session(engine) as session:
            seconds, report = best_of(lambda: compliance(session, AUDITOR, declaration_id), 1 if size > 2e6 else 3)
        floor = read_floor(engine, declaration_id, 1 if size > 2e6 else 3)
        count_s, _ = best_of(lambda: scalar(engine, "SELECT count(*) FROM positions WHERE declaration_id = "
                                                    f"{declaration_id}"))
        share = report.coverage.time_share if report.coverage else None
        print(f"{size:>12,} {seconds:>9.3f} {floor:>14.3f} {count_s:>8.3f} {len(report.excursions):>11,} "
              f"{share:>11.4f}")
        if explain:
            with Session(engine) as session:
                query = track_query(session, declaration_id).compile(engine)
            show_plans(engine, [(str(query), query.params)], limit=1)


def read_floor(engine: Engine, declaration_id: int, times: int) -> float:
    """Time a bare psycopg read of the track (fix time, lon, lat) in fix-time order."""
    def read() -> int:
        with driver(engine) as raw, raw.cursor() as cursor:
            cursor.execute("SELECT fix_time, lon, lat FROM positions WHERE declaration_id = %s ORDER BY fix_time",
                           (declaration_id,))
            return len(cursor.fetchall())
    return best_of(read, times)[0]


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


FILTERS: list[tuple[str, FlowFilter]] = [
    ("all", FlowFilter()), ("one month", FlowFilter(date(2026, 3, 1), date(2026, 3, 31))),
    ("export", FlowFilter(kind=DeclarationKind.EXPORT)), ("dealer 7", FlowFilter(dealer_id=7))]


def bench_flows(engine: Engine, declarations: int, explain: bool) -> None:
    floor, _ = best_of(lambda: scalar(engine, "SELECT count(*) + sum(i.declared_net_g) FROM declaration_items i "
                                              "JOIN declarations d ON d.id = i.declaration_id"))
    print(f"\n2. flows over {declarations:,} declarations (best of 3; floor, one aggregate of every item: "
          f"{floor * 1000:.0f} ms)")
    print(f"{'filter':>10} " + " ".join(f"{g + ' ms':>12}" for g in ("route", "crossing", "dealer", "month"))
          + f" {'rows (route)':>13} {'declarations':>13} {'tonnes':>8}")
    plans: list[tuple[str, Any]] = []
    with Session(engine) as session:
        for name, f in FILTERS:
            cells, rows = [], 0
            for group in ("route", "crossing", "dealer", "month"):
                with captured(engine) as statements:
                    seconds, table = best_of(lambda: (flows(session, AUDITOR, group, f), totals(session, AUDITOR, f)))
                cells.append(f"{seconds * 1000:>12.1f}")
                rows = rows or len(table[0])
                if name in ("all", "one month"):
                    plans += statements[:1]
            count, declared, _ = table[1]
            print(f"{name:>10} " + " ".join(cells) + f" {rows:>13,} {count:>13,} {declared / 1e6:>8.1f}")
    if explain:
        show_plans(engine, plans, limit=8)


def bench_now(engine: Engine, explain: bool) -> None:
    now = datetime.now(timezone.utc)
    with Session(engine) as session, captured(engine) as statements:
        page_s, (rows, total) = best_of(lambda: in_transit(session, AUDITOR, now, limit=50))
        summary_s, summary = best_of(lambda: open_alert_summary(session, AUDITOR, now))
    print(f"\n3. now: first page of {total:,} declarations in transit {page_s * 1000:.1f} ms; open alerts by "
          f"severity and age ({sum(s.count for s in summary):,} open) {summary_s * 1000:.1f} ms")
    if explain:
        show_plans(engine, statements, limit=3)


def open_some_alerts(engine: Engine, count: int) -> None:
    """Open ``count`` alerts of every severity and age on the declarations in transit."""
    now = datetime.now(timezone.utc)
    with engine.begin() as c:
        ids = [r[0] for r in c.execute(text("SELECT id FROM declarations WHERE status = 'in_transit' LIMIT 5000"))]
        c.execute(insert(Alert), [{"declaration_id": ids[n % len(ids)], "kind": "late",
                                   "severity": ("info", "warning", "critical")[n % 3], "status": "open",
                                   "opened_at": now - timedelta(minutes=37 * n), "details": {}, "resolution": ""}
                                  for n in range(count)])
        c.execute(text("ANALYZE alerts"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="also a track of 10M fixes and flows over 1,000,000 declarations")
    parser.add_argument("--no-explain", action="store_true", help="leave out the query plans")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--parts", default="compliance,flows", help="compliance and/or flows (with now)")
    args = parser.parse_args(argv)
    explain = not args.no_explain
    sizes = [100_000, 1_000_000] + ([10_000_000] if args.full else [])
    started = time.perf_counter()
    engine = create_database()
    try:
        seed_places(engine)
        if "compliance" in args.parts:
            bench_compliance(engine, sizes, explain)
        if "flows" not in args.parts:
            return 0
        seed_declarations(engine, 1, 10_000, seed=1)
        open_some_alerts(engine, 2_000)
        bench_flows(engine, 10_000, explain)
        bench_now(engine, explain)
        seed_declarations(engine, 10_001, 90_000, seed=2)
        bench_flows(engine, 100_000, explain)
        bench_now(engine, explain)
        if args.full:
            seed_declarations(engine, 100_001, 900_000, seed=3)
            bench_flows(engine, 1_000_000, explain)
            bench_now(engine, explain)
    finally:
        if not args.keep:
            drop_database(engine)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
