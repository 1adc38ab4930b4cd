"""Sealing positions: the gateway's hourly seal run and verify-chain's check, beside reading the same fixes.

    .venv/bin/python bench/sealing.py                  # 1,000 declarations, one hour at 30 s: 120,000 fixes
    .venv/bin/python bench/sealing.py --declarations 10000

It creates (and afterwards drops) the PostgreSQL database ``mercury_bench_seal``, migrates
it, gives each declaration a beacon and one past hour of fixes every 30 s (filled with
COPY), then times, in one run:

1. the floor: one SELECT of every fix of the hour with the sealed fields (what any seal
   must read at least once);
2. ``run_position_sealing`` as the gateway runs it (chunks of 100 declarations);
3. a second run with nothing new (what every minute costs once the hour is sealed);
4. checking every seal (``verify_coverage``), as verify-chain does.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapely.geometry import LineString  # noqa: E402
from sqlalchemy import Engine, insert, select, text  # noqa: E402

import benchdb  # noqa: E402
from tracker.db import make_session_factory  # noqa: E402
from tracker.domain import signing  # noqa: E402
from tracker.domain.position_seals import hour_of, run_position_sealing  # noqa: E402
from tracker.domain.seal_checks import verify_coverage  # noqa: E402
from tracker.domain.seals import POSITIONS  # noqa: E402
from tracker.models import Beacon, Checkpoint, Dealer, Declaration  # noqa: E402

DATABASE = "mercury_bench_seal"
NOW = datetime.now(timezone.utc)
HOUR = hour_of(NOW) - timedelta(hours=2)
FIXES_PER_HOUR = 120  # one every 30 s
ROUTE = LineString([(72.799, 40.528), (73.0, 40.933)])


def seed(engine: Engine, declarations: int) -> int:
    """Beacons, declarations in transit and an hour of fixes each (COPY); return the number of fixes."""
    with engine.begin() as connection:
        dealer = connection.execute(insert(Dealer).values(legal_name="Bench LLC", taxpayer_number="1",
                                                          country="KG").returning(Dealer.id)).scalar_one()
        ends = [connection.execute(insert(Checkpoint).values(code=code, name=code, kind="customs_post", lat=lat,
                                                             lon=lon, radius_m=500).returning(Checkpoint.id))
                .scalar_one() for code, lat, lon in (("OSH", 40.528, 72.799), ("JAL", 40.933, 73.0))]
        connection.execute(insert(Beacon), [{"device_id": f"86{n:013d}", "protocol": "json", "description": "",
                                             "reporting_period_s": 30} for n in range(declarations)])
        beacons = connection.execute(select(Beacon.id).order_by(Beacon.id)).scalars().all()
        connection.execute(insert(Declaration), [{
            "kind": "domestic", "status": "in_transit", "reference": f"B{n:09d}", "declarant_id": dealer,
            "consignor_id": dealer, "consignee_id": dealer, "origin_id": ends[0], "destination_id": ends[1],
            "beacon_id": beacon, "vehicle": "", "decision_reason": "", "corridor_m": 500,
            "route": ROUTE, "planned_departure": HOUR - timedelta(days=1), "planned_arrival": HOUR + timedelta(days=1),
            "departed_at": HOUR - timedelta(days=1)} for n, beacon in enumerate(beacons)])
        trips = connection.execute(select(Declaration.beacon_id, Declaration.id)).all()
    return copy_fixes(engine, trips)


def copy_fixes(engine: Engine, trips: list) -> int:  # type: ignore[type-arg]
    """COPY an hour of fixes for every (beacon, declaration); return how many."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy("COPY positions (beacon_id, declaration_id, fix_time, received_at, lat, lon, "
                             "speed_kmh, flags, protocol, raw) FROM STDIN") as copy:
                for beacon_id, declaration_id in trips:
                    for k in range(FIXES_PER_HOUR):
                        moment = HOUR + timedelta(seconds=30 * k)
                        copy.write_row((beacon_id, declaration_id, moment, moment, 40.5 + k / 1e4, 72.8,
                                        60.0, "[]", "json", b'{"bench":true}'))
        raw.commit()
    finally:
        raw.close()
    return len(trips) * FIXES_PER_HOUR


def floor_read(engine: Engine) -> float:
    """Seconds to read every fix of the hour with the sealed fields, once."""
    started = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text(
            "SELECT id, beacon_id, declaration_id, fix_time, received_at, lat, lon, speed_kmh, course, altitude_m, "
            "accuracy_m, hdop, satellites, protocol, raw FROM positions WHERE fix_time >= :a AND fix_time < :b"),
            {"a": HOUR, "b": HOUR + timedelta(hours=1)}).all()
    return time.perf_counter() - started


def timed(action) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Run ``action``; return its seconds and result."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    """Seed, seal, seal again, verify; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=1000)
    args = parser.parse_args(argv)
    signing.use_key_file(Path("/tmp") / f"{DATABASE}.pem", create_if_missing=True)
    engine = benchdb.fresh_database(DATABASE, pool_size=2)
    try:
        fixes = seed(engine, args.declarations)
        sessions = make_session_factory(engine)
        floor = floor_read(engine)
        seal_s, seals = timed(lambda: run_position_sealing(sessions, NOW))
        again_s, _ = timed(lambda: run_position_sealing(sessions, NOW))
        with sessions() as session:
            verify_s, report = timed(lambda: verify_coverage(session, POSITIONS))
        print(f"{args.declarations:,} declarations, {fixes:,} fixes in one hour; {seals} seals")
        print(f"{'step':<34} {'seconds':>8} {'fixes/s':>10}")
        for step, seconds in (("floor: read the hour's fixes", floor), ("seal the hour (gateway run)", seal_s),
                              ("next run, nothing new", again_s), ("verify every seal", verify_s)):
            print(f"{step:<34} {seconds:>8.2f} {fixes / seconds:>10,.0f}")
        assert report.ok and report.count == fixes, report  # type: ignore[attr-defined]
    finally:
        benchdb.drop_database(engine, DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
