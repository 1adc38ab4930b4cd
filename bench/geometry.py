"""Benchmark: the cost of a route's corridor, for honest and hostile routes at the upload limits.

    .venv/bin/python bench/geometry.py [--corridor-m 500] [--timeout 120] [--steps accept,corridor] [--only NAME]

Each route is measured in a child process of its own (spawned, so its peak memory is its
own), beside the ceiling every accepted route must stay under (2 s, 200 MB) and the peer
of the same size that costs least (50,000 points in a straight line):

- *raw corridor*: the corridor built on the route exactly as uploaded (what every page,
  export and gateway process did before routes were simplified), stopped at ``--timeout``
  seconds or 4 GB;
- *accept*: what saving a route now does once (simplify, check the caps, build and store the
  corridor outline), or its refusal;
- *corridor*: building the evaluation corridor from the stored route (what a gateway
  process does, once per route and process).

Memory is the child's peak resident set (``getrusage`` maxrss) less its resident set when
the work started (an upper bound of what the work needed; imports and a warm-up run on a
two-point route come before); times are wall-clock seconds on this machine. For accepted
routes the largest distance of an uploaded point from the stored route is printed too.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.domain import geography as geo  # noqa: E402

CEILING_S, CEILING_MB = 2.0, 200.0
POINTS = 49_999
MEMORY_LIMIT = 4 * 1024 ** 3
ROAD = geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Bishkek")
_TM = "+proj=tmerc +lat_0=41.4 +lon_0=72.97 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
TO_M = Transformer.from_crs("EPSG:4326", _TM, always_xy=True)
TO_DEG = Transformer.from_crs(_TM, "EPSG:4326", always_xy=True)


def _along(waypoints: tuple[geo.Waypoint, ...], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return n points evenly spaced along the waypoints (projected metres) and the unit normals there."""
    x, y = TO_M.transform([w.lon for w in waypoints], [w.lat for w in waypoints])
    x, y = np.asarray(x), np.asarray(y)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    at = np.linspace(0.0, s[-1], n)
    px, py = np.interp(at, s, x), np.interp(at, s, y)
    dx, dy = np.gradient(px), np.gradient(py)
    norm = np.hypot(dx, dy)
    return np.column_stack([px, py]), np.column_stack([-dy / norm, dx / norm]), at


def _lonlat(xy: np.ndarray) -> np.ndarray:
    lon, lat = TO_DEG.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def road_with_noise(n: int = POINTS, noise_m: float = 5.0, seed: int = 1) -> np.ndarray:
    """A GPS-track-like road: the demo road with bends (±150 m every 1.5 km) and ±noise_m jitter."""
    xy, normal, at = _along(ROAD, n)
    bends = 150.0 * np.sin(at / 1_500.0 * 2 * np.pi) * np.sin(at / 40_000.0)
    jitter = np.random.default_rng(seed).uniform(-noise_m, noise_m, size=(n, 2))
    return _lonlat(xy + normal * bends[:, None] + jitter)


def straight(n: int = POINTS) -> np.ndarray:
    """The peer: n points on the straight line Khaidarkan - Bishkek."""
    return _lonlat(_along((ROAD[0], ROAD[-1]), n)[0])


def zigzag(n: int = POINTS, amplitude_m: float = 100.0) -> np.ndarray:
    """Every point alternately ``amplitude_m`` left and right of the road: nothing simplifies away."""
    xy, normal, _ = _along(ROAD, n)
    side = np.where(np.arange(n) % 2 == 0, amplitude_m, -amplitude_m)
    return _lonlat(xy + normal * side[:, None])


