"""Evaluate a track against its plan: every rule, in one deterministic pass over fix-time order."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from beacon_gateway.evaluation.corridor_rules import off_route, prohibited_zone
from beacon_gateway.evaluation.episodes import Episode
from beacon_gateway.evaluation.movement import spoofing, unscheduled_stop
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.rules import ARRIVED, LATE, Rules
from beacon_gateway.evaluation.timing import arrival_index, arrived_and_late, heard, signal_lost
from beacon_gateway.evaluation.track import Fix, Track

#: When and where the vehicle arrived.
Arrival = tuple[datetime, float, float]
#: The rules judging the trip until arrival, in the order their episodes are listed.
TRIP_RULES = (off_route, unscheduled_stop, prohibited_zone, spoofing)


def evaluate(fixes: Iterable[Fix], plan: Plan, rules: Rules | None = None, now: datetime | None = None,
             arrived_at: Arrival | None = None, from_departure: bool = True) -> list[Episode]:
    """Return the episodes the rules find in ``fixes`` (any order: they are sorted by fix time).

    The same fixes always give the same episodes, however and whenever they arrived.
    ``now`` lets silence after the last fix and lateness count; ``arrived_at`` is an
    arrival already known from earlier fixes (time, lat, lon). ``from_departure`` says
    the fixes are the whole trip since ``plan.departed_at`` (not a window of it), so a
    silence before the first fix counts.
    """
    rules = rules or Rules()
    return evaluate_track(Track.of(fixes, rules), plan, rules, now, arrived_at, from_departure)[0]


def evaluate_track(track: Track, plan: Plan, rules: Rules, now: datetime | None = None,
                   arrived_at: Arrival | None = None,
                   from_departure: bool = True) -> tuple[list[Episode], Arrival | None]:
    """Return the episodes of a prepared track (as ``evaluate``) and the arrival they end at, if any."""
    arrival = _arrival(track, plan, rules, arrived_at)
    trip = track if arrival is None else track.head(int((track.t <= arrival[0].timestamp()).sum()))
    episodes: list[Episode] = []
    for rule in TRIP_RULES:
        episodes += rule(trip, plan, rules)
    episodes += signal_lost(trip, plan, rules, now=None if arrival else now, from_departure=from_departure)
    if arrival is not None:
        _end_at_arrival(episodes, arrival[0])
    alive = heard(track)
    last_heard = track.time(alive[-1]) if len(alive) else None
    episodes += arrived_and_late(plan, arrival, last_heard, now)
    return sorted(episodes, key=lambda e: (e.start, e.kind, e.subject)), arrival


def _arrival(track: Track, plan: Plan, rules: Rules, known: Arrival | None) -> Arrival | None:
    """Return the first fix in the destination zone after enough progress, or the arrival known already if earlier."""
    if known is not None and (not len(track) or known[0] <= track.time(0)):
        return known                             # nothing in this track can come earlier
    i = arrival_index(track, plan, rules)
    found = None if i is None else (track.time(i), float(track.lat[i]), float(track.lon[i]))
    if known is not None and (found is None or known[0] <= found[0]):
        return known
    return found


def _end_at_arrival(episodes: list[Episode], at: datetime) -> None:
    """Close what is still going on when the vehicle arrives: the trip is over."""
    for episode in episodes:
        if episode.kind not in (ARRIVED, LATE) and episode.ongoing:
            episode.end = episode.end or at
            episode.closed_at = max(at, episode.opened_at)
