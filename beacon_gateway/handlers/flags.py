"""Flag fixes that look wrong, keeping them as evidence: the future, week roll-over, (0, 0),
impossible jumps, frozen coordinates, approximate fixes, fix times going backwards, late delivery."""
from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch, Ping
from beacon_gateway.position import (
    FLAG_APPROXIMATE,
    FLAG_FROZEN,
    FLAG_FUTURE,
    FLAG_IMPOSSIBLE_JUMP,
    FLAG_LATE,
    FLAG_NULL_ISLAND,
    FLAG_TIME_BACKWARDS,
    FLAG_WEEK_ROLLOVER,
    Position,
)
from tracker.models import Beacon
from tracker.models import Position as PositionRow

GPS_WEEK_ROLLOVER = timedelta(weeks=1024)
ROLLOVER_SLACK = timedelta(days=14)       # how far from an exact 1024-week shift still counts
MOVING_KMH = 5.0                          # below this a repeated coordinate is a parked vehicle
APPROXIMATE_SOURCES = {"cell", "lbs", "wifi", "network"}
EARTH_RADIUS_M = 6_371_008.8


class Fix(NamedTuple):
    """The little the flags need of a neighbouring fix."""

    fix_time: datetime
    lat: float
    lon: float


def distance_m(a: Fix, b: Fix) -> float:
    """Return the great-circle distance between two fixes (haversine; enough for flagging)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class FlagSuspicious:
    """Add flags from the fix alone and from the device's neighbouring fix in time."""

    name = "flag"

    def __init__(self, settings: GatewaySettings) -> None:
        """Read the thresholds once."""
        self.future_tolerance = timedelta(seconds=settings.future_tolerance_s)
        self.max_speed_kmh = settings.max_speed_kmh
        self.approximate_accuracy_m = settings.approximate_accuracy_m
        self.late_after = timedelta(seconds=settings.late_after_s)

    def __call__(self, batch: Batch) -> None:
        """Flag every live ping of the batch."""
        by_beacon: dict[int, list[Ping]] = defaultdict(list)
        for ping in batch.live():
            ping.position = ping.position.flagged(*self.own_flags(ping.position, batch.now))
            if ping.beacon_id is not None:
                by_beacon[ping.beacon_id].append(ping)
        latest = latest_fixes(batch, set(by_beacon))
        for beacon_id, pings in by_beacon.items():
            self._flag_track(pings, latest.get(beacon_id))

    def own_flags(self, position: Position, now: datetime) -> list[str]:
        """Return the flags a fix earns on its own, compared with the receive time ``now``."""
        flags = []
        shift = position.fix_time - now
        if abs(shift + GPS_WEEK_ROLLOVER) < ROLLOVER_SLACK or abs(shift - GPS_WEEK_ROLLOVER) < ROLLOVER_SLACK:
            flags.append(FLAG_WEEK_ROLLOVER)
        elif shift > self.future_tolerance:
            flags.append(FLAG_FUTURE)
        elif -shift > self.late_after:
            flags.append(FLAG_LATE)
        if position.lat == 0 and position.lon == 0:
            flags.append(FLAG_NULL_ISLAND)
        if self._approximate(position):
            flags.append(FLAG_APPROXIMATE)
        return flags

    def _approximate(self, position: Position) -> bool:
        source = str(position.extra.get("source", "")).lower() if position.extra else ""
        accuracy = position.accuracy_m
        return source in APPROXIMATE_SOURCES or (accuracy is not None and accuracy > self.approximate_accuracy_m)

    def _flag_track(self, pings: list[Ping], latest: Fix | None) -> None:
        # Each ping is compared with the fix just before it in time: the device's latest
        # stored fix or an earlier ping of the same batch.
        pings.sort(key=lambda ping: ping.position.fix_time)
        track = ([latest] if latest else []) + [_fix(ping.position) for ping in pings]
        track.sort(key=lambda fix: fix.fix_time)
        times = [fix.fix_time for fix in track]
        for ping in pings:
            position = ping.position
            if latest is not None and position.fix_time < latest.fix_time:
                ping.position = position = position.flagged(FLAG_TIME_BACKWARDS)
            at = bisect_left(times, position.fix_time)
            if at > 0:
                ping.position = position.flagged(*self.neighbour_flags(track[at - 1], position))

    def neighbour_flags(self, before: Fix, position: Position) -> list[str]:
        """Return the flags earned against the previous fix: impossible jump, frozen coordinates."""
        seconds = (position.fix_time - before.fix_time).total_seconds()
        if seconds <= 0:
            return []
        flags = []
        if distance_m(before, _fix(position)) / seconds * 3.6 > self.max_speed_kmh:
            flags.append(FLAG_IMPOSSIBLE_JUMP)
        moving = position.speed_kmh is not None and position.speed_kmh > MOVING_KMH
        if moving and (before.lat, before.lon) == (position.lat, position.lon):
            flags.append(FLAG_FROZEN)
        return flags


def _fix(position: Position) -> Fix:
    return Fix(position.fix_time, position.lat, position.lon)


def latest_fixes(batch: Batch, beacon_ids: set[int]) -> dict[int, Fix]:
    """Return each beacon's latest stored fix (one index probe per beacon, flat as the table grows)."""
    if not beacon_ids:
        return {}
    newest = (select(PositionRow.id).where(PositionRow.beacon_id == Beacon.id)
              .order_by(PositionRow.fix_time.desc()).limit(1).correlate(Beacon).scalar_subquery())
    ids = select(newest).where(Beacon.id.in_(sorted(beacon_ids)))
    rows = batch.session.execute(
        select(PositionRow.beacon_id, PositionRow.fix_time, PositionRow.lat, PositionRow.lon)
        .where(PositionRow.id.in_(ids)))
    return {beacon_id: Fix(fix_time, lat, lon) for beacon_id, fix_time, lat, lon in rows}
