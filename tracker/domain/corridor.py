"""The route corridor: the planned line buffered by the corridor width, in metres.

The route's segments are geodesics between its points (longitude before latitude).
They are densified and projected into a transverse Mercator projection centred on the
route, which is conformal, so the foot of the perpendicular from a point to the
projected line is the nearest point of the route. The distance reported is then the
geodesic distance (pyproj.Geod, WGS84) from the point to that foot, so it does not
carry the projection's scale error (about 0.03 % 150 km off the central meridian).
Point tests use shapely's vectorised ``contains_xy`` on prepared polygons.

Building a corridor costs more the more its buffer overlaps itself, so a route is first
simplified (:func:`simplify`) and its self-overlap counted (:func:`folds`); the limits
applied to both are in ``route_geometry``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Polygon

GEOD = Geod(ellps="WGS84")
#: Spacing of the densified route: short enough that a projected chord and the geodesic
#: it replaces differ by millimetres.
DENSIFY_M = 250.0
#: Simplification never merges more than this much of the route into one segment: the projected
#: chord it keeps and the geodesic the corridor draws between its ends then differ by centimetres.
SIMPLIFY_PIECE_M = 20_000.0
#: Pieces whose neighbours :func:`folds` looks up at once (a scribble stops after the first batch).
_FOLD_BATCH = 256


def densify(route: LineString, spacing_m: float = DENSIFY_M) -> NDArray[np.float64]:
    """Return the route's points (lon, lat) with geodesic points inserted every ``spacing_m``."""
    coords = np.asarray(route.coords, dtype=float)[:, :2]
    lon, lat = coords[:-1, 0], coords[:-1, 1]
    azimuth, _, length = GEOD.inv(lon, lat, coords[1:, 0], coords[1:, 1])
    between = np.maximum(0, np.ceil(np.asarray(length) / spacing_m) - 1).astype(int)
    segment = np.repeat(np.arange(len(between)), between)        # the segment of each inserted point
    step = np.arange(len(segment)) - np.repeat(np.cumsum(between) - between, between) + 1
    new_lon, new_lat, _ = GEOD.fwd(lon[segment], lat[segment], np.asarray(azimuth)[segment],
                                   np.asarray(length)[segment] * step / (between[segment] + 1))
    out = np.empty((len(coords) + len(segment), 2))
    original = np.arange(len(coords)) + np.concatenate([[0], np.cumsum(between)])
    out[original] = coords
    out[np.setdiff1d(np.arange(len(out)), original, assume_unique=True)] = np.column_stack([new_lon, new_lat])
    return out


def projection_for(route: LineString) -> str:
    """Return a PROJ string for a transverse Mercator centred on the route's bounding box."""
    west, south, east, north = route.bounds
    return (f"+proj=tmerc +lat_0={(south + north) / 2:.6f} +lon_0={(west + east) / 2:.6f} "
            "+k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")


def simplify(route: LineString, tolerance_m: float) -> LineString:
    """Return the route with the points it can do without (Douglas-Peucker in projected metres).

    Every point of ``route`` stays within ``tolerance_m`` of the line returned, whose points
    are points of ``route``, first and last included. The route is simplified in pieces of
    about ``SIMPLIFY_PIECE_M`` and a segment longer than that is kept as it is, so no new
    segment is long enough for its geodesic to stray from the projected chord checked.
    """
    coords = np.asarray(route.coords, dtype=float)[:, :2]
    x, y = Transformer.from_crs("EPSG:4326", projection_for(route), always_xy=True).transform(
        coords[:, 0], coords[:, 1])
    xy = np.column_stack([x, y])
    keep = np.zeros(len(coords), dtype=bool)
    for first, last in _pieces(xy):
        piece = xy[first:last + 1]
        kept = shapely.get_coordinates(shapely.simplify(LineString(piece), tolerance_m, preserve_topology=False))
        keep[first:last + 1] |= np.isin(piece[:, 0], kept[:, 0]) & np.isin(piece[:, 1], kept[:, 1])
    keep[[0, -1]] = True
    return LineString(coords[keep])


def _pieces(xy: NDArray[np.float64]) -> list[tuple[int, int]]:
    """Return (first, last) vertex indices of the pieces a projected line is simplified in."""
    step = np.hypot(*np.diff(xy, axis=0).T)
    piece = np.floor(np.concatenate([[0.0], np.cumsum(step)]) / SIMPLIFY_PIECE_M)
    change = np.flatnonzero(np.diff(piece)) + 1             # the first vertex in a new piece
    cuts = np.unique(np.concatenate([[0, len(xy) - 1], change - 1, change]))
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


def folds(route: LineString, width_m: float, limit: int) -> int:
    """Return how many pairs of the route's 250 m pieces come within two widths of each other (by
    their bounding boxes) while more than four widths apart along the route, counting no
    further than just past ``limit``.

    These are where the corridor overlaps itself (a road doubling back, a scribble): what
    makes buffering a line cost more than its length. Counted with an R-tree, a few
    hundred pieces at a time, so that counting a scribble stops early and costs little.
    """
    dense = densify(route)
    x, y = Transformer.from_crs("EPSG:4326", projection_for(route), always_xy=True).transform(
        dense[:, 0], dense[:, 1])
    xy = np.column_stack([x, y])
    pieces = shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])[:-1]
    bounds = shapely.bounds(pieces)
    reach = shapely.box(bounds[:, 0] - 2 * width_m, bounds[:, 1] - 2 * width_m,
                        bounds[:, 2] + 2 * width_m, bounds[:, 3] + 2 * width_m)
    tree, count = shapely.STRtree(pieces), 0
    for start in range(0, len(pieces), _FOLD_BATCH):
        near, other = tree.query(reach[start:start + _FOLD_BATCH])
        near += start
        count += int(np.count_nonzero((other > near) & (np.abs(along[other] - along[near]) > 4 * width_m)))
        if count > limit:
            break
    return count


