"""The watch: a fix it judges quiet is one after which every rule finds exactly what it found before."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from shapely.geometry import box

from beacon_gateway.evaluation import Area, Fix, Rules, plan_for_route
from beacon_gateway.evaluation.engine import evaluate_track
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.track import Track
from beacon_gateway.evaluation.watch import Watch, advance, outside_corridor, settle
from beacon_gateway.simulator import Deviation, Pause, Simulation
from tracker.domain import geography as geo

DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
ROUTE = geo.KHAIDARKAN_AKJOL
RULES = Rules()


def plan(**kw: Any) -> Plan:
    kw.setdefault("reporting_period_s", 60.0)
    kw.setdefault("departed_at", DEPARTED)
    return plan_for_route(geo.route_line(ROUTE), 250, **kw)


def seen(episodes: list[Any]) -> list[tuple[Any, ...]]:
    """What the alerts would hold: each episode's key, details, times."""
    return [(e.key(1), e.summary(), e.opened_at, e.closed_at, e.lat, e.lon) for e in episodes]


def replay(fixes: list[Fix], plan: Plan, delay_s: float = 5.0) -> tuple[int, set[str]]:
    """Deliver fixes one at a time, as the gateway does; check each quiet one against every rule.

    What is stored after a fix is the full evaluation at that time, unless the watch judged
    the fix quiet, in which case it must equal what was stored before. Returns the quiet
    count and the kinds of episode the whole track holds.
    """
    stored: list[tuple[Any, ...]] = []
    watch: Watch | None = None
    quiet = 0
    for n, fix in enumerate(fixes, start=1):
        now = fix.time + timedelta(seconds=delay_s)
        track = Track.of(fixes[:n], RULES)
        episodes, arrival = evaluate_track(track, plan, RULES, now=now)
        moved = None if watch is None else advance(watch, [fix], plan, RULES, now, outside_corridor(plan, [fix]))
        if moved is not None:
            assert seen(episodes) == stored, f"fix {n} at {fix.time} was judged quiet but changes the alerts"
            quiet += 1
            watch = moved
        else:
            stored = seen(episodes)
            watch = settle(track, plan, RULES, episodes, arrival is not None, whole=True)
    return quiet, {e.kind for e in episodes}


def drive(minutes: float | None = 150, **kw: Any) -> list[Fix]:
    """A trip along the demo road, a fix a minute; ``minutes`` cuts it short (None: to the destination)."""
    kw.setdefault("noise_m", 30.0)
    kw.setdefault("period_s", 60.0)
    end = None if minutes is None else DEPARTED + timedelta(minutes=minutes)
    fixes = [Fix.of(p) for p in Simulation(ROUTE, DEPARTED, **kw).positions() if end is None or p.fix_time < end]
    if minutes is None:     # the last stretch into the destination's yard, then parked there
        (lon, lat), last = geo.route_line(ROUTE).coords[-1][:2], fixes[-1].time
        fixes += [Fix(last + timedelta(minutes=n), lat + 0.0001 * (n % 2), lon, 5.0) for n in range(1, 6)]
    return fixes


def test_a_plain_drive_to_the_destination_is_judged_from_the_watch_and_changes_nothing() -> None:
    fixes = drive(None, seed=1)
    quiet, kinds = replay(fixes, plan())
    assert quiet > 0.9 * len(fixes) and kinds == {"arrived"}


@pytest.mark.parametrize("trip, kinds", [
    (dict(deviations=[Deviation(40, 3, 500), Deviation(130, 5, 1200)]), {"off_route"}),
    (dict(pauses=[Pause(25, at_min=60), Pause(15, at_min=100)]), {"unscheduled_stop"}),
    (dict(gap_at="Too-Ashuu tunnel", gap_min=20, minutes=None), {"signal_lost", "arrived"}),
    (dict(noise_m=120.0, seed=5), set()),
], ids=["excursions", "stops", "silence", "noisy"])
def test_excursions_stops_silences_and_noise_are_never_judged_quiet_wrongly(trip: dict[str, Any],
                                                                          kinds: set[str]) -> None:
    fixes = drive(**trip)
    quiet, found = replay(fixes, plan())
    assert found == kinds and quiet > 0.5 * len(fixes)


def test_a_frozen_receiver_a_jump_and_a_prohibited_zone_go_to_every_rule() -> None:
    fixes = drive(seed=3)
    frozen = [Fix(f.time, fixes[50].lat, fixes[50].lon, 60.0) for f in fixes[50:54]]
    jump = [Fix(fixes[80].time, fixes[80].lat + 0.5, fixes[80].lon, 60.0)]
    middle = fixes[110]
    zone = Area("quarry", box(middle.lon - 0.002, middle.lat - 0.002, middle.lon + 0.002, middle.lat + 0.002))
    fixes = fixes[:50] + frozen + fixes[54:80] + jump + fixes[81:]
    quiet, kinds = replay(fixes, plan(prohibited=(zone,)))
    assert kinds == {"spoofing_suspected", "prohibited_zone"} and quiet > 0.5 * len(fixes)


def test_lateness_is_raised_by_the_rules_even_while_the_drive_is_quiet() -> None:
    fixes = drive(seed=4)
    quiet, kinds = replay(fixes, plan(planned_arrival=DEPARTED + timedelta(minutes=30)))
    assert kinds == {"late"} and quiet > 0.5 * len(fixes)


def test_fixes_delivered_late_are_never_quiet() -> None:
    fixes = drive(60, seed=6)
    assert replay(fixes, plan(), delay_s=3600.0)[0] == 0
