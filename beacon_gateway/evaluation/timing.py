"""Rules about time: silence from the device, arrival, and arriving after the planned window."""
from __future__ import annotations

from datetime import datetime

import numpy as np

from beacon_gateway.evaluation.episodes import Episode, iso
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.rules import ARRIVED, LATE, SIGNAL_LOST, Rules
from beacon_gateway.evaluation.track import Track, epoch, from_epoch


def allowance_s(track: Track, plan: Plan, rules: Rules, a: int, b: int | None) -> tuple[float, str]:
    """Return how long the device may be silent after fix ``a`` (and before ``b``), and the dead zone."""
    normal = rules.signal_periods * plan.reporting_period_s
    lon1, lat1 = track.lon[a], track.lat[a]
    lon2, lat2 = (lon1, lat1) if b is None else (track.lon[b], track.lat[b])
    for zone in plan.dead_zones:
        if zone.crossed_by(lon1, lat1, lon2, lat2):
            return max(normal, rules.dead_zone_allowance_s), zone.name
    return normal, ""


def signal_lost(track: Track, plan: Plan, rules: Rules, now: datetime | None = None) -> list[Episode]:
    """One episode per silence longer than two reporting periods (longer across a dead zone).

    It starts at the last ping heard, is raised when the allowance runs out and ends at
    the next ping; with ``now`` an ongoing silence after the last ping is raised too.
    """
    normal = rules.signal_periods * plan.reporting_period_s
    gaps = [(int(a), int(a) + 1) for a in np.flatnonzero(np.diff(track.t) > normal)]
    if now is not None and len(track) and epoch(now) - track.t[-1] > normal:
        gaps.append((len(track) - 1, None))
    episodes = []
    for a, b in gaps:
        allowed, zone = allowance_s(track, plan, rules, a, b)
        end = epoch(now) if b is None else track.t[b]   # type: ignore[arg-type]
        if end - track.t[a] <= allowed:
            continue
        episode = Episode(SIGNAL_LOST, track.time(a), from_epoch(track.t[a] + allowed),
                          lat=float(track.lat[a]), lon=float(track.lon[a]),
                          details={"allowance_s": allowed, **({"dead_zone": zone} if zone else {})})
        if b is not None:
            episode.end = episode.closed_at = track.time(b)
        episodes.append(episode)
    return episodes


def arrival_index(track: Track, plan: Plan) -> int | None:
    """Return the index of the first located fix inside the destination zone."""
    if plan.destination is None or not len(track):
        return None
    idx = track.indexes()
    inside = plan.destination.contains(track.lon[idx], track.lat[idx])
    hits = np.flatnonzero(inside)
    return int(idx[hits[0]]) if len(hits) else None


def arrived_and_late(plan: Plan, arrival: tuple[datetime, float, float] | None,
                     last_heard: datetime | None, now: datetime | None) -> list[Episode]:
    """Return the arrival event, and lateness when the planned window ended first.

    Lateness is known once a fix or the clock (``now``) passes the planned arrival; it
    closes on arrival with the delay.
    """
    episodes = []
    if arrival is not None:
        at, lat, lon = arrival
        name = plan.destination.name if plan.destination else ""
        episodes.append(Episode(ARRIVED, at, at, end=at, closed_at=at, lat=lat, lon=lon,
                                subject="", details={"destination": name}))
    due = plan.planned_arrival
    if due is None:
        return episodes
    latest = max((t for t in (last_heard, now) if t is not None), default=None)
    if arrival is not None and arrival[0] > due:
        late = Episode(LATE, due, due, end=arrival[0], closed_at=arrival[0],
                       details={"planned_arrival": iso(due), "delay_s": (arrival[0] - due).total_seconds()})
        episodes.append(late)
    elif arrival is None and latest is not None and latest > due:
        episodes.append(Episode(LATE, due, due, details={"planned_arrival": iso(due)}))
    return episodes
