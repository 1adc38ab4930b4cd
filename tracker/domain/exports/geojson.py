"""GeoJSON (RFC 7946): a declaration's route, corridor, places, track and alerts; alerts of a period.

Coordinates are [longitude, latitude] in WGS84; polygons follow the right-hand rule
(outer ring counter-clockwise). The track's coordinates are written as they are read.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import alert_filter
from tracker.domain.route_geometry import corridor_outline
from tracker.domain.exports import Period, chunked, coord, stream_rows, utc_text
from tracker.domain.exports.track import located_alerts, places, track, track_span
from tracker.models import Alert, Declaration, User

MEDIA_TYPE = "application/geo+json"


def _rounded(geometry: BaseGeometry) -> dict[str, Any]:
    shape = mapping(geometry)

    def walk(value: Any) -> Any:
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], (int, float)):
            return [coord(v) for v in value[:2]]
        return [walk(v) for v in value]

    return {"type": shape["type"], "coordinates": walk(shape["coordinates"])}


def _feature(geometry: dict[str, Any], properties: dict[str, Any], feature_id: str | None = None) -> str:
    feature: dict[str, Any] = {"type": "Feature"}
    if feature_id is not None:
        feature["id"] = feature_id
    feature.update(geometry=geometry, properties=properties)
    return json.dumps(feature, ensure_ascii=False, separators=(",", ":"))


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [coord(lon), coord(lat)]}


def alert_feature(alert: Alert) -> str:
    """Return one alert as a Point feature."""
    return _feature(_point(alert.lon or 0.0, alert.lat or 0.0), {
        "layer": "alert", "alert_id": alert.id, "declaration_id": alert.declaration_id, "kind": alert.kind,
        "severity": alert.severity.value, "status": alert.status.value,
        "opened_at": utc_text(alert.opened_at), "closed_at": utc_text(alert.closed_at) or None,
        "details": alert.details}, f"alert-{alert.id}")


def _plan_features(declaration: Declaration) -> Iterator[str]:
    properties = {"reference": declaration.reference, "declaration_id": declaration.id}
    if declaration.route is not None:
        yield _feature(_rounded(declaration.route), {"layer": "route", **properties}, "route")
        outline = orient(corridor_outline(declaration), 1.0)
        yield _feature(_rounded(outline), {"layer": "corridor", "width_m": declaration.corridor_m, **properties},
                       "corridor")
    for n, place in enumerate(places(declaration)):
        yield _feature(_point(place.lon, place.lat), {
            "layer": "place", "role": place.role, "code": place.code, "name": place.name,
            "radius_m": place.radius_m}, f"place-{n}")


def _track_feature(session: Session, declaration: Declaration, period: Period | None) -> Iterator[str]:
    """Write the track as one LineString, streaming its coordinates."""
    span = track_span(session, declaration, period)
    if span.fixes < 2:
        return
    properties = {"layer": "track", "declaration_id": declaration.id, "reference": declaration.reference,
                  "fixes": span.fixes, "first_fix": utc_text(span.first), "last_fix": utc_text(span.last)}
    yield ('{"type":"Feature","id":"track","properties":' + json.dumps(properties)
           + ',"geometry":{"type":"LineString","coordinates":[')
    for n, fix in enumerate(track(session, declaration, period)):
        yield ("," if n else "") + f"[{coord(fix.lon)},{coord(fix.lat)}]"
    yield "]}}"


def declaration_geojson(session: Session, declaration: Declaration, period: Period | None = None) -> Iterator[str]:
    """Yield a FeatureCollection of the declaration: route, corridor, places, track and alerts."""
    def pieces() -> Iterator[str]:
        yield '{"type":"FeatureCollection","name":' + json.dumps(declaration.label) + ',"features":['
        separator = ""
        for feature in _plan_features(declaration):
            yield separator + feature
            separator = ","
        for n, piece in enumerate(_track_feature(session, declaration, period)):
            yield (separator if n == 0 else "") + piece
            separator = ","
        for alert in located_alerts(session, declaration):
            yield separator + alert_feature(alert)
            separator = ","
        yield "]}\n"

    return chunked(pieces())


def alerts_geojson(session: Session, user: User, period: Period) -> Iterator[str]:
    """Yield a FeatureCollection of every alert with a place that ``user`` may read, opened in ``period``."""
    query = period.bound(select(Alert).where(alert_filter(user), Alert.lat.is_not(None), Alert.lon.is_not(None)),
                         Alert.opened_at).order_by(Alert.opened_at, Alert.id)

    def pieces() -> Iterator[str]:
        yield '{"type":"FeatureCollection","name":"alerts","features":['
        for n, row in enumerate(stream_rows(session, query)):
            yield ("," if n else "") + alert_feature(row.Alert)
        yield "]}\n"

    return chunked(pieces())
