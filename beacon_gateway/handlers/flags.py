"""Flag fixes that look wrong, keeping them as evidence: the future, week roll-over, (0, 0),
impossible jumps, frozen coordinates, approximate fixes, fix times going backwards, late delivery.

Jumps and frozen coordinates compare a fix with the one before it in fix-time order, so
the flags do not depend on which gateway process stored which fix first. "Going
backwards" is the device's own order within one message (a late delivery is "late").
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select, text, update

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
from tracker.models.base import UTCDateTime

GPS_WEEK_ROLLOVER = timedelta(weeks=1024)
ROLLOVER_SLACK = timedelta(days=14)       # how far from an exact 1024-week shift still counts
MOVING_KMH = 5.0                          # below this a repeated coordinate is a parked vehicle
APPROXIMATE_SOURCES = {"cell", "lbs", "wifi", "network"}
EARTH_RADIUS_M = 6_371_008.8
NEIGHBOUR_FLAGS = (FLAG_IMPOSSIBLE_JUMP, FLAG_FROZEN)


class Fix(NamedTuple):
    """The little the flags need of a fix: stored (``row_id``) or in this batch (``ping``)."""

    fix_time: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None
    row_id: int | None = None
    flags: tuple[str, ...] = ()
    ping: Ping | None = None


def distance_m(a: Fix, b: Fix) -> float:
    """Return the great-circle distance between two fixes (haversine; enough for flagging)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class FlagSuspicious:
    """Add flags from the fix alone and from the device's neighbouring fix in time."""

    name = "flag"
    needs_savepoint = True

    def __init__(self, settings: GatewaySettings) -> None:
        """Read the thresholds once."""
        self.future_tolerance = timedelta(seconds=settings.future_tolerance_s)
        self.max_speed_kmh = settings.max_speed_kmh
        self.approximate_accuracy_m = settings.approximate_accuracy_m
        self.late_after = timedelta(seconds=settings.late_after_s)

    def __call__(self, batch: Batch) -> None:
        """Flag every live ping of the batch (and re-flag a stored fix whose predecessor it becomes)."""
        by_beacon: dict[int, list[Ping]] = defaultdict(list)
        for ping in batch.live():
            ping.position = ping.position.flagged(*self.own_flags(ping.position, batch.now))
            if ping.beacon_id is not None:
                by_beacon[ping.beacon_id].append(ping)
        flag_device_order(batch.live())
        latest = latest_fixes(batch, set(by_beacon))
        for beacon_id, pings in by_beacon.items():
            stored = stored_around(batch, beacon_id, pings, latest.get(beacon_id))
            self._flag_track(batch, pings, stored)

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

    def _flag_track(self, batch: Batch, pings: list[Ping], stored: list[Fix]) -> None:
        # The track in fix-time order, as if every fix had arrived in order: each fix is
        # judged against the one before it, whichever process stored that one and when.
        known = {fix.fix_time for fix in stored}
        fresh: dict[datetime, Fix] = {}
        for ping in pings:
            if ping.position.fix_time not in known:
                fresh.setdefault(ping.position.fix_time, _fix(ping.position, ping))
        track = sorted([*stored, *fresh.values()], key=lambda fix: fix.fix_time)
        for before, fix in zip(track, track[1:]):
            if fix.ping is not None:
                fix.ping.position = fix.ping.position.flagged(*self.neighbour_flags(before, fix))
            elif before.ping is not None:
                self._reflag(batch, fix, before)

    def _reflag(self, batch: Batch, stored: Fix, before: Fix) -> None:
        """A late fix became the predecessor of a stored one: bring its neighbour flags up to date."""
        kept = [flag for flag in stored.flags if flag not in NEIGHBOUR_FLAGS]
        flags = list(dict.fromkeys(kept + self.neighbour_flags(before, stored)))
        if flags != list(stored.flags):
            batch.session.execute(update(PositionRow).where(PositionRow.id == stored.row_id)
                                  .values(flags=flags).execution_options(synchronize_session=False))

    def neighbour_flags(self, before: Fix, fix: Fix) -> list[str]:
        """Return the flags earned against the previous fix: impossible jump, frozen coordinates."""
        seconds = (fix.fix_time - before.fix_time).total_seconds()
        if seconds <= 0:
            return []
        flags = []
        if distance_m(before, fix) / seconds * 3.6 > self.max_speed_kmh:
            flags.append(FLAG_IMPOSSIBLE_JUMP)
        moving = fix.speed_kmh is not None and fix.speed_kmh > MOVING_KMH
        if moving and (before.lat, before.lon) == (fix.lat, fix.lon):
            flags.append(FLAG_FROZEN)
        return flags