@dataclass(eq=False)
class Corridor:
    """The planned route buffered by ``width_m``; answers distance and containment in bulk."""

    route: LineString
    width_m: float
    inner_margin_m: float = 50.0
    _forward: Transformer = field(init=False, repr=False)
    _inverse: Transformer = field(init=False, repr=False)
    _a: NDArray[np.float64] = field(init=False, repr=False)
    _ab: NDArray[np.float64] = field(init=False, repr=False)
    _ab_len2: NDArray[np.float64] = field(init=False, repr=False)
    _segments: shapely.STRtree = field(init=False, repr=False)
    _starts: NDArray[np.float64] | None = field(init=False, repr=False, default=None)  # metres before each segment
    line: LineString = field(init=False, repr=False)
    polygon: Polygon = field(init=False, repr=False)
    inner: Polygon = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.width_m <= 0:
            raise ValueError(f"corridor width must be positive, got {self.width_m}")
        crs = projection_for(self.route)
        self._forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        dense = densify(self.route)
        x, y = self._forward.transform(dense[:, 0], dense[:, 1])
        self.line = LineString(np.column_stack([x, y]))
        self._a = np.column_stack([x[:-1], y[:-1]])
        self._ab = np.column_stack([x[1:], y[1:]]) - self._a
        self._ab_len2 = np.maximum((self._ab ** 2).sum(axis=1), 1e-9)
        self._segments = shapely.STRtree(shapely.linestrings(
            np.stack([self._a, self._a + self._ab], axis=1)))
        self.polygon = self.line.buffer(self.width_m, quad_segs=16)
        # Points well inside need no exact distance: the common case stays vectorised and cheap.
        self.inner = self.line.buffer(max(self.width_m - self.inner_margin_m, 1.0), quad_segs=16)
        shapely.prepare(self.polygon)
        shapely.prepare(self.inner)
        shapely.prepare(self.line)

    def outline(self) -> Polygon:
        """Return the corridor as a polygon in longitude and latitude (for maps and exports)."""
        def to_lonlat(coords: NDArray[np.float64]) -> NDArray[np.float64]:
            lon, lat = self._inverse.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return shapely.transform(self.polygon, to_lonlat)

    def project(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return projected x, y (metres) of longitudes and latitudes."""
        x, y = self._forward.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def contains(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Return, per point, whether it lies inside the corridor (fast, projected)."""
        x, y = self.project(lon, lat)
        return np.asarray(shapely.contains_xy(self.polygon, x, y), dtype=bool)

    def well_inside(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Return, per point, whether it lies inside the inner margin (back on route)."""
        x, y = self.project(lon, lat)
        return np.asarray(shapely.contains_xy(self.inner, x, y), dtype=bool)

    def distances_m(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Return the geodesic distance in metres from each point to the route."""
        lon_a, lat_a = np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float))
        x, y = self.project(lon_a, lat_a)
        foot_x, foot_y = self._feet(x, y)
        foot_lon, foot_lat = self._inverse.transform(foot_x, foot_y)
        return np.asarray(GEOD.inv(lon_a, lat_a, foot_lon, foot_lat)[2], dtype=float)

    def _feet(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        """Return the nearest points of the projected line (an R-tree of its segments)."""
        pairs = self._segments.query_nearest(shapely.points(x, y))
        first = np.unique(pairs[0], return_index=True)[1]      # ties: any nearest segment will do
        segment = pairs[1][first]
        a, ab = self._a[segment], self._ab[segment]
        t = np.clip(((x - a[:, 0]) * ab[:, 0] + (y - a[:, 1]) * ab[:, 1]) / self._ab_len2[segment], 0.0, 1.0)
        return a[:, 0] + t * ab[:, 0], a[:, 1] + t * ab[:, 1]

    @property
    def length_m(self) -> float:
        """Return the route's length in metres (projected: within the projection's scale error)."""
        return float(self.line.length)

    def along_candidates(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Return (point index, metres along the route) of every stretch of route within the corridor of a point.

        A route that passes the same place twice (a ring road, an out-and-back valley)
        gives such a point two candidates or more; the caller chooses by continuity.
        """
        x, y = self.project(np.atleast_1d(lon), np.atleast_1d(lat))
        point, segment = self._segments.query(shapely.points(x, y), predicate="dwithin", distance=self.width_m)
        if self._starts is None:
            self._starts = np.concatenate([[0.0], np.cumsum(np.sqrt(self._ab_len2))[:-1]])
        a, ab = self._a[segment], self._ab[segment]
        t = np.clip(((x[point] - a[:, 0]) * ab[:, 0] + (y[point] - a[:, 1]) * ab[:, 1]) / self._ab_len2[segment],
                    0.0, 1.0)
        order = np.lexsort((segment, point))
        return point[order], (self._starts[segment] + t * np.sqrt(self._ab_len2[segment]))[order]

    def classify(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
        """Return (well inside, distance) per point; distances are exact only where not well inside.

        Points inside the inner margin get distance 0: only excursions need a figure.
        """
        lon_a, lat_a = np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float))
        x, y = self.project(lon_a, lat_a)
        inside = np.asarray(shapely.contains_xy(self.inner, x, y), dtype=bool)
        distance = np.zeros(len(lon_a))
        rest = ~inside
        if rest.any():
            distance[rest] = self.distances_m(lon_a[rest], lat_a[rest])
        return inside, distance


def geodesic_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Return geodesic distances in metres between point pairs (vectorised, WGS84)."""
    return np.asarray(GEOD.inv(*np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                      for v in (lon1, lat1, lon2, lat2))))[2], dtype=float)
