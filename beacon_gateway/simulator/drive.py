"""Drive a vehicle along a route and report fixes the way a real beacon would.

Noise is correlated in time (a first-order autoregressive walk, as real GPS error
is), so a parked vehicle wanders a few tens of metres instead of jumping about.
Everything is seeded: the same simulation gives the same fixes.
"""
from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator, Sequence

from pyproj import Geod

from tracker.domain.geography import Waypoint, distance_to, point_along, route_length_m

from beacon_gateway.position import Position

GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Deviation:
    """Leave the route ``at_min`` minutes after departure for ``duration_min``, ``distance_m`` to the side."""

    at_min: float
    duration_min: float
    distance_m: float

    @classmethod
    def parse(cls, text: str) -> Deviation:
        """Parse ``AT_MIN:DURATION_MIN:DISTANCE_M`` (e.g. ``90:5:800``)."""
        try:
            at, duration, distance = (float(part) for part in text.split(":"))
        except ValueError as exc:
            raise ValueError(f"deviation {text!r}: expected AT_MIN:DURATION_MIN:DISTANCE_M") from exc
        if at < 0 or duration <= 0 or distance <= 0:
            raise ValueError(f"deviation {text!r}: times and distance must be positive")
        return cls(at, duration, distance)

    def offset_m(self, minutes: float, speed_mps: float) -> float:
        """Return how far off the route the vehicle is ``minutes`` after departure.

        It drives away from the route (and back) at ``speed_mps``: no impossible jumps.
        """
        into = (minutes - self.at_min) * 60.0
        left = (self.at_min + self.duration_min - minutes) * 60.0
        if into < 0 or left < 0:
            return 0.0
        return min(self.distance_m, into * speed_mps, left * speed_mps)


@dataclass(frozen=True)
class Pause:
    """Stand still ``duration_min`` minutes: at a named waypoint, or ``at_min`` after departure."""

    duration_min: float
    at_min: float | None = None
    waypoint: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pause:
        """Parse ``AT_MIN:DURATION_MIN`` or ``WAYPOINT_NAME:DURATION_MIN``."""
        where, _, duration = text.rpartition(":")
        try:
            minutes = float(duration)
        except ValueError as exc:
            raise ValueError(f"stop {text!r}: expected AT_MIN:DURATION_MIN or PLACE:DURATION_MIN") from exc
        try:
            return cls(minutes, at_min=float(where))
        except ValueError:
            return cls(minutes, waypoint=where)


