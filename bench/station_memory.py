"""Benchmark: the station's memory look-up per frame, beside decoding the same frame.

    .venv/bin/python bench/station_memory.py [--sizes 1000 10000 100000] [--repeat 2000]

For an outbox remembering N sightings (containers seen within the window) and N photos,
prints the median microseconds per frame of: the sighting look-up for the container in
view (the work on every frame), the photo look-up (every photo of a folder), the SHA-256
of a 100 kB photo, the write of a sighting when a container in view is due to be moved
on (at most once a second per container; a committed transaction with synchronous=FULL),
and the prune. The peer is the decoder on a 640x480 frame holding one label, the work
every frame does anyway. Outboxes are temporary files on the same disk as /tmp.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner_app.decode import decode  # noqa: E402
from scanner_app.labels import make_label, render_image  # noqa: E402
from scanner_app.memory import Memory  # noqa: E402
from scanner_app.outbox import Outbox  # noqa: E402
from tracker.domain.gs1 import make_sscc  # noqa: E402

START = 1_800_000_000.0


def median_us(work: Callable[[int], object], repeat: int) -> float:
    """Median wall-clock microseconds of ``work(n)`` over ``repeat`` calls."""
    times = []
    for n in range(repeat):
        began = time.perf_counter()
        work(n)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e6


def filled_memory(folder: Path, size: int) -> Memory:
    """A memory of ``size`` sightings (all within the window) and ``size`` photos."""
    memory = Memory(Outbox(folder / f"outbox-{size}.sqlite3"), "AKJOL", window_s=600)
    with memory.outbox.transaction() as db:
        db.executemany("INSERT INTO sightings VALUES ('AKJOL', ?, ?)",
                       [(make_sscc(0, "4700078", n), START + n * 300 / size) for n in range(size)])
        db.executemany("INSERT INTO photos VALUES (?, ?, ?)",
                       [(hashlib.sha256(str(n).encode()).digest(), f"{n}.jpg", START) for n in range(size)])
    return memory


def memory_figures(memory: Memory, size: int, repeat: int) -> list[float]:
    """Sighting look-up, photo look-up, sighting write, prune (µs) for one filled memory."""
    in_view = [make_sscc(0, "4700078", n % size) for n in range(repeat)]
    digests = [hashlib.sha256(str(n % size).encode()).digest() for n in range(repeat)]
    look_up = median_us(lambda n: memory.new_visits({in_view[n]}, START + 300), repeat)
    photo = median_us(lambda n: memory.photo_processed(digests[n]), repeat)

    def write(n: int) -> None:
        with memory.outbox.transaction() as db:
            memory.remember(db, {in_view[n]}, START + 300 + n / 1000)
    written = median_us(write, min(repeat, 300))

    def prune(n: int) -> None:
        with memory.outbox.transaction() as db:
            memory.prune(db, START + 300 + n / 1000)
    return [look_up, photo, written, median_us(prune, 50)]


def main(argv: list[str] | None = None) -> int:
    """Print the figures, one line per memory size, and the decoder beside them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=2_000)
    args = parser.parse_args(argv)
    frame = np.full((480, 640, 3), 170, np.uint8)
    label = np.array(render_image(make_label(make_sscc(0, "4700078", 1), 34_500), dpi=100).convert("RGB"))
    frame[40:40 + label.shape[0], 30:30 + label.shape[1]] = label
    photo = np.random.default_rng(1).bytes(100_000)
    print(f"peer: decode of a 640x480 frame with one label: {median_us(lambda n: decode(frame), 50):.0f} µs; "
          f"SHA-256 of a 100 kB photo: {median_us(lambda n: hashlib.sha256(photo).digest(), args.repeat):.0f} µs")
    print("| remembered | sighting look-up | photo look-up | sighting write (fsync) | prune |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            memory = filled_memory(Path(folder), size)
            figures = memory_figures(memory, size, args.repeat)
            print(f"| {size:,} | " + " | ".join(f"{value:.0f} µs" for value in figures) + " |", flush=True)
            memory.outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