def flag_device_order(pings: list[Ping]) -> None:
    """Flag a fix that its device sent after a later one in the same message (its own order)."""
    latest: dict[tuple[int, int | None], datetime] = {}
    for ping in sorted(pings, key=lambda p: (p.submission, p.index)):
        key = (ping.submission, ping.beacon_id)
        previous = latest.get(key)
        if previous is not None and ping.position.fix_time < previous:
            ping.position = ping.position.flagged(FLAG_TIME_BACKWARDS)
        latest[key] = max(previous or ping.position.fix_time, ping.position.fix_time)


def _fix(position: Position, ping: Ping | None = None) -> Fix:
    return Fix(position.fix_time, position.lat, position.lon, position.speed_kmh, ping=ping)


_COLUMNS = (PositionRow.fix_time, PositionRow.lat, PositionRow.lon, PositionRow.speed_kmh,
            PositionRow.id, PositionRow.flags)


def _stored(row: Any) -> Fix:
    return Fix(row.fix_time, row.lat, row.lon, row.speed_kmh, row.id, tuple(row.flags or ()))


#: PostgreSQL: one index probe per beacon (the newest of its fixes in each month), one constant statement.
_LATEST = text(
    "SELECT b.id AS beacon_id, p.fix_time, p.lat, p.lon, p.speed_kmh, p.id, p.flags"
    " FROM unnest(CAST(:ids AS integer[])) AS b(id) CROSS JOIN LATERAL"
    " (SELECT fix_time, lat, lon, speed_kmh, id, flags FROM positions WHERE beacon_id = b.id"
    " ORDER BY fix_time DESC LIMIT 1) AS p").columns(fix_time=UTCDateTime)


def latest_fixes(batch: Batch, beacon_ids: set[int]) -> dict[int, Fix]:
    """Return each beacon's latest stored fix (one index probe per beacon, flat as the table grows)."""
    if not beacon_ids:
        return {}
    if batch.session.get_bind().dialect.name == "postgresql":
        rows = batch.session.execute(_LATEST, {"ids": sorted(beacon_ids)})
        return {row.beacon_id: _stored(row) for row in rows}
    newest = (select(PositionRow.id).where(PositionRow.beacon_id == Beacon.id)
              .order_by(PositionRow.fix_time.desc()).limit(1).correlate(Beacon).scalar_subquery())
    ids = select(newest).where(Beacon.id.in_(sorted(beacon_ids)))
    rows = batch.session.execute(select(PositionRow.beacon_id, *_COLUMNS).where(PositionRow.id.in_(ids)))
    return {row.beacon_id: _stored(row) for row in rows}


def stored_around(batch: Batch, beacon_id: int, pings: list[Ping], latest: Fix | None) -> list[Fix]:
    """Return the stored fixes the batch's pings fall between: their predecessor and successors.

    Usually every ping is newer than the latest stored fix, which is then all that matters;
    pings delivered late need the stored fixes around them (three bounded index reads).
    """
    if latest is None:
        return []
    first = min(ping.position.fix_time for ping in pings)
    last = max(ping.position.fix_time for ping in pings)
    if first > latest.fix_time:
        return [latest]
    of_beacon = select(*_COLUMNS).where(PositionRow.beacon_id == beacon_id)
    before = batch.session.execute(of_beacon.where(PositionRow.fix_time < first)
                                   .order_by(PositionRow.fix_time.desc()).limit(1)).all()
    within = batch.session.execute(of_beacon.where(PositionRow.fix_time.between(first, last))).all()
    after = batch.session.execute(of_beacon.where(PositionRow.fix_time > last)
                                  .order_by(PositionRow.fix_time).limit(1)).all()
    return [_stored(row) for row in (*before, *within, *after)]
