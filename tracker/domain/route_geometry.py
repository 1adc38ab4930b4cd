"""A declaration's route geometry as saved: simplified, within its cost ceiling, corridor built once.

An uploaded route can be a recorded track of 50,000 jittery points, whose corridor takes
minutes and gigabytes to build. So a route is accepted only in a form whose cost is bounded:

1. its length is at most ``MAX_ROUTE_LENGTH_M`` (the corridor inserts a point every 250 m);
2. it is simplified (Douglas-Peucker, in metres) to ``SIMPLIFY_FRACTION`` of the corridor
   width: a point further than that from the corridor's edge is on the same side of the
   simplified route's corridor as of the uploaded one's (at 500 m: 25 m, five times the
   usual GPS error and half the 50 m margin evaluation keeps before "back on route");
3. the simplified route may have at most ``MAX_ROUTE_VERTICES`` points, else it is refused;
4. it may overlap itself only so much (``MAX_ROUTE_FOLDS``, see :func:`corridor.folds`): the
   cost of buffering a line grows with how often its corridor overlaps itself, so a scribble
   of a few hundred points costs more than an honest road of thousands;
5. its corridor outline is built then and stored, for maps, exports and reports.

The declaration keeps the route as uploaded (``route_uploaded``, evidence), the simplified
route it is judged by (``route``), the tolerance used and the outline. A change of corridor
width simplifies the uploaded route again for the new width.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import LineString, Polygon

from tracker.domain.corridor import GEOD, Corridor, folds, simplify
from tracker.domain.route_files import RouteFileError
from tracker.domain.text import text
from tracker.models import Declaration
from tracker.models.declarations import MAX_ROUTE_VERTICES

__all__ = ["MAX_ROUTE_FOLDS", "MAX_ROUTE_LENGTH_M", "MAX_ROUTE_VERTICES", "RouteGeometry", "SIMPLIFY_FRACTION",
           "corridor_outline", "fitted_geometry", "inside", "plan_geometry", "refit_route", "route_length_m",
           "store_route", "tolerance_m"]

#: The simplification tolerance as a share of the corridor width.
SIMPLIFY_FRACTION = 0.05
#: Longer than any road route through Central Asia (Irkeshtam - Ak-Jol is about 1,100 km).
MAX_ROUTE_LENGTH_M = 5_000_000.0
#: Pairs of 250 m pieces of the route near each other but far apart along it (bench/geometry.py):
#: none on the demo road with ±5 m noise, a few hundred per hairpin bend; the 900 km demo road
#: there and back has 42,000 and a scribble of 366 points in 20 km reaches it.
MAX_ROUTE_FOLDS = 20_000


@dataclass(frozen=True)
class RouteGeometry:
    """What saving a route stores: the route judged by, its corridor outline, how it was simplified."""

    route: LineString
    outline: Polygon
    tolerance_m: float


def tolerance_m(corridor_m: float) -> float:
    """Return the simplification tolerance for a corridor ``corridor_m`` wide."""
    return SIMPLIFY_FRACTION * corridor_m


def route_length_m(route: LineString) -> float:
    """Return the geodesic length of a route in metres."""
    coords = np.asarray(route.coords, dtype=float)
    return float(GEOD.line_length(coords[:, 0], coords[:, 1]))


def plan_geometry(uploaded: LineString, corridor_m: float) -> RouteGeometry:
    """Return the geometry to store for ``uploaded`` in a corridor ``corridor_m`` wide.

    Raise :class:`RouteFileError` saying which limit the route exceeds.
    """
    length = route_length_m(uploaded)
    if length > MAX_ROUTE_LENGTH_M:
        raise RouteFileError(text("the route is {length} km long; the limit is {limit} km",
                                  length=round(length / 1000), limit=round(MAX_ROUTE_LENGTH_M / 1000)))
    tolerance = tolerance_m(corridor_m)
    route = simplify(uploaded, tolerance)
    if len(route.coords) > MAX_ROUTE_VERTICES:
        raise RouteFileError(text(
            "the route still has {count} points after leaving out those within {tolerance} m of it; "
            "the limit is {limit}: send a planned route rather than a recorded track, or a wider corridor",
            count=len(route.coords), tolerance=round(tolerance, 2), limit=MAX_ROUTE_VERTICES))
    if folds(route, corridor_m, MAX_ROUTE_FOLDS) > MAX_ROUTE_FOLDS:
        raise RouteFileError(text("the route runs back over itself too often for a corridor {width} m wide: "
                                  "send the way there once, without loops", width=corridor_m))
    return RouteGeometry(route, Corridor(route, corridor_m).outline(), tolerance)


def fitted_geometry(uploaded: LineString, corridor_m: float) -> RouteGeometry:
    """Return the geometry of a route saved before the ceiling existed, never refusing it.

    The tolerance doubles until the simplified route is within ``MAX_ROUTE_VERTICES`` and
    ``MAX_ROUTE_FOLDS`` (the tolerance used is stored with it, and says when that happened).
    """
    tolerance = tolerance_m(corridor_m)
    route = simplify(uploaded, tolerance)
    while len(route.coords) > MAX_ROUTE_VERTICES or folds(route, corridor_m, MAX_ROUTE_FOLDS) > MAX_ROUTE_FOLDS:
        tolerance *= 2
        route = simplify(uploaded, tolerance)
    return RouteGeometry(route, Corridor(route, corridor_m).outline(), tolerance)


def store_route(declaration: Declaration, uploaded: LineString, geometry: RouteGeometry) -> None:
    """Set the declaration's route: ``uploaded`` as given, and the ``geometry`` planned for it."""
    declaration.route_uploaded = uploaded
    declaration.route = geometry.route
    declaration.route_tolerance_m = geometry.tolerance_m
    declaration.corridor_outline = geometry.outline


def refit_route(declaration: Declaration) -> None:
    """Plan the declaration's route again when its corridor width changed since it was stored.

    Raise :class:`RouteFileError` when the route does not fit the ceiling at the new width.
    """
    if declaration.route is None or declaration.route_tolerance_m == tolerance_m(declaration.corridor_m):
        return
    uploaded = declaration.route_uploaded or declaration.route
    store_route(declaration, uploaded, plan_geometry(uploaded, declaration.corridor_m))


def corridor_outline(declaration: Declaration) -> Polygon | None:
    """Return the declaration's corridor as a polygon (lon, lat): the stored one, else built from its route.

    Only a route stored without its outline (made directly, not through :func:`store_route`)
    is built here, and a stored route has at most ``MAX_ROUTE_VERTICES`` points.
    """
    if declaration.route is None:
        return None
    if declaration.corridor_outline is not None:
        return declaration.corridor_outline
    return Corridor(declaration.route, declaration.corridor_m).outline()


def inside(outline: Polygon, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Return, per point, whether it lies in a corridor outline (lon, lat), as ``Corridor.contains``."""
    shapely.prepare(outline)
    return np.asarray(shapely.contains_xy(outline, np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)),
                      dtype=bool)
