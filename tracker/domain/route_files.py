"""Planned routes: from an uploaded GPX file or a list of waypoints, and geodesic distances.

GPX comes from outside, so it is parsed defensively: a size limit, then defusedxml refuses
any DTD, entity declaration or external reference (XXE, "billion laughs") before gpxpy
reads the points. Distances are geodesic on the WGS 84 ellipsoid (pyproj.Geod); the
distance from a place to a route is measured in an azimuthal equidistant projection
centred on that place, where distances from the centre are true geodesic distances,
after densifying the route to points at most 1 km apart.
"""
from __future__ import annotations

from functools import lru_cache

import gpxpy
import gpxpy.gpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point
from xml.etree.ElementTree import ParseError

from tracker.domain.text import text

MAX_GPX_BYTES = 5 * 1024 * 1024
MAX_ROUTE_POINTS = 50_000
DENSIFY_STEP_M = 1_000
GEOD = Geod(ellps="WGS84")


class RouteFileError(ValueError):
    """A route file is too large, hostile, malformed or has no usable points."""


def _refuse_hostile_xml(data: bytes) -> None:
    try:
        defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise RouteFileError(text("GPX refused: DTDs and entities are not allowed ({error})",
                                  error=type(exc).__name__)) from None
    except ParseError as exc:
        raise RouteFileError(text("not well-formed XML: {problem}", problem=str(exc))) from None


def _points(gpx: gpxpy.gpx.GPX) -> list[tuple[float, float]]:
    """Return (lon, lat) of the tracks' points, else of the routes' points, in file order."""
    track = [(p.longitude, p.latitude) for t in gpx.tracks for s in t.segments for p in s.points]
    if track:
        return track
    return [(p.longitude, p.latitude) for r in gpx.routes for p in r.points]


def parse_gpx(data: bytes, max_bytes: int = MAX_GPX_BYTES) -> LineString:
    """Return the planned route in a GPX file (its track, or else its route) as a line.

    Raise :class:`RouteFileError` saying why when the file is refused.
    """
    if len(data) > max_bytes:
        raise RouteFileError(text("GPX file is {size} bytes; the limit is {limit}",
                                  size=len(data), limit=max_bytes))
    if not data.strip():
        raise RouteFileError(text("the GPX file is empty"))
    _refuse_hostile_xml(data)
    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, gpxpy.gpx.GPXException) as exc:
        raise RouteFileError(text("not a readable GPX file: {problem}", problem=str(exc))) from None
    points = _points(gpx)
    if len(points) < 2:
        raise RouteFileError(text("the GPX file has no track or route with at least two points"))
    if len(points) > MAX_ROUTE_POINTS:
        raise RouteFileError(text("the route has {count} points; the limit is {limit}",
                                  count=len(points), limit=MAX_ROUTE_POINTS))
    return route_from_waypoints([(lat, lon) for lon, lat in points])


def route_from_waypoints(waypoints: list[tuple[float, float]]) -> LineString:
    """Return a route line (lon, lat order) from (lat, lon) waypoints, checking each point."""
    if len(waypoints) < 2:
        raise RouteFileError(text("a route needs at least two points"))
    for i, (lat, lon) in enumerate(waypoints):
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RouteFileError(text("point {i} is off the globe: {lat}, {lon}", i=i, lat=lat, lon=lon))
    return LineString([(lon, lat) for lat, lon in waypoints])


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the geodesic distance between two points in metres (WGS 84)."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _densified(route: LineString) -> list[tuple[float, float]]:
    coords = [tuple(c[:2]) for c in route.coords]
    out: list[tuple[float, float]] = [coords[0]]
    for (lon1, lat1), (lon2, lat2) in zip(coords, coords[1:]):
        steps = int(distance_m(lat1, lon1, lat2, lon2) // DENSIFY_STEP_M)
        if steps > 0:
            out.extend(GEOD.npts(lon1, lat1, lon2, lat2, steps))
        out.append((lon2, lat2))
    return out


@lru_cache(maxsize=256)
def _to_local(lat: float, lon: float) -> Transformer:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def locate_on_route(lat: float, lon: float, route: LineString) -> tuple[float, float]:
    """Return (distance from the place to the route, distance along the route to there), in metres.

    The distance along the route is measured in the place's own projection: good to
    about 1 % over a few hundred kilometres, enough to tell which place comes first.
    """
    xs, ys = zip(*_densified(route))
    px, py = _to_local(round(lat, 7), round(lon, 7)).transform(xs, ys)
    local = LineString(list(zip(px, py)))
    centre = Point(0, 0)
    return float(local.distance(centre)), float(local.project(centre))


def distance_to_route_m(lat: float, lon: float, route: LineString) -> float:
    """Return the shortest distance in metres from a place to the route."""
    return locate_on_route(lat, lon, route)[0]
