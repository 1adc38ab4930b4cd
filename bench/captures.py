"""Reading captured device streams (``beacon-gateway parse``): frames per second, per protocol.

Simulates one beacon's trip, encodes it as each framed protocol's TCP stream (GT06 one
frame per fix, Teltonika 50 fixes a packet), then times ``read_capture`` on the bytes, best
of three. Prints one line per protocol.

    .venv/bin/python bench/captures.py [--fixes 20000]
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from beacon_gateway import protocols
from beacon_gateway.decoders.capture import read_capture
from beacon_gateway.protocols import SimulatedDevice
from beacon_gateway.simulator import Simulation
from tracker.domain import geography as geo

IMEI = "356307042441013"
BATCH = {"gt06": 1, "teltonika": 50}


def capture_of(name: str, fixes: int) -> bytes:
    """A stream of ``fixes`` simulated fixes in protocol ``name``, opening included."""
    encoder = protocols.get(name).encoder
    assert encoder is not None and encoder.opening is not None
    trip = Simulation(geo.KHAIDARKAN_AKJOL, datetime(2026, 11, 20, 4, tzinfo=timezone.utc), device_id=IMEI,
                      period_s=1.0)
    positions, device = [p for _, p in zip(range(fixes), trip.positions())], SimulatedDevice(IMEI)
    size = BATCH[name]
    frames = [m for i in range(0, len(positions), size) for m in encoder.messages(positions[i:i + size], device)]
    return encoder.opening(IMEI) + b"".join(frames)


def main() -> None:
    """Print the reading rate of each framed protocol's capture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=20_000)
    args = parser.parse_args()
    for name in BATCH:
        data = capture_of(name, args.fixes)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            count = sum(1 for _ in read_capture(name, data))
            best = min(best, time.perf_counter() - start)
        print(f"{name}: {count} positions from {len(data):,} bytes in {best:.2f} s ({count / best:,.0f} positions/s)")


if __name__ == "__main__":
    main()
