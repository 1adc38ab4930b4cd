"""A declaration's watch at its last settled fix: judge the next fix in constant time.

Re-running every rule over the last half hour of a track at each ping costs a read of the
window and a pass of every rule; at 10,000 beacons that is most of the gateway's work, and
almost always it finds what it found before. The watch keeps what the rules need to know
about the track so far while nothing is going on (no alert open or pending):

- the latest fix (its time, and its coordinates: a frozen receiver repeats them);
- the last fix that says where the vehicle is (a jump is measured from it);
- the last time the device was heard (a silence is measured from it);
- the stay the vehicle may be starting (its first fix and the sum of its fixes, whose mean
  is the stay's centre, as ``movement.unscheduled_stop`` counts it);
- whether the trip has arrived, and whether it is already late.

``advance`` takes the next fixes in time order and returns the watch after them when each
is *quiet*: in order, valid and unflagged, within the reporting allowance of the last one
heard and of now, not an impossible hop, not frozen, inside the corridor, away from the
destination and from every prohibited zone, not late, and not completing a stay. Then the
full rules would find exactly the episodes they found before (none new, none changed), so
nothing needs syncing. Anything else returns ``None``: the caller re-evaluates the window
with every rule, and ``settle`` makes the watch anew from what that found. The checks err
towards ``None``: a doubtful fix costs a full evaluation, never a missed alert.
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from beacon_gateway.evaluation.episodes import Episode
from beacon_gateway.evaluation.movement import local_m, stay_at_end
from beacon_gateway.evaluation.plan import Circle, Plan
from beacon_gateway.evaluation.rules import ARRIVED, LATE, Rules
from beacon_gateway.evaluation.track import Fix, Track, epoch
from beacon_gateway.evaluation.timing import heard

#: A hop this much longer than its rough measure is still judged possible only by the full rules.
HOP_MARGIN = 1.2
#: Kept with the watch; a watch of another version is not trusted (made anew by a full evaluation).
VERSION = 1


class Watch(NamedTuple):
    """What the rules need to know of a quiet track at its last settled fix (times in epoch seconds)."""

    plan: str                    # fingerprint of the plan the track was judged against
    last_t: float                # the latest fix
    last_lat: float
    last_lon: float
    heard_t: float               # the last fix whose time says when the device was heard
    ref_t: float                 # the last fix that says where the vehicle is
    ref_lat: float
    ref_lon: float
    stay_t: float                # the first fix of the stay that may be starting
    stay_lat_sum: float
    stay_lon_sum: float
    stay_n: int
    arrived: bool = False
    late: bool = False           # a lateness episode is already open

    def to_json(self) -> list[Any]:
        """Return the watch as stored: its version, then its values in field order (compact JSON)."""
        return [VERSION, *self]

    @classmethod
    def from_json(cls, data: Any) -> Watch | None:
        """Return a stored watch, or None when it is of another version or shape."""
        if not isinstance(data, list) or not data or data[0] != VERSION or len(data) != len(cls._fields) + 1:
            return None
        return cls(*data[1:])


def plan_fingerprint(plan: Plan) -> str:
    """Return a short fingerprint of what the quiet checks read from a plan."""
    return _facts(plan)[0]


Box = tuple[float, float, float, float]


def _facts(plan: Plan) -> tuple[str, tuple[Box, ...]]:
    """Return the plan's fingerprint and its prohibited zones' boxes, worked out once per plan."""
    known = _FINGERPRINTS.get(id(plan))
    if known is not None and known[0] is plan:
        return known[1], known[2]
    parts = (plan.corridor.length_m, plan.corridor.width_m, plan.reporting_period_s, plan.planned_arrival,
             plan.departed_at, plan.destination, tuple(a.name for a in plan.prohibited))
    fingerprint = hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()
    boxes = tuple(_widened(area.polygon.bounds) for area in plan.prohibited)
    if len(_FINGERPRINTS) > 40_000:          # plans are re-read every half minute: forget the old ones
        _FINGERPRINTS.clear()
    _FINGERPRINTS[id(plan)] = (plan, fingerprint, boxes)
    return fingerprint, boxes


#: id(plan) -> (plan, its fingerprint, its prohibited zones' boxes); the plan is kept so its id stays its own.
_FINGERPRINTS: dict[int, tuple[Plan, str, tuple[Box, ...]]] = {}


def advance(watch: Watch, fixes: Sequence[Fix], plan: Plan, rules: Rules, now: datetime,
            outside: Sequence[bool]) -> Watch | None:
    """Return the watch after ``fixes`` (time order) when every one is quiet, else None.

    ``outside[i]`` says whether fix ``i`` is outside the corridor's outer edge (computed
    for the whole batch at once by the caller: see ``outside_corridor``).
    """
    fingerprint, boxes = _facts(plan)
    if watch.plan != fingerprint:
        return None
    now_t = epoch(now)
    for fix, out in zip(fixes, outside):
        t = epoch(fix.time)
        if t <= watch.last_t:
            return None                          # late or repeated: the window decides
        if watch.arrived:
            watch = watch._replace(last_t=t, last_lat=fix.lat, last_lon=fix.lon)
            continue                             # after arrival no fix changes an episode
        if out or not _quiet(watch, fix, t, plan, rules, now_t, boxes):
            return None
        watch = _stay(watch, fix, t, rules)
        if watch is None:
            return None
    return watch


def _quiet(watch: Watch, fix: Fix, t: float, plan: Plan, rules: Rules, now_t: float,
           prohibited: tuple[Box, ...]) -> bool:
    """Return whether ``fix`` (after the watch's last) can change no episode, the corridor apart."""
    normal = rules.signal_periods * plan.reporting_period_s
    if not fix.valid or fix.flags or t - watch.heard_t > normal or now_t - t > normal:
        return False
    if fix.lat == watch.last_lat and fix.lon == watch.last_lon and (fix.speed_kmh or 0.0) >= rules.frozen_speed_kmh:
        return False                             # the same coordinates while moving: maybe frozen
    hop = HOP_MARGIN * local_m(watch.ref_lat, watch.ref_lon, fix.lat, fix.lon)
    if hop > rules.min_jump_m and hop > rules.max_speed_kmh / 3.6 * (t - watch.ref_t):
        return False
    if plan.destination is not None and _near(plan.destination, fix):
        return False                             # maybe arriving
    for minx, miny, maxx, maxy in prohibited:
        if minx <= fix.lon <= maxx and miny <= fix.lat <= maxy:
            return False                         # maybe inside a prohibited zone
    due = plan.planned_arrival
    return watch.late or due is None or max(t, now_t) <= epoch(due)


def _stay(watch: Watch, fix: Fix, t: float, rules: Rules) -> Watch | None:
    """Return the watch with ``fix`` joining or ending the current stay; None if the stay is long enough to count."""
    n = watch.stay_n
    if n:
        d = local_m(watch.stay_lat_sum / n, watch.stay_lon_sum / n, fix.lat, fix.lon)
        standing = fix.speed_kmh is not None and fix.speed_kmh < rules.standing_speed_kmh
        moved_off = d > rules.stop_radius_m and (not standing or d > 4 * rules.stop_radius_m)
    if not n or moved_off:
        stay = (t, fix.lat, fix.lon, 1)
    elif t - watch.stay_t >= rules.stop_min_s:
        return None                              # a stop (or a tolerated stay) begins: the rules decide
    else:
        stay = (watch.stay_t, watch.stay_lat_sum + fix.lat, watch.stay_lon_sum + fix.lon, n + 1)
    return Watch(watch.plan, t, fix.lat, fix.lon, t, t, fix.lat, fix.lon, *stay, watch.arrived, watch.late)


def outside_corridor(plan: Plan, fixes: Sequence[Fix]) -> list[bool]:
    """Return, per fix, whether it lies beyond the corridor's outer edge (one vectorised call)."""
    if not fixes:
        return []
    lon = np.fromiter((f.lon for f in fixes), float, len(fixes))
    lat = np.fromiter((f.lat for f in fixes), float, len(fixes))
    well_inside, distance = plan.corridor.classify(lon, lat)
    return (~well_inside & (distance > plan.corridor.width_m)).tolist()


def settle(track: Track, plan: Plan, rules: Rules, episodes: Iterable[Episode], arrived: bool,
           whole: bool) -> Watch | None:
    """Return the watch at the end of ``track`` after a full evaluation, or None if it is not quiet.

    ``episodes`` are what the rules found on the track; ``whole`` says the track holds
    every fix since departure (so a stay starting at its first fix really starts there).
    """
    if not len(track) or track.fixes[-1].flags or not track.fixes[-1].valid:
        return None
    late = False
    for episode in episodes:
        if episode.kind == LATE:
            late = late or episode.end is None
        elif episode.kind != ARRIVED and episode.end is None:
            return None                          # something is going on: every rule keeps watching
    alive, located = heard(track), track.indexes()
    if not len(alive) or not len(located):
        return None
    last, ref = len(track) - 1, int(located[-1])
    common = {"plan": plan_fingerprint(plan), "last_t": float(track.t[last]), "last_lat": float(track.lat[last]),
              "last_lon": float(track.lon[last]), "heard_t": float(track.t[alive[-1]]),
              "ref_t": float(track.t[ref]), "ref_lat": float(track.lat[ref]), "ref_lon": float(track.lon[ref]),
              "late": late}
    if arrived:
        return Watch(**common, stay_t=0.0, stay_lat_sum=0.0, stay_lon_sum=0.0, stay_n=0, arrived=True)
    if outside_corridor(plan, [track.fixes[ref]])[0]:
        return None                              # an excursion may be starting
    stay = stay_at_end(track, rules)
    if stay is None or (stay.first == int(located[0]) and not whole):
        return None                              # a stay under way, or one that may have begun before the window
    return Watch(**common, stay_t=float(track.t[stay.first]), stay_lat_sum=stay.lat_sum,
                 stay_lon_sum=stay.lon_sum, stay_n=stay.n)


def _near(circle: Circle, fix: Fix) -> bool:
    """Return whether ``fix`` is in (or near) the box around the circle: the full rules then decide."""
    dlat = circle.radius_m / 110_000.0 + 1e-3
    dlon = dlat / max(math.cos(math.radians(min(abs(circle.lat) + dlat, 89.0))), 1e-6)
    return abs(fix.lat - circle.lat) <= dlat and abs(fix.lon - circle.lon) <= dlon


def _widened(bounds: tuple[float, float, float, float]) -> Box:
    minx, miny, maxx, maxy = bounds
    return minx - 1e-3, miny - 1e-3, maxx + 1e-3, maxy + 1e-3
