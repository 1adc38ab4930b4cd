"""Demo geography of Kyrgyzstan: checkpoints and road routes as plain data.

Coordinates are approximate (demo data only). Waypoints are written latitude first,
as people read them; :func:`route_line` turns them into a shapely line in (lon, lat)
order. The demo loader and the beacon simulator share these routes and :class:`Trip`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Sequence

from shapely.geometry import LineString

from tracker.models.enums import CheckpointKind

EARTH_RADIUS_M = 6_371_008.8


class Waypoint(NamedTuple):
    """A point of a road route; named when it is a town, pass or checkpoint."""

    lat: float
    lon: float
    name: str = ""


class Site(NamedTuple):
    """A checkpoint as plain data (country is always KG)."""

    code: str
    name: str
    kind: CheckpointKind
    lat: float
    lon: float
    radius_m: int = 500
    neighbour_country: str | None = None


CHECKPOINTS: tuple[Site, ...] = (
    Site("KHD-GATE", "Khaidarkan Mercury Combine, dispatch gate", CheckpointKind.PRODUCTION_SITE,
         39.947, 71.343, 800),
    Site("OSH", "Osh customs post", CheckpointKind.CUSTOMS_POST, 40.528, 72.799),
    Site("JALALABAD", "Jalal-Abad customs post", CheckpointKind.CUSTOMS_POST, 40.933, 73.000),
    Site("TOKTOGUL", "Toktogul customs post", CheckpointKind.CUSTOMS_POST, 41.873, 72.941),
    Site("NARYN", "Naryn customs post", CheckpointKind.CUSTOMS_POST, 41.429, 75.991),
    Site("BISHKEK", "Bishkek customs terminal and bonded warehouse", CheckpointKind.CUSTOMS_POST,
         42.875, 74.590),
    Site("AKJOL", "Ak-Jol border crossing (Kazakhstan)", CheckpointKind.BORDER_CROSSING,
         43.04, 74.71, 1000, "KZ"),
    Site("DOSTUK", "Dostuk border crossing (Uzbekistan)", CheckpointKind.BORDER_CROSSING,
         40.77, 72.61, 1000, "UZ"),
    Site("TORUGART", "Torugart border crossing (China)", CheckpointKind.BORDER_CROSSING,
         40.56, 75.39, 1000, "CN"),
    Site("IRKESHTAM", "Irkeshtam border crossing (China)", CheckpointKind.BORDER_CROSSING,
         39.68, 73.90, 1000, "CN"),
)

#: The checkpoints' names in the portal's other languages (Checkpoint.names), by code.
CHECKPOINT_NAMES: dict[str, dict[str, str]] = {
    "KHD-GATE": {"ru": "Хайдарканский ртутный комбинат, отгрузочные ворота",
                 "ky": "Хайдаркан сымап комбинаты, жөнөтүү дарбазасы"},
    "OSH": {"ru": "Ошский таможенный пост", "ky": "Ош бажы посту"},
    "JALALABAD": {"ru": "Джалал-Абадский таможенный пост", "ky": "Жалал-Абад бажы посту"},
    "TOKTOGUL": {"ru": "Токтогульский таможенный пост", "ky": "Токтогул бажы посту"},
    "NARYN": {"ru": "Нарынский таможенный пост", "ky": "Нарын бажы посту"},
    "BISHKEK": {"ru": "Бишкекский таможенный терминал и склад временного хранения",
                "ky": "Бишкек бажы терминалы жана убактылуу сактоо кампасы"},
    "AKJOL": {"ru": "Пункт пропуска «Ак-Жол» (Казахстан)", "ky": "«Ак-Жол» өткөрүү пункту (Казакстан)"},
    "DOSTUK": {"ru": "Пункт пропуска «Достук» (Узбекистан)", "ky": "«Достук» өткөрүү пункту (Өзбекстан)"},
    "TORUGART": {"ru": "Пункт пропуска «Торугарт» (Китай)", "ky": "«Торугарт» өткөрүү пункту (Кытай)"},
    "IRKESHTAM": {"ru": "Пункт пропуска «Иркештам» (Китай)", "ky": "«Эркечтам» өткөрүү пункту (Кытай)"},
}

#: The M41/M39 road: Khaidarkan - Osh - Jalal-Abad - Toktogul - Too-Ashuu - Bishkek - Ak-Jol.
KHAIDARKAN_AKJOL: tuple[Waypoint, ...] = (
    Waypoint(39.947, 71.343, "Khaidarkan"),
    Waypoint(39.985, 71.400), Waypoint(40.030, 71.480), Waypoint(40.075, 71.570),
    Waypoint(40.105, 71.650),
    Waypoint(40.130, 71.724, "Kadamjai"),
    Waypoint(40.175, 71.830), Waypoint(40.215, 71.950), Waypoint(40.240, 72.040),
    Waypoint(40.257, 72.128, "Kyzyl-Kiya"),
    Waypoint(40.300, 72.230), Waypoint(40.360, 72.330), Waypoint(40.430, 72.420),
    Waypoint(40.515, 72.503, "Aravan"),
    Waypoint(40.525, 72.620), Waypoint(40.530, 72.720),
    Waypoint(40.528, 72.799, "Osh"),
    Waypoint(40.600, 72.830),
    Waypoint(40.705, 72.866, "Kara-Suu"),
    Waypoint(40.790, 72.920), Waypoint(40.870, 72.965),
    Waypoint(40.933, 73.000, "Jalal-Abad"),
    Waypoint(40.990, 72.880),
    Waypoint(41.037, 72.746, "Bazar-Korgon"),
    Waypoint(41.035, 72.600),
    Waypoint(41.030, 72.480, "Kochkor-Ata"),
    Waypoint(41.150, 72.330),
    Waypoint(41.347, 72.217, "Tash-Kumyr"),
    Waypoint(41.450, 72.360), Waypoint(41.540, 72.530),
    Waypoint(41.620, 72.680, "Kara-Kul"),
    Waypoint(41.720, 72.800), Waypoint(41.800, 72.880),
    Waypoint(41.873, 72.941, "Toktogul"),
    Waypoint(41.960, 72.990), Waypoint(42.060, 73.050), Waypoint(42.160, 73.110),
    Waypoint(42.250, 73.170, "Ala-Bel pass"),
    Waypoint(42.230, 73.330),
    Waypoint(42.200, 73.500, "Suusamyr valley"),
    Waypoint(42.250, 73.680),
    Waypoint(42.330, 73.800, "Too-Ashuu tunnel"),
    Waypoint(42.450, 73.810), Waypoint(42.590, 73.840), Waypoint(42.720, 73.850),
    Waypoint(42.814, 73.848, "Kara-Balta"),
    Waypoint(42.835, 74.050),
    Waypoint(42.855, 74.300, "Sokuluk"),
    Waypoint(42.875, 74.590, "Bishkek"),
    Waypoint(42.930, 74.640), Waypoint(42.990, 74.690),
    Waypoint(43.040, 74.710, "Ak-Jol"),
)

#: Osh to the Dostuk crossing into Uzbekistan.
OSH_DOSTUK: tuple[Waypoint, ...] = (
    Waypoint(40.528, 72.799, "Osh"),
    Waypoint(40.600, 72.740), Waypoint(40.690, 72.670),
    Waypoint(40.770, 72.610, "Dostuk"),
)

#: The A365 road: Torugart - At-Bashy - Naryn - Dolon pass - Kochkor - Balykchy - Bishkek.
TORUGART_BISHKEK: tuple[Waypoint, ...] = (
    Waypoint(40.560, 75.390, "Torugart"),
    Waypoint(40.700, 75.550), Waypoint(40.900, 75.700),
    Waypoint(41.170, 75.800, "At-Bashy"),
    Waypoint(41.300, 75.900),
    Waypoint(41.429, 75.991, "Naryn"),
    Waypoint(41.600, 75.850),
    Waypoint(41.800, 75.750, "Dolon pass"),
    Waypoint(42.000, 75.780),
    Waypoint(42.215, 75.755, "Kochkor"),
    Waypoint(42.350, 75.950),
    Waypoint(42.460, 76.190, "Balykchy"),
    Waypoint(42.580, 75.950), Waypoint(42.680, 75.700), Waypoint(42.760, 75.500),
    Waypoint(42.840, 75.290, "Tokmok"),
    Waypoint(42.870, 75.050),
    Waypoint(42.890, 74.850, "Kant"),
    Waypoint(42.880, 74.700),
    Waypoint(42.875, 74.590, "Bishkek"),
)

#: Where GSM coverage is lost on the Bishkek-Osh road.
TOO_ASHUU_TUNNEL = Waypoint(42.330, 73.800, "Too-Ashuu tunnel")

#: Places on the M41 where a mercury transport may stop: (name, lat, lon, radius_m).
M41_AUTHORISED_STOPS: tuple[tuple[str, float, float, int], ...] = (
    ("Osh customs post", 40.528, 72.799, 500),
    ("Kara-Kul fuel station", 41.620, 72.680, 300),
    ("Toktogul customs post", 41.873, 72.941, 500),
    ("Bishkek customs terminal", 42.875, 74.590, 500),
)


def site(code: str) -> Site:
    """Return the checkpoint with ``code``."""
    for candidate in CHECKPOINTS:
        if candidate.code == code:
            return candidate
    raise KeyError(code)


def route_line(waypoints: Sequence[Waypoint]) -> LineString:
    """Return the route as a shapely line, longitude before latitude."""
    return LineString([(w.lon, w.lat) for w in waypoints])


def section(waypoints: Sequence[Waypoint], start: str, end: str) -> tuple[Waypoint, ...]:
    """Return the part of a route between two named waypoints, reversed if needed."""
    names = [w.name for w in waypoints]
    i, j = names.index(start), names.index(end)
    return tuple(waypoints[i:j + 1]) if i <= j else tuple(reversed(waypoints[j:i + 1]))


def haversine_m(a: Waypoint, b: Waypoint) -> float:
    """Return the great-circle distance between two points in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_deg(a: Waypoint, b: Waypoint) -> float:
    """Return the initial course from ``a`` to ``b`` in degrees, 0 <= course < 360."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dlmb = math.radians(b.lon - a.lon)
    y = math.sin(dlmb) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return math.degrees(math.atan2(y, x)) % 360.0


def route_length_m(waypoints: Sequence[Waypoint]) -> float:
    """Return the length of a route in metres."""
    return sum(haversine_m(a, b) for a, b in itertools.pairwise(waypoints))


def distance_to(waypoints: Sequence[Waypoint], name: str) -> float:
    """Return the distance in metres from the start of a route to a named waypoint."""
    index = [w.name for w in waypoints].index(name)
    return route_length_m(waypoints[:index + 1])


def point_along(waypoints: Sequence[Waypoint], distance_m: float) -> tuple[Waypoint, float]:
    """Return the point ``distance_m`` along a route and the course there (degrees).

    Distances beyond either end stop at that end.
    """
    remaining = max(0.0, distance_m)
    for a, b in itertools.pairwise(waypoints):
        leg = haversine_m(a, b)
        if remaining <= leg or b is waypoints[-1]:
            f = min(1.0, remaining / leg) if leg else 0.0
            point = Waypoint(a.lat + f * (b.lat - a.lat), a.lon + f * (b.lon - a.lon))
            return point, bearing_deg(a, b)
        remaining -= leg
    return waypoints[-1], 0.0


@dataclass(frozen=True)
class Trip:
    """A vehicle driving a route at a steady speed, dwelling at named waypoints."""

    route: tuple[Waypoint, ...]
    departed: datetime
    speed_kmh: float
    stops: tuple[tuple[str, float], ...] = ()   # (waypoint name, dwell in hours), in route order

    @property
    def speed_mps(self) -> float:
        """Return the driving speed in metres per second."""
        return self.speed_kmh / 3.6

    def reaches(self, name: str | None = None) -> datetime:
        """Return when the vehicle reaches a named waypoint, or the end of the route."""
        at = route_length_m(self.route) if name is None else distance_to(self.route, name)
        dwell = sum(hours for stop, hours in self.stops if distance_to(self.route, stop) < at)
        return self.departed + timedelta(seconds=at / self.speed_mps, hours=dwell)

    def odometer(self, when: datetime) -> tuple[float, bool]:
        """Return the distance driven by ``when`` (metres) and whether the vehicle stands."""
        left, done = (when - self.departed).total_seconds(), 0.0
        for stop, hours in self.stops:
            drive = (distance_to(self.route, stop) - done) / self.speed_mps
            if left < drive:
                break
            left, done = left - drive, done + drive * self.speed_mps
            if left < hours * 3600:
                return done, True
            left -= hours * 3600
        return min(done + max(left, 0.0) * self.speed_mps, route_length_m(self.route)), False
