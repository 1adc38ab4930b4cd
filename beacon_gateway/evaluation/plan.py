"""What a track is judged against: the corridor, the zones, the stops and the planned window."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from tracker.domain.corridor import Corridor, geodesic_m
from beacon_gateway.evaluation.rules import Rules

#: Radius of the start and end zones when a route file names no checkpoint.
DEFAULT_END_RADIUS_M = 500


@dataclass(frozen=True)
class Circle:
    """A round place: a checkpoint's zone or an authorised stop."""

    name: str
    lat: float
    lon: float
    radius_m: float

    def contains(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Return, per point, whether it lies within the radius (geodesic)."""
        inside = np.zeros(len(lon), dtype=bool)
        # A box a little larger than the circle: most fixes are far away and skip the geodesic.
        dlat = self.radius_m / 110_000.0 + 1e-4
        dlon = dlat / max(math.cos(math.radians(min(abs(self.lat) + dlat, 89.0))), 1e-6)
        near = (np.abs(lat - self.lat) <= dlat) & (np.abs(lon - self.lon) <= dlon)
        if near.any():
            inside[near] = geodesic_m(lon[near], lat[near], self.lon, self.lat) <= self.radius_m
        return inside


@dataclass(frozen=True)
class Area:
    """A configured polygon (lon/lat): a dead zone or a prohibited zone."""

    name: str
    polygon: BaseGeometry

    def __post_init__(self) -> None:
        shapely.prepare(self.polygon)

    def contains(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Return, per point, whether it lies inside the polygon."""
        return np.asarray(shapely.contains_xy(self.polygon, lon, lat), dtype=bool)

    def crossed_by(self, lon1: float, lat1: float, lon2: float, lat2: float) -> bool:
        """Return whether the straight hop between two fixes touches the polygon."""
        return bool(self.polygon.intersects(LineString([(lon1, lat1), (lon2, lat2)])))


@dataclass(frozen=True)
class Plan:
    """The declared route and everything the rules need to know about it."""

    corridor: Corridor
    origin: Circle | None = None
    destination: Circle | None = None
    stops: tuple[Circle, ...] = ()          # authorised stops
    checkpoints: tuple[Circle, ...] = ()    # expected checkpoints on the way
    dead_zones: tuple[Area, ...] = ()
    prohibited: tuple[Area, ...] = ()
    reporting_period_s: float = 300.0
    planned_arrival: datetime | None = None
    departed_at: datetime | None = None     # when the trip began: silence counts from then

    @property
    def route_tolerated(self) -> tuple[Circle, ...]:
        """Return the places where leaving the corridor is tolerated (start, end, stops)."""
        return tuple(c for c in (self.origin, self.destination) if c is not None) + self.stops

    @property
    def stop_tolerated(self) -> tuple[Circle, ...]:
        """Return the places where standing still is expected (stops and checkpoints)."""
        return self.route_tolerated + self.checkpoints


def within_any(places: Iterable[Circle | Area], lon: NDArray[np.float64],
               lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Return, per point, whether it lies in any of ``places``."""
    inside = np.zeros(len(lon), dtype=bool)
    for place in places:
        inside |= place.contains(lon, lat)
    return inside


def plan_for_route(route: LineString, corridor_m: float, rules: Rules | None = None,
                   end_radius_m: float = DEFAULT_END_RADIUS_M, **kw: object) -> Plan:
    """Return a plan for a bare route line: start and end zones around its first and last points."""
    rules = rules or Rules()
    (lon0, lat0), (lon1, lat1) = route.coords[0][:2], route.coords[-1][:2]
    kw.setdefault("origin", Circle("start", lat0, lon0, end_radius_m))
    kw.setdefault("destination", Circle("end", lat1, lon1, end_radius_m))
    kw.setdefault("reporting_period_s", rules.default_reporting_period_s)
    corridor = Corridor(route, corridor_m, inner_margin_m=min(rules.inner_margin_m, corridor_m / 2))
    return Plan(corridor=corridor, **kw)  # type: ignore[arg-type]
