"""Rules about how the vehicle moves: unscheduled stops, signs of a spoofed or faulty receiver."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from beacon_gateway.evaluation.episodes import Episode, iso
from beacon_gateway.evaluation.plan import Plan, within_any
from beacon_gateway.evaluation.rules import SPOOFING, UNSCHEDULED_STOP, Rules
from beacon_gateway.evaluation.track import Track, rough_m, from_epoch
from beacon_gateway.position import FLAG_FROZEN, FLAG_IMPOSSIBLE_JUMP, FLAG_LATE, FLAG_TIME_BACKWARDS

METRES_PER_DEGREE = 111_195.0


def local_m(lat0: float, lon0: float, lat: float, lon: float) -> float:
    """Return a short distance in metres (equirectangular: exact enough within a few hundred metres)."""
    dx = (lon - lon0) * math.cos(math.radians(lat0))
    return METRES_PER_DEGREE * math.hypot(dx, lat - lat0)


def unscheduled_stop(track: Track, plan: Plan, rules: Rules) -> list[Episode]:
    """One episode per stay of ``stop_min_s`` within ``stop_radius_m`` away from stops and checkpoints.

    The stay's centre is the mean of its fixes, so GPS noise around a parked vehicle
    does not split it; a fix only counts as moving off if it is farther than the radius
    and the device does not report standing (or it is four radii away).
    """
    idx = track.indexes()
    hops = rough_m(track.lon[idx[:-1]], track.lat[idx[:-1]], track.lon[idx[1:]], track.lat[idx[1:]])
    if np.all(hops > 4.1 * rules.stop_radius_m):      # 4.1: a margin over the rough distance
        return []        # every fix far from the one before: no stay can even begin (the usual case)
    episodes: list[Episode] = []
    for stay, i in _stays(track, rules):
        if stay.episode is None and track.t[i] - track.t[stay.first] >= rules.stop_min_s:
            stay.episode = _stop(track, plan, rules, (stay.first, i), stay.lat_sum / stay.n, stay.lon_sum / stay.n)
            episodes.append(stay.episode)
        if stay.episode is not None:
            stay.episode.details["last_seen"] = iso(track.time(i))
    return [e for e in episodes if e.kind == UNSCHEDULED_STOP]


@dataclass
class Stay:
    """Located fixes within the stop radius of their mean: a stay, counted once it lasts long enough."""

    first: int                   # index of its first fix
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    n: int = 0
    episode: Episode | None = None


def _stays(track: Track, rules: Rules) -> Iterator[tuple[Stay, int]]:
    """Yield, for each located fix, the stay it belongs to (after adding it) and its index.

    A fix farther than the radius from the stay's centre (the mean of its fixes) moves
    off, unless the device reports standing and it is within four radii; moving off
    ends the stay (its episode, if counted, ends at that fix) and begins a new one.
    """
    stay: Stay | None = None
    # Plain floats: the loop reads every fix, and numpy scalars are several times slower one by one.
    lats, lons, speeds = track.lat.tolist(), track.lon.tolist(), track.speed.tolist()
    for i in track.indexes().tolist():
        lat, lon, speed = lats[i], lons[i], speeds[i]
        if stay is not None:
            d = local_m(stay.lat_sum / stay.n, stay.lon_sum / stay.n, lat, lon)
            standing = not math.isnan(speed) and speed < rules.standing_speed_kmh
            if d > rules.stop_radius_m and (not standing or d > 4 * rules.stop_radius_m):
                if stay.episode is not None:
                    stay.episode.end = stay.episode.closed_at = track.time(i)
                stay = None
        stay = stay or Stay(first=i)
        stay.lat_sum, stay.lon_sum, stay.n = stay.lat_sum + lat, stay.lon_sum + lon, stay.n + 1
        yield stay, i


def stay_at_end(track: Track, rules: Rules) -> Stay | None:
    """Return the stay the track ends in while it is still too short to count; None if it counts (or no fix).

    A stay's length only grows while it lasts, so it counts if it does at its last fix.
    """
    last = None
    for last in _stays(track, rules):
        pass
    if last is None or track.t[last[1]] - track.t[last[0].first] >= rules.stop_min_s:
        return None
    return last[0]


def _stop(track: Track, plan: Plan, rules: Rules, fixes: tuple[int, int], lat: float, lon: float) -> Episode:
    """Return the stop's episode; a stop at a tolerated place is tracked but raises nothing."""
    first, detected = fixes
    tolerated = bool(within_any(plan.stop_tolerated, np.array([lon]), np.array([lat]))[0])
    kind = "tolerated_stop" if tolerated else UNSCHEDULED_STOP
    return Episode(kind, track.time(first), from_epoch(track.t[first] + rules.stop_min_s),
                   lat=round(float(lat), 6), lon=round(float(lon), 6),
                   details={"detected_at": iso(track.time(detected))})


def spoofing(track: Track, plan: Plan, rules: Rules) -> list[Episode]:
    """One episode per cluster of signs: impossible jumps, time going backwards, frozen coordinates."""
    signs = sorted(_signs(track, rules))
    episodes: list[Episode] = []
    for i, reason in signs:
        current = episodes[-1] if episodes else None
        if current is None or track.t[i] - current.details["_last"] > rules.spoof_quiet_s:
            current = Episode(SPOOFING, track.time(i), track.time(i), lat=float(track.lat[i]),
                              lon=float(track.lon[i]), details={"signs": {}, "_last": track.t[i]})
            episodes.append(current)
        current.details["signs"][reason] = current.details["signs"].get(reason, 0) + 1
        current.details["_last"] = max(current.details["_last"], float(track.t[i]))
    for episode in episodes:
        last = episode.details.pop("_last")
        episode.details["last_seen"] = iso(from_epoch(last))
        if track.t[-1] - last >= rules.spoof_quiet_s:
            episode.end = from_epoch(last)
            episode.closed_at = from_epoch(last + rules.spoof_quiet_s)
    return episodes


def _signs(track: Track, rules: Rules) -> list[tuple[int, str]]:
    """Return (fix index, reason) for every fix that suggests a spoofed or faulty receiver."""
    signs = [(i, "impossible_jump") for i in track.jumps]
    flagged = [(i, fix) for i, fix in enumerate(track.fixes) if fix.flags]
    for i, fix in flagged:
        if FLAG_IMPOSSIBLE_JUMP in fix.flags and i not in track.jumps:
            signs.append((i, "impossible_jump"))
        if FLAG_TIME_BACKWARDS in fix.flags and FLAG_LATE not in fix.flags:
            signs.append((i, "time_backwards"))
    return signs + [(i, "frozen_while_moving") for i in _frozen(track, rules)]


def _frozen(track: Track, rules: Rules) -> list[int]:
    """Return fixes repeating the same coordinates ``frozen_fixes`` times while reporting speed."""
    moving = track.speed >= rules.frozen_speed_kmh          # NaN (not reported) is not moving
    flagged = np.array([FLAG_FROZEN in f.flags for f in track.fixes], dtype=bool)
    same = np.zeros(len(track), dtype=bool)
    # A frozen receiver repeats its last values exactly.
    same[1:] = (track.lat[1:] == track.lat[:-1]) & (track.lon[1:] == track.lon[:-1]) & (np.diff(track.t) > 0)
    if not (same & moving).any() and not (flagged & moving).any():
        return []                                  # the usual case: no loop in Python
    found, run = [], 1
    for i in range(len(track)):
        run = run + 1 if same[i] and moving[i] else 1
        if (run >= rules.frozen_fixes or flagged[i]) and moving[i]:
            found.append(i)
    return found