def doubling_back(n: int = POINTS, passes: int = 10) -> np.ndarray:
    """Khaidarkan - Osh and back ``passes`` times, each pass with its own ±5 m noise."""
    leg = geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Osh")
    parts = [road_with_noise_on(leg if i % 2 == 0 else tuple(reversed(leg)), n // passes, seed=i)
             for i in range(passes)]
    return np.concatenate(parts)


def road_with_noise_on(waypoints: tuple[geo.Waypoint, ...], n: int, seed: int) -> np.ndarray:
    """``n`` points along ``waypoints`` with ±5 m noise."""
    xy, _, _ = _along(waypoints, n)
    return _lonlat(xy + np.random.default_rng(seed).uniform(-5.0, 5.0, size=(n, 2)))


def far_apart(n: int = POINTS) -> np.ndarray:
    """Points scattered over the globe: every segment thousands of kilometres long."""
    rng = np.random.default_rng(7)
    return np.column_stack([rng.uniform(-179, 179, n), rng.uniform(-80, 80, n)])


def scribble(n: int = 2_000, along_m: float = 2_000.0, amplitude_m: float = 200.0) -> np.ndarray:
    """``n`` points zig-zagging ±``amplitude_m`` over ``along_m`` near Osh: every piece overlaps every other."""
    s = np.linspace(0.0, along_m, n)
    side = np.where(np.arange(n) % 2 == 0, amplitude_m, -amplitude_m)
    return _lonlat(np.column_stack([s, side]) + np.asarray(TO_M.transform(72.8, 40.53)))


def at_the_cap(amplitude_m: float = 200.0) -> np.ndarray:
    """As many zig-zag points as the vertex cap allows along the road, overlapping in the corridor."""
    from tracker.domain.route_geometry import MAX_ROUTE_VERTICES
    return zigzag(MAX_ROUTE_VERTICES, amplitude_m)


def under_the_fold_limit() -> np.ndarray:
    """A scribble of the most points the fold limit lets through in a 500 m corridor (found by bisection)."""
    from shapely.geometry import LineString

    from tracker.domain.corridor import folds
    from tracker.domain.route_geometry import MAX_ROUTE_FOLDS
    low, high = 10, 2_000
    while high - low > 5:
        middle = (low + high) // 2
        fits = folds(LineString(scribble(middle, 20_000.0)), 500, MAX_ROUTE_FOLDS) <= MAX_ROUTE_FOLDS
        low, high = (middle, high) if fits else (low, middle)
    return scribble(low, 20_000.0)


def longest_at_the_cap() -> np.ndarray:
    """The cap's points spread over almost the longest route accepted, each segment densified."""
    from tracker.domain.route_geometry import MAX_ROUTE_VERTICES
    n = MAX_ROUTE_VERTICES
    xy = np.column_stack([np.arange(n) * 400.0 - 2_000_000.0, np.where(np.arange(n) % 2 == 0, 100.0, -100.0)])
    return _lonlat(xy)


CASES: dict[str, Callable[[], np.ndarray]] = {
    "straight line (peer)": straight,
    "road, ±5 m noise": road_with_noise,
    "zig-zag ±100 m": zigzag,
    "zig-zag ±30 m": lambda: zigzag(amplitude_m=30.0),
    "scribble: 2,000 points in 2 km": scribble,
    "doubling back 10×": doubling_back,
    "far-apart points": far_apart,
    "zig-zag at the vertex cap": at_the_cap,
    "scribble just under the fold limit": under_the_fold_limit,
    "longest route at the cap": longest_at_the_cap,
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024.0 ** 2


def _raw(coords: np.ndarray, corridor_m: int) -> str:
    from shapely.geometry import LineString

    from tracker.domain.corridor import Corridor
    Corridor(LineString(coords), corridor_m)
    return ""


def _accept(coords: np.ndarray, corridor_m: int) -> str:
    from shapely.geometry import LineString

    from tracker.domain.route_files import RouteFileError
    from tracker.domain.route_geometry import plan_geometry
    try:
        planned = plan_geometry(LineString(coords), corridor_m)
    except RouteFileError as exc:
        return f"refused: {exc}"
    return f"{len(planned.route.coords):,} points kept, tolerance {planned.tolerance_m:g} m"


def _corridor(coords: np.ndarray, corridor_m: int) -> str:
    from shapely.geometry import LineString

    from tracker.domain.corridor import Corridor
    Corridor(LineString(coords), corridor_m)
    return ""


STEPS = {"raw corridor": _raw, "accept": _accept, "corridor": _corridor}


def stored_route(coords: np.ndarray, corridor_m: int) -> np.ndarray | None:
    """Return the route as saving it stores it (None when it is refused)."""
    from shapely.geometry import LineString

    from tracker.domain.route_files import RouteFileError
    from tracker.domain.route_geometry import plan_geometry
    try:
        return np.asarray(plan_geometry(LineString(coords), corridor_m).route.coords)
    except RouteFileError:
        return None


def deviation_m(coords: np.ndarray, stored: np.ndarray, corridor_m: int) -> float:
    """Return the largest geodesic distance of an uploaded point from the stored route."""
    from shapely.geometry import LineString

    from tracker.domain.corridor import Corridor
    return float(Corridor(LineString(stored), corridor_m).distances_m(coords[:, 0], coords[:, 1]).max())


def _child(step: str, coords: np.ndarray, corridor_m: int, answer: multiprocessing.Queue) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    _raw(np.asarray([[72.0, 41.0], [72.1, 41.1]]), corridor_m)      # imports and warm-up are not counted
    try:
        _accept(np.asarray([[72.0, 41.0], [72.1, 41.1]]), corridor_m)
    except ImportError:
        pass
    started = (time.perf_counter(), _resident_mb())
    try:
        note = STEPS[step](coords, corridor_m)
    except MemoryError:
        answer.put((None, None, f"out of memory at {MEMORY_LIMIT / 1024 ** 3:.0f} GB"))
        return
    except Exception as exc:                    # GEOS reports running out of memory as std::bad_alloc
        answer.put((None, None, f"failed: {type(exc).__name__}: {exc}"))
        return
    seconds = time.perf_counter() - started[0]
    answer.put((seconds, max(0.0, _peak_mb() - started[1]), note))


def measure(step: str, coords: np.ndarray, corridor_m: int, timeout: float) -> tuple[float | None, float | None, str]:
    """Run one step on one route in a fresh process; return (seconds, peak MB, note)."""
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    child = context.Process(target=_child, args=(step, coords, corridor_m, answer))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None, None, f"stopped after {timeout:.0f} s"
    return answer.get() if not answer.empty() else (None, None, f"child died (exit {child.exitcode})")


def _figure(seconds: float | None, mb: float | None) -> str:
    if seconds is None or mb is None:
        return "—"
    over = "  OVER" if seconds > CEILING_S or mb > CEILING_MB else ""
    return f"{seconds:7.2f} s {mb:7.0f} MB{over}"


def main(argv: list[str] | None = None) -> None:
    """Measure every case and print one line per case and step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corridor-m", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps to run (default: all; 'raw corridor' is the slow one)")
    parser.add_argument("--only", help="measure only the cases whose name contains this")
    args = parser.parse_args(argv)
    print(f"ceiling per accepted route: {CEILING_S} s and {CEILING_MB:.0f} MB; corridor {args.corridor_m} m")
    steps = [s for s in args.steps.split(",") if s in STEPS]
    for name, make in CASES.items():
        if args.only and args.only not in name:
            continue
        coords = make()
        print(f"\n{name}: {len(coords):,} points")
        stored = stored_route(coords, args.corridor_m)
        for step in steps:
            given = stored if step == "corridor" else coords
            if given is None:
                print(f"  {step:<13} —  (refused)")
                continue
            seconds, mb, note = measure(step, given, args.corridor_m, args.timeout)
            print(f"  {step:<13} {_figure(seconds, mb)}  {note}", flush=True)
        if stored is not None:
            print(f"  largest distance of an uploaded point from the stored route: "
                  f"{deviation_m(coords, stored, args.corridor_m):.2f} m")


if __name__ == "__main__":
    main()
