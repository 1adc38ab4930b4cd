"""Benchmark: route evaluation beside shapely's raw ``contains_xy`` on the same corridor.

    .venv/bin/python bench/evaluation.py [--trips 5] [--database-url URL]

Prints fixes per second for: the raw point-in-polygon test on already projected points
(the peer), the corridor's own tests (projection included), every rule over whole trips,
the incremental re-evaluation window the gateway runs per batch (pure, then with the
database: store + ``reevaluate`` for one declaration, and ``reevaluate_many`` for a fleet
of declarations with one new fix each per batch; SQLite in a temporary file, and also
PostgreSQL when ``--database-url`` is given).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import shapely
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from beacon_gateway.evaluation import (Fix, Rules, evaluate, plan_for_route, reevaluate,  # noqa: E402
                                       reevaluate_many)
from beacon_gateway.simulator import Deviation, Pause, Simulation  # noqa: E402
from tracker.domain import geography as geo  # noqa: E402

DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
ROUTE = geo.KHAIDARKAN_AKJOL


def rate(label: str, count: int, work: Callable[[], object], repeat: int = 3) -> float:
    """Run ``work`` ``repeat`` times; print and return the best fixes per second."""
    best = min(_timed(work) for _ in range(repeat))
    per_s = count / best
    print(f"  {label:<58} {per_s:>14,.0f} fixes/s   {best * 1e6 / count:>8.2f} us/fix")
    return per_s


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def trips(n: int) -> list[list[Fix]]:
    """Simulated trips with an excursion, a stop and the tunnel gap each (seeded)."""
    return [[Fix.of(p) for p in Simulation(ROUTE, DEPARTED, seed=seed, noise_m=25,
                                           deviations=[Deviation(90 + seed, 5, 1_200)],
                                           pauses=[Pause(25, at_min=300)], gap_at="Too-Ashuu tunnel",
                                           gap_min=10).positions()] for seed in range(n)]


def windows(fixes: list[Fix], per_batch: int, rules: Rules) -> list[list[Fix]]:
    """The fixes a re-evaluation reads when ``per_batch`` new fixes arrive at a time."""
    lookback = timedelta(seconds=rules.lookback_s)
    out = []
    for end in range(per_batch, len(fixes), per_batch):
        since = fixes[end - per_batch].time - lookback
        out.append([f for f in fixes[max(0, end - 200):end] if f.time >= since])
    return out


def pure(n_trips: int) -> None:
    """Measure the corridor tests and the rules without a database, beside raw contains_xy."""
    rules = Rules()
    plan = plan_for_route(geo.route_line(ROUTE), 500, rules, reporting_period_s=30)
    corridor, data = plan.corridor, trips(n_trips)
    fixes = [f for trip in data for f in trip]
    lon, lat = np.array([f.lon for f in fixes]), np.array([f.lat for f in fixes])
    x, y = corridor.project(lon, lat)
    n = len(fixes)
    print(f"corridor of the demo route ({corridor.route.length:.1f} deg, 500 m), {n:,} simulated fixes")
    rate("peer: shapely.contains_xy, projected points, prepared", n,
         lambda: shapely.contains_xy(corridor.polygon, x, y))
    rate("Corridor.contains (projection + contains_xy)", n, lambda: corridor.contains(lon, lat))
    rate("Corridor.classify (inner margin + exact distance outside)", n, lambda: corridor.classify(lon, lat))
    rate("Corridor.distances_m (geodesic distance, every fix)", n, lambda: corridor.distances_m(lon, lat))
    rate("evaluate(): all rules over whole trips", n, lambda: [evaluate(trip, plan, rules) for trip in data])
    for per_batch in (1, 10, 100):
        parts = [w for trip in data for w in windows(trip, per_batch, rules)]
        rate(f"evaluate(): re-evaluation window, {per_batch} new fixes per batch", len(parts) * per_batch,
             lambda parts=parts: [evaluate(w, plan, rules) for w in parts], repeat=1)


def _declarations(session: Session, count: int) -> list[tuple[int, int]]:
    """Store ``count`` declarations in transit on the demo road; return (declaration id, beacon id)."""
    from shapely.geometry import LineString

    from tracker.models import (Beacon, BeaconProtocol, Checkpoint, CheckpointKind, Dealer, Declaration,
                                DeclarationKind, DeclarationStatus)

    stamp = f"{time.time_ns() % 10**12:012d}"
    dealer = Dealer(legal_name=f"Bench {stamp}", taxpayer_number=stamp.rjust(14, "0"), country="KG")
    ends = [Checkpoint(code=f"B{stamp}{i}", name="bench", kind=CheckpointKind.CUSTOMS_POST, lat=w.lat, lon=w.lon)
            for i, w in enumerate((ROUTE[0], ROUTE[-1]))]
    made = []
    for n in range(count):
        beacon = Beacon(device_id=f"BENCH-{stamp}-{n}", protocol=BeaconProtocol.JSON, reporting_period_s=30)
        made.append(Declaration(kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.IN_TRANSIT,
                                reference=f"B{stamp}{n:05d}", declarant=dealer, consignor=dealer, consignee=dealer,
                                origin=ends[0], destination=ends[1], beacon=beacon, corridor_m=500,
                                route=LineString([(w.lon, w.lat) for w in ROUTE])))
    session.add_all(made)
    session.commit()
    return [(d.id, d.beacon_id) for d in made]


def _insert(session: Session, declaration_id: int, beacon_id: int, positions: list) -> None:
    _insert_many(session, [(declaration_id, beacon_id, p) for p in positions])


def _insert_many(session: Session, rows: list) -> None:
    """Store (declaration id, beacon id, position) rows in one statement."""
    from sqlalchemy import insert

    from tracker.models import Position
    session.execute(insert(Position), [
        {"beacon_id": beacon_id, "declaration_id": declaration_id, "fix_time": p.fix_time, "lat": p.lat,
         "lon": p.lon, "speed_kmh": p.speed_kmh, "flags": [], "protocol": "json", "raw": b"{}"}
        for declaration_id, beacon_id, p in rows])


def with_database(url: str | None, per_batches: tuple[int, ...] = (1, 10, 100), fleet: int = 100) -> None:
    """Measure storing and re-evaluating per batch, one declaration, then a fleet."""
    from tracker import migrate
    from tracker.db import make_engine, make_session_factory

    url = url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    migrate.upgrade(url)
    engine = make_engine(url)
    trip = list(Simulation(ROUTE, DEPARTED, seed=1, noise_m=25, deviations=[Deviation(90, 5, 1_200)]).positions())
    print(f"store + reevaluate() + commit per batch, {engine.dialect.name}, one declaration, {len(trip)} fixes")
    for per_batch in per_batches:
        with make_session_factory(engine)() as session:
            ((declaration_id, beacon_id),) = _declarations(session, 1)

            def stream() -> None:
                """Deliver the trip in batches, each stored, re-evaluated and committed."""
                for i in range(0, len(trip), per_batch):
                    _insert(session, declaration_id, beacon_id, trip[i:i + per_batch])
                    reevaluate(session, declaration_id, since=trip[i].fix_time)
                    session.commit()

            rate(f"{per_batch} new fixes per batch", len(trip), stream, repeat=1)
    print(f"store + reevaluate_many() + commit per batch, {engine.dialect.name}, {fleet} declarations "
          f"each with 1 new fix per batch (the many-beacons case)")
    with make_session_factory(engine)() as session:
        fleet_ids = _declarations(session, fleet)
        steps = 60

        def fleet_stream() -> None:
            """Deliver one fix per declaration per batch."""
            for i in range(steps):
                _insert_many(session, [(d, b, trip[i]) for d, b in fleet_ids])   # one statement, as the writer does
                reevaluate_many(session, {d: trip[i].fix_time for d, _ in fleet_ids})
                session.commit()

        rate(f"{fleet} declarations x 1 fix per batch, {steps} batches", steps * fleet, fleet_stream, repeat=1)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=5, help="simulated trips of ~1,240 fixes (default 5)")
    parser.add_argument("--database-url", help="also measure on this database (it gets the schema)")
    args = parser.parse_args(argv)
    pure(args.trips)
    with_database(None)
    if args.database_url:
        with_database(args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
