"""Rules about time: silence from the device, arrival, and arriving after the planned window."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import numpy as np

from beacon_gateway.evaluation.corridor_rules import first_arrival
from beacon_gateway.evaluation.episodes import Episode, iso
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.rules import ARRIVED, LATE, SIGNAL_LOST, Rules
from beacon_gateway.evaluation.track import Track, epoch, from_epoch
from beacon_gateway.position import FLAG_FUTURE, FLAG_WEEK_ROLLOVER


#: Fixes whose time is not a time the device was heard (ahead of the clock, 1024 weeks off).
NOT_A_TIME = frozenset({FLAG_FUTURE, FLAG_WEEK_ROLLOVER})


def allowance_s(plan: Plan, rules: Rules, start: tuple[float, float],
                end: tuple[float, float] | None) -> tuple[float, str]:
    """Return how long the device may be silent from ``start`` to ``end`` (lon, lat), and the dead zone crossed."""
    normal = rules.signal_periods * plan.reporting_period_s
    (lon1, lat1), (lon2, lat2) = start, end or start
    for zone in plan.dead_zones:
        if zone.crossed_by(lon1, lat1, lon2, lat2):
            return max(normal, rules.dead_zone_allowance_s), zone.name
    return normal, ""


def heard(track: Track) -> np.ndarray:
    """Return the indexes of fixes whose time says when the device was heard (not from the future)."""
    untimely = {i for i, fix in enumerate(track.fixes) if fix.flags and NOT_A_TIME.intersection(fix.flags)}
    everyone = np.arange(len(track))
    return everyone if not untimely else np.array([i for i in everyone.tolist() if i not in untimely], dtype=int)


def signal_lost(track: Track, plan: Plan, rules: Rules, now: datetime | None = None,
                from_departure: bool = False) -> list[Episode]:
    """One episode per silence longer than two reporting periods (longer across a dead zone).

    It starts at the last ping heard, is raised when the allowance runs out and ends at
    the next ping; with ``now`` an ongoing silence after the last ping is raised too.
    With ``from_departure`` (the track holds every fix since the plan's departure) the
    silence from departure to the first ping counts too, from the origin: a beacon that
    never reported is lost as surely as one that stopped. Fixes from the future say
    nothing about when the device was heard and are left out.
    """
    episodes = []
    for silence in _silences(track, plan, rules, now, from_departure):
        b = silence.next_fix
        allowed, zone = allowance_s(plan, rules, silence.where, None if b is None else (track.lon[b], track.lat[b]))
        if silence.end - silence.start <= allowed:
            continue
        details: dict[str, object] = {"allowance_s": allowed, **({"dead_zone": zone} if zone else {}),
                                      **({"departed_at": iso(plan.departed_at)} if silence.since_departure else {})}
        episode = Episode(SIGNAL_LOST, from_epoch(silence.start), from_epoch(silence.start + allowed),
                          lat=silence.where[1], lon=silence.where[0], details=details)
        if b is not None:
            episode.end = episode.closed_at = track.time(b)
        episodes.append(episode)
    return episodes


class Silence(NamedTuple):
    """A stretch without a ping: from ``start`` at ``where`` (lon, lat) to the next fix, or to ``end`` (now)."""

    start: float
    where: tuple[float, float]
    next_fix: int | None
    end: float
    since_departure: bool = False


def _silences(track: Track, plan: Plan, rules: Rules, now: datetime | None,
              from_departure: bool) -> list[Silence]:
    """Return the silences longer than the normal allowance, the one since departure first."""
    normal = rules.signal_periods * plan.reporting_period_s
    alive = heard(track)
    t = track.t[alive]
    silences: list[Silence] = []
    departed = None if plan.departed_at is None else epoch(plan.departed_at)
    if from_departure and departed is not None and plan.origin is not None and (not len(t) or t[0] > departed):
        origin = (plan.origin.lon, plan.origin.lat)
        if len(t):
            silences.append(Silence(departed, origin, int(alive[0]), float(t[0]), since_departure=True))
        elif now is not None:
            silences.append(Silence(departed, origin, None, epoch(now), since_departure=True))
    for a in np.flatnonzero(np.diff(t) > normal):
        i = int(alive[a])
        silences.append(Silence(float(t[a]), (float(track.lon[i]), float(track.lat[i])), int(alive[a + 1]),
                                float(t[a + 1])))
    if now is not None and len(t) and epoch(now) - t[-1] > normal:
        i = int(alive[-1])
        silences.append(Silence(float(t[-1]), (float(track.lon[i]), float(track.lat[i])), None, epoch(now)))
    return [s for s in silences if s.end - s.start > normal]


def arrival_index(track: Track, plan: Plan, rules: Rules) -> int | None:
    """Return the index of the first located fix inside the destination zone after enough progress.

    Arrival is progress, not proximity: a road passing its own destination half-way is
    not there yet (``corridor_rules.first_arrival``).
    """
    if plan.destination is None or not len(track):
        return None
    idx = track.indexes()
    inside = plan.destination.contains(track.lon[idx], track.lat[idx])
    return first_arrival(track, plan, rules, idx[inside])


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
