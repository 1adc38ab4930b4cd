"""Rules about where the vehicle is: off the route, inside a prohibited zone."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beacon_gateway.evaluation.episodes import Episode, iso
from beacon_gateway.evaluation.plan import Area, Plan, within_any
from beacon_gateway.evaluation.rules import OFF_ROUTE, PROHIBITED_ZONE, Rules
from beacon_gateway.evaluation.track import Track, from_epoch

OUT, BAND, BACK = 2, 1, 0   # outside; inside but near the edge; well inside (or tolerated)


def route_states(track: Track, plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the located fixes' indexes, their state (OUT/BAND/BACK) and distance to the route."""
    idx = track.indexes()
    lon, lat = track.lon[idx], track.lat[idx]
    well_inside, distance = plan.corridor.classify(lon, lat)
    state = np.where(well_inside, BACK, np.where(distance > plan.corridor.width_m, OUT, BAND))
    tolerated = within_any(plan.route_tolerated, lon, lat)
    state[tolerated] = BACK
    return idx, state, distance


@dataclass
class _Excursion:
    first: int              # index of the first fix outside
    max_m: float
    far: int                # index of the farthest fix
    episode: Episode | None = None
    last_out: int = -1
    back_at: int | None = None   # first fix of the current run back inside


def off_route(track: Track, plan: Plan, rules: Rules) -> list[Episode]:
    """One episode per excursion outside the corridor lasting ``off_route_min_s``.

    It ends when the track is back inside the inner margin, and closes after it has
    stayed there ``back_on_route_s`` (hysteresis: noise at the edge is one excursion).
    """
    idx, state, distance = route_states(track, plan)
    if not np.any(state == OUT):
        return []        # never outside: nothing to follow (the usual case)
    episodes, current = [], None
    for j, i in enumerate(idx):
        if state[j] == OUT:
            current = current or _Excursion(first=j, max_m=0.0, far=j)
            current.back_at, current.last_out = None, j
            if distance[j] > current.max_m:
                current.max_m, current.far = float(distance[j]), j
            if current.episode is None and track.t[i] - track.t[idx[current.first]] >= rules.off_route_min_s:
                start = idx[current.first]
                current.episode = Episode(OFF_ROUTE, track.time(start), from_epoch(track.t[start] + rules.off_route_min_s),
                                          details={"detected_at": iso(track.time(i))})
                episodes.append(current.episode)
        elif current is not None and current.episode is None:
            current = None                      # back before it counted: GPS noise or a short cut
        elif current is not None and state[j] == BAND:
            current.back_at = None              # inside, but not yet clear of the edge
        elif current is not None:
            current.back_at = j if current.back_at is None else current.back_at
            if track.t[i] - track.t[idx[current.back_at]] >= rules.back_on_route_s:
                current.episode.closed_at = track.time(i)
                _describe(current, track, idx, end=idx[current.back_at])
                current = None
    if current is not None and current.episode is not None:
        _describe(current, track, idx, end=None)
    return episodes


def _describe(excursion: _Excursion, track: Track, idx: np.ndarray, end: int | None) -> None:
    episode = excursion.episode
    assert episode is not None
    far = idx[excursion.far]
    episode.end = None if end is None else track.time(end)
    episode.lat, episode.lon = float(track.lat[idx[excursion.first]]), float(track.lon[idx[excursion.first]])
    episode.details = {"detected_at": episode.details["detected_at"], "max_distance_m": round(excursion.max_m, 1),
                       "farthest": {"lat": float(track.lat[far]), "lon": float(track.lon[far]),
                                    "at": iso(track.time(far))},
                       "last_seen": iso(track.time(idx[excursion.last_out]))}


def prohibited_zone(track: Track, plan: Plan, rules: Rules) -> list[Episode]:
    """One episode per entry into a prohibited zone, ending at the first fix outside it."""
    episodes: list[Episode] = []
    idx = track.indexes()
    for area in plan.prohibited:
        episodes += _visits(track, idx, area)
    return episodes


def _visits(track: Track, idx: np.ndarray, area: Area) -> list[Episode]:
    inside = area.contains(track.lon[idx], track.lat[idx])
    episodes, current = [], None
    for j, i in enumerate(idx):
        if inside[j] and current is None:
            current = Episode(PROHIBITED_ZONE, track.time(i), track.time(i), lat=float(track.lat[i]),
                              lon=float(track.lon[i]), subject=area.name, details={"zone": area.name})
            episodes.append(current)
        elif not inside[j] and current is not None:
            current.end = current.closed_at = track.time(i)
            current = None
        if current is not None:
            current.details["last_seen"] = iso(track.time(i))
    return episodes


#: The route is cut into this many pieces to measure how much of it the track has covered.
PROGRESS_PIECES = 1000
#: Two fixes this much farther apart along the route than the speed limit allows are not a
#: continuous drive between them (a jump, or a fix matched to the wrong pass of the road).
PROGRESS_SLACK_M = 2000.0
#: A fix this little behind the previous place is GPS noise, not driving back.
PROGRESS_NOISE_M = 50.0


def first_arrival(track: Track, plan: Plan, rules: Rules, candidates: np.ndarray) -> int | None:
    """Return the first of ``candidates`` (fix indexes in the end zone) reached after enough progress.

    Each located fix inside the corridor is placed along the route where it continues
    the drive so far (the next stretch ahead of the previous place, so a road passing the
    destination half-way counts as half-way, and the way back down a valley as the way
    back); the route is covered between two fixes
    when the speed limit allows the drive between them. Arrival is the end zone reached
    with ``rules.arrival_progress`` of the route's length covered.
    """
    if not len(candidates):
        return None
    idx = track.indexes()
    point, along = plan.corridor.along_candidates(track.lon[idx], track.lat[idx])
    # Plain Python from here: one pass over the fixes, and numpy is slow on one value at a time.
    starts, places, times = np.searchsorted(point, np.arange(len(idx) + 1)).tolist(), along.tolist(), track.t.tolist()
    piece_m = max(plan.corridor.length_m / PROGRESS_PIECES, 1e-6)
    metres_per_s = rules.max_speed_kmh / 3.6
    covered = bytearray(PROGRESS_PIECES + 1)
    wanted, previous, previous_t = set(candidates.tolist()), 0.0, None
    for j, i in enumerate(idx.tolist()):
        if starts[j] < starts[j + 1]:
            here = _continuing(places[starts[j]:starts[j + 1]], previous)
            reach = 0.0 if previous_t is None else metres_per_s * (times[i] - previous_t)
            low, high = sorted((previous, here)) if abs(here - previous) <= reach + PROGRESS_SLACK_M else (here, here)
            first, last = int(low // piece_m), min(int(high // piece_m), PROGRESS_PIECES) + 1
            covered[first:last] = b"\x01" * (last - first)
            previous, previous_t = here, times[i]
        if i in wanted and covered.count(1, 0, PROGRESS_PIECES) >= rules.arrival_progress * PROGRESS_PIECES:
            return i
    return None


def _continuing(options: list[float], previous: float) -> float:
    """Return the place along the route that continues from ``previous``: the nearest ahead, else the nearest."""
    ahead = [metres for metres in options if metres >= previous - PROGRESS_NOISE_M]
    if ahead:
        return min(ahead)
    return min(options, key=lambda metres: abs(metres - previous))
