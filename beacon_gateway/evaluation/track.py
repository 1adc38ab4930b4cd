"""A track: one declaration's fixes ordered by fix time, prepared once for every rule."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from tracker.domain.corridor import geodesic_m
from beacon_gateway.evaluation.rules import Rules
from beacon_gateway.position import (
    FLAG_APPROXIMATE,
    FLAG_FUTURE,
    FLAG_IMPOSSIBLE_JUMP,
    FLAG_INVALID_FIX,
    FLAG_NULL_ISLAND,
    FLAG_WEEK_ROLLOVER,
    Position,
)

#: Fixes with these flags prove the device is alive but say nothing reliable about where it is.
NOT_A_LOCATION = frozenset({FLAG_INVALID_FIX, FLAG_NULL_ISLAND, FLAG_FUTURE, FLAG_WEEK_ROLLOVER,
                            FLAG_APPROXIMATE, FLAG_IMPOSSIBLE_JUMP})


@dataclass(frozen=True, slots=True)
class Fix:
    """One stored position as the rules see it."""

    time: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None
    flags: tuple[str, ...] = ()
    valid: bool = True

    @classmethod
    def of(cls, position: Position) -> Fix:
        """Return the fix of a decoded position."""
        return cls(position.fix_time, position.lat, position.lon, position.speed_kmh, tuple(position.flags),
                   position.valid)


def rough_m(lon1: NDArray[np.float64], lat1: NDArray[np.float64], lon2: NDArray[np.float64],
             lat2: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return short distances in metres, within 1 % (equirectangular): enough to rule out jumps."""
    dx = (lon2 - lon1) * np.cos(np.radians((lat1 + lat2) / 2))
    return 111_195.0 * np.hypot(dx, lat2 - lat1)


def epoch(when: datetime) -> float:
    """Return an aware datetime as seconds since the epoch."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give a time zone")
    return when.timestamp()


def from_epoch(seconds: float) -> datetime:
    """Return seconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, timezone.utc)


@dataclass
class Track:
    """Fixes sorted by time with their arrays; ``located`` marks fixes the geometry rules may use."""

    fixes: list[Fix]
    t: NDArray[np.float64] = field(init=False)
    lon: NDArray[np.float64] = field(init=False)
    lat: NDArray[np.float64] = field(init=False)
    speed: NDArray[np.float64] = field(init=False)   # NaN where not reported
    located: NDArray[np.bool_] = field(init=False)
    jumps: list[int] = field(init=False)             # indexes of fixes reached by an impossible jump

    @classmethod
    def of(cls, fixes: Iterable[Fix], rules: Rules) -> Track:
        """Return the track of ``fixes`` in fix-time order (the one order evaluation uses)."""
        by_time: dict[datetime, Fix] = {}
        for fix in fixes:
            by_time.setdefault(fix.time, fix)   # one fix per time, as stored: a repeat changes nothing
        track = cls(sorted(by_time.values(), key=lambda f: f.time))
        track._prepare(rules)
        return track

    def __len__(self) -> int:
        return len(self.fixes)

    def _prepare(self, rules: Rules) -> None:
        self.t = np.array([epoch(f.time) for f in self.fixes], dtype=float)
        self.lon = np.array([f.lon for f in self.fixes], dtype=float)
        self.lat = np.array([f.lat for f in self.fixes], dtype=float)
        self.speed = np.array([np.nan if f.speed_kmh is None else f.speed_kmh for f in self.fixes], dtype=float)
        self.located = np.array([f.valid and not NOT_A_LOCATION.intersection(f.flags) for f in self.fixes],
                                dtype=bool)
        self.jumps = self._find_jumps(rules)
        self.located[self.jumps] = False

    def _find_jumps(self, rules: Rules) -> list[int]:
        """Return fixes an impossible speed away from the last believable fix.

        Three such fixes in a row that agree with each other are believed again (the
        vehicle really is there; the earlier fix was the odd one).
        """
        idx = np.flatnonzero(self.located)
        if len(idx) < 2:
            return []
        hop = rough_m(self.lon[idx[:-1]], self.lat[idx[:-1]], self.lon[idx[1:]], self.lat[idx[1:]])
        if not np.any(self._impossible(hop * 0.9, np.diff(self.t[idx]), rules)):
            return []                                   # the usual case: no loop in Python
        jumps, reference, rejected = [], int(idx[0]), 0
        for i in idx[1:]:
            d = float(geodesic_m(self.lon[reference], self.lat[reference], self.lon[i], self.lat[i]))
            if self._impossible(np.array([d]), np.array([self.t[i] - self.t[reference]]), rules)[0] and rejected < 2:
                jumps.append(int(i))
                rejected += 1
            else:
                reference, rejected = int(i), 0
        return jumps

    @staticmethod
    def _impossible(hop_m: NDArray[np.float64], dt_s: NDArray[np.float64], rules: Rules) -> NDArray[np.bool_]:
        limit = rules.max_speed_kmh / 3.6 * np.maximum(dt_s, 0.0)
        return (hop_m > rules.min_jump_m) & (hop_m > limit)

    def indexes(self, mask: Sequence[bool] | NDArray[np.bool_] | None = None) -> NDArray[np.intp]:
        """Return the indexes of located fixes (and ``mask``)."""
        return np.flatnonzero(self.located if mask is None else self.located & np.asarray(mask))

    def time(self, i: int) -> datetime:
        """Return the fix time of fix ``i``."""
        return self.fixes[int(i)].time

    def head(self, n: int) -> Track:
        """Return the track of the first ``n`` fixes (already prepared)."""
        if n >= len(self.fixes):
            return self
        part = Track(self.fixes[:n])
        part.t, part.lon, part.lat, part.speed = self.t[:n], self.lon[:n], self.lat[:n], self.speed[:n]
        part.located, part.jumps = self.located[:n], [i for i in self.jumps if i < n]
        return part