@dataclass
class Simulation:
    """One trip of one device: route, timing, noise and what to inject."""

    route: Sequence[Waypoint]
    departed: datetime
    device_id: str = "SIM-0001"
    protocol: str = "json"
    speed_kmh: float = 60.0
    period_s: float = 30.0
    noise_m: float = 20.0
    seed: int = 1
    pauses: Sequence[Pause] = ()
    deviations: Sequence[Deviation] = ()
    gap_at: str | None = None          # waypoint name where the signal drops (a tunnel) ...
    gap_min: float = 0.0               # ... for this many minutes, centred on it
    _schedule: list[tuple[float, float, float, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.departed.tzinfo is None:
            raise ValueError("departure time must be timezone-aware")
        self._schedule = self._plan_schedule()

    @property
    def length_m(self) -> float:
        """Return the route length in metres."""
        return route_length_m(self.route)

    @property
    def duration_s(self) -> float:
        """Return how long the trip takes, stops included."""
        return self._schedule[-1][1]

    def _plan_schedule(self) -> list[tuple[float, float, float, float]]:
        """Return (t0, t1, d0, d1) legs: driving when d1 > d0, standing when equal."""
        speed = self.speed_kmh / 3.6
        named = sorted((distance_to(self.route, p.waypoint), p.duration_min * 60) for p in self.pauses if p.waypoint)
        timed = sorted((p.at_min * 60, p.duration_min * 60) for p in self.pauses if p.at_min is not None)
        legs, t, d, end = [], 0.0, 0.0, self.length_m
        while True:
            by_place = t + (named[0][0] - d) / speed if named else math.inf
            by_time = max(timed[0][0], t) if timed else math.inf
            until = min(by_place, by_time, t + (end - d) / speed)
            d1 = min(end, d + (until - t) * speed)
            legs.append((t, until, d, d1))
            t, d = until, d1
            if until == by_place or until == by_time:
                dwell = (named if until == by_place else timed).pop(0)[1]
                legs.append((t, t + dwell, d, d))
                t += dwell
            elif d >= end:
                return legs

    def odometer(self, seconds: float) -> tuple[float, bool]:
        """Return the distance driven after ``seconds`` and whether the vehicle stands."""
        i = max(0, bisect.bisect_right([leg[0] for leg in self._schedule], seconds) - 1)
        t0, t1, d0, d1 = self._schedule[i]
        if seconds >= t1 or t1 == t0:
            return d1, d1 == d0 or seconds >= self.duration_s
        return d0 + (d1 - d0) * (seconds - t0) / (t1 - t0), d1 == d0

    def silent(self, seconds: float) -> bool:
        """Return whether the device has no signal at ``seconds`` (inside the tunnel gap)."""
        if not self.gap_at or self.gap_min <= 0:
            return False
        at = distance_to(self.route, self.gap_at)
        centre = next(t0 + (at - d0) / ((d1 - d0) / (t1 - t0)) if d1 > d0 else t0
                      for t0, t1, d0, d1 in self._schedule if d0 <= at <= d1)
        return abs(seconds - centre) <= self.gap_min * 30.0

    def truth(self) -> list[tuple[datetime, datetime, float]]:
        """Return the injected deviations as (start, end, distance_m)."""
        return [(self.departed + timedelta(minutes=d.at_min),
                 self.departed + timedelta(minutes=d.at_min + d.duration_min), d.distance_m)
                for d in self.deviations]

    def positions(self) -> Iterator[Position]:
        """Yield the fixes the device reports, one per period, in fix-time order."""
        rng = random.Random(self.seed)
        sigma, rho = self.noise_m / 2.0, math.exp(-self.period_s / 120.0)
        east = north = 0.0
        seconds = 0.0
        while seconds <= self.duration_s:
            east = rho * east + math.sqrt(1 - rho * rho) * rng.gauss(0.0, sigma)
            north = rho * north + math.sqrt(1 - rho * rho) * rng.gauss(0.0, sigma)
            if not self.silent(seconds):
                yield self._fix(seconds, east, north, rng)
            seconds += self.period_s

    def _fix(self, seconds: float, east: float, north: float, rng: random.Random) -> Position:
        driven, standing = self.odometer(seconds)
        point, course = point_along(self.route, driven)
        lon, lat = point.lon, point.lat
        offset = max((d.offset_m(seconds / 60.0, self.speed_kmh / 3.6) for d in self.deviations), default=0.0)
        if offset:
            lon, lat, _ = GEOD.fwd(lon, lat, (course - 90.0) % 360.0, offset)
        lon, lat, _ = GEOD.fwd(lon, lat, math.degrees(math.atan2(east, north)) % 360.0, math.hypot(east, north))
        speed = rng.uniform(0.0, 1.0) if standing else max(5.0, self.speed_kmh + rng.uniform(-8.0, 8.0))
        return Position(device_id=self.device_id, fix_time=self.departed + timedelta(seconds=seconds),
                        lat=round(lat, 6), lon=round(lon, 6), protocol=self.protocol, speed_kmh=round(speed, 1),
                        course=None if standing else round(course % 360.0, 1), altitude_m=None,
                        accuracy_m=round(max(3.0, self.noise_m * rng.uniform(0.3, 1.0)), 1),
                        hdop=round(rng.uniform(0.7, 1.8), 1), satellites=rng.randint(6, 14))
