"""One GeoJSON builder (RFC 7946) for the portal's maps and the exports.

Every feature names its ``layer`` and carries the same properties wherever it is built,
so a map, a download and the API say the same thing in the same words:

=================  ============================================================================
layer              properties (besides ``layer``)
=================  ============================================================================
route              declaration_id, reference, points
corridor           declaration_id, reference, width_m (each side of the route)
checkpoint         code, name, kind, radius_m; on a declaration also role (origin, expected,
                   destination)
authorised_stop    code ("stop-<n>"), name, radius_m, role ("authorised_stop")
zone               zone_id, name, kind (dead_zone, prohibited)
track              declaration_id, reference, fixes, shown, first_fix, last_fix
custody            kind, event_time, last_event_time, checkpoint, checkpoint_name, seal_intact,
                   containers [{sscc, seal_intact, measured_net_g, event_time}]
alert              alert_id, declaration_id, kind, severity, status, opened_at, closed_at, details
=================  ============================================================================

Coordinates are [longitude, latitude] in WGS84 with six decimals (about 0.1 m, finer than
any GPS fix); polygons follow the right-hand rule (outer ring counter-clockwise). Times
are ISO 8601 UTC ending in Z, or null. The portal adds its words (``label``, ``text``,
``url``) to a map's features; the exports add nothing. The audit maps' own layers
(``in_transit`` on Now, ``flow`` and ``crossing`` on Flows) are built with ``feature`` too.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from tracker.models import Alert, Checkpoint, Declaration, Zone

if TYPE_CHECKING:
    from tracker.domain.exports.track import Place

#: Six decimals of a degree: about 0.1 m.
DIGITS = 6
MEDIA_TYPE = "application/geo+json"
LAYERS = ("route", "corridor", "checkpoint", "authorised_stop", "zone", "track", "custody", "alert")

Feature = dict[str, Any]


def utc(moment: datetime | None) -> str | None:
    """Return a time as ISO 8601 UTC ending in Z (milliseconds when it has them), or None."""
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def coordinate(value: float) -> float:
    """Round a longitude or latitude to ``DIGITS`` decimals."""
    return round(float(value), DIGITS)


def geometry_of(shape: BaseGeometry) -> dict[str, Any]:
    """Return a shape as a GeoJSON geometry: rounded, polygons oriented by the right-hand rule."""
    if shape.geom_type == "Polygon":
        shape = orient(shape, 1.0)
    elif shape.geom_type == "MultiPolygon":
        shape = shapely.MultiPolygon([orient(part, 1.0) for part in shape.geoms])
    return dict(mapping(shapely.set_precision(shape, 10 ** -DIGITS, mode="pointwise")))


def point(lon: float, lat: float) -> dict[str, Any]:
    """Return a GeoJSON Point."""
    return {"type": "Point", "coordinates": [coordinate(lon), coordinate(lat)]}


def feature(layer: str, geometry: BaseGeometry | dict[str, Any], feature_id: str | None = None,
            **properties: Any) -> Feature:
    """Return one feature of ``layer`` (``geometry`` a shape, or GeoJSON already)."""
    shape = geometry if isinstance(geometry, dict) else geometry_of(geometry)
    found: Feature = {"type": "Feature"}
    if feature_id is not None:
        found["id"] = feature_id
    found.update(geometry=shape, properties={"layer": layer, **properties})
    return found


def collection(features: Iterable[Feature], name: str | None = None) -> dict[str, Any]:
    """Return a FeatureCollection."""
    found: dict[str, Any] = {"type": "FeatureCollection"}
    if name is not None:
        found["name"] = name
    found["features"] = list(features)
    return found


def text(item: Feature) -> str:
    """Return a feature as compact JSON (for exports written piece by piece)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- the domain's things
def of_declaration(declaration: Declaration) -> dict[str, Any]:
    """Return the properties naming a declaration."""
    return {"declaration_id": declaration.id, "reference": declaration.reference}


def route_feature(declaration: Declaration, tolerance_deg: float = 0.0) -> Feature | None:
    """Return the planned route as a line, or None without one (``tolerance_deg``: simplified for an
    overview map; ``points`` still counts the route's own points)."""
    route = declaration.route
    if route is None:
        return None
    drawn = route.simplify(tolerance_deg) if tolerance_deg else route
    return feature("route", drawn, "route", **of_declaration(declaration), points=len(route.coords))


def corridor_feature(declaration: Declaration, outline: BaseGeometry) -> Feature:
    """Return the corridor around the route as a polygon."""
    return feature("corridor", outline, "corridor", **of_declaration(declaration), width_m=declaration.corridor_m)


def checkpoint_feature(checkpoint: Checkpoint) -> Feature:
    """Return a checkpoint as a point (on no declaration: the register's map)."""
    return feature("checkpoint", point(checkpoint.lon, checkpoint.lat), f"checkpoint-{checkpoint.code}",
                   code=checkpoint.code, name=checkpoint.name, names=dict(checkpoint.names or {}),
                   kind=checkpoint.kind.value, radius_m=checkpoint.radius_m)


def place_feature(place: Place, n: int) -> Feature:
    """Return the ``n``-th place of a declaration's journey (``exports.track.places``) as a point:
    a checkpoint with its role, or an authorised stop."""
    if place.kind is None:
        return feature("authorised_stop", point(place.lon, place.lat), f"place-{n}", code=place.code,
                       name=place.name, radius_m=place.radius_m, role=place.role)
    return feature("checkpoint", point(place.lon, place.lat), f"place-{n}", code=place.code, name=place.name,
                   names=place.names, kind=place.kind, radius_m=place.radius_m, role=place.role)


def zone_feature(zone: Zone) -> Feature:
    """Return a zone (dead zone, prohibited zone) as a polygon."""
    return feature("zone", zone.polygon, f"zone-{zone.id}", zone_id=zone.id, name=zone.name, kind=zone.kind.value)


def alert_feature(alert: Alert) -> Feature:
    """Return an alert with a place as a point."""
    return feature("alert", point(alert.lon or 0.0, alert.lat or 0.0), f"alert-{alert.id}", alert_id=alert.id,
                   declaration_id=alert.declaration_id, kind=alert.kind, severity=alert.severity.value,
                   status=alert.status.value, opened_at=utc(alert.opened_at), closed_at=utc(alert.closed_at),
                   details=alert.details)


def track_properties(declaration: Declaration, fixes: int, first: datetime | None, last: datetime | None,
                     shown: int | None = None) -> dict[str, Any]:
    """Return the properties of a declaration's track (``shown``: the fixes drawn, when thinned)."""
    return {**of_declaration(declaration), "fixes": fixes,
            "shown": fixes if shown is None else shown, "first_fix": utc(first), "last_fix": utc(last)}


#: The OpenAPI schema of a FeatureCollection this module builds (the exports' contract).
COLLECTION_SCHEMA = {"type": "object", "required": ["type", "features"], "properties": {
    "type": {"const": "FeatureCollection"},
    "name": {"type": "string"},
    "features": {"type": "array", "items": {
        "type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"const": "Feature"}, "id": {"type": "string"},
            "geometry": {"type": "object", "required": ["type", "coordinates"]},
            "properties": {"type": "object", "required": ["layer"],
                           "properties": {"layer": {"enum": list(LAYERS)}}}}}}}}
