"""Gateway CPU per ping: 10,000 beacons in closed loop, pings/s beside the CPU the Python process and PostgreSQL spent.

    .venv/bin/python bench/gateway_cpu.py              # live and store-only, two runs each, 6 s a run
    .venv/bin/python bench/gateway_cpu.py --runs 3 --seconds 10

Throughput on this machine moves with its speed (other tenants); CPU time per ping moves
less, and says where a change saved work: in the gateway's Python or in PostgreSQL. It
uses bench/gateway.py's database, beacons and tracks (created, then dropped). The Python
figure includes the simulated devices (closed loop, one future per ping); PostgreSQL's is
the sum over every ``postgres`` process of the machine (Linux ``/proc``), so run it alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gateway  # noqa: E402  (bench/gateway.py)


def main(argv: list[str] | None = None) -> int:
    """Print pings/s and CPU µs per ping for live (evaluated) and store-only pings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    print(f"gateway CPU per ping, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    engine = gateway.create_database()
    try:
        writer = gateway.make_writer(engine)
        live = gateway.Tracks(live=True)
        gateway.closed_loop(writer, live, gateway.BEACONS, 0.0)        # each trip's first fix: every rule
        gateway.closed_loop(writer, live, gateway.BEACONS, 3.0)        # then watches and plans are warm
        stored = gateway.Tracks(untracked=True)
        gateway.closed_loop(writer, stored, gateway.BEACONS, 1.0)
        print(f"{'declaration':>12} {'pings/s':>9} {'Python µs/ping':>15} {'PostgreSQL µs/ping':>19}")
        for tracks, what in ((live, "live"), (stored, "none")):
            for _ in range(args.runs):
                before, postgres = os.times(), gateway.postgres_cpu_seconds()
                pings, seconds = gateway.closed_loop(writer, tracks, gateway.BEACONS, args.seconds)
                after = os.times()
                python_s = after.user + after.system - before.user - before.system
                print(f"{what:>12} {pings / seconds:>9.0f} {python_s / pings * 1e6:>15.0f} "
                      f"{(gateway.postgres_cpu_seconds() - postgres) / pings * 1e6:>19.0f}", flush=True)
        writer.stop()
    finally:
        gateway.drop_database(engine)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
