"""GeoJSON exports: a declaration's route, corridor, places, track and alerts; alerts of a period.

The features are ``tracker.domain.geojson``'s (the maps' layers and property names); this
module only streams them, the track's coordinates as they are read, however long it is.
"""
from __future__ import annotations

import json
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import geojson
from tracker.domain.access import alert_filter
from tracker.domain.route_geometry import corridor_outline
from tracker.domain.exports import Period, chunked, stream_rows
from tracker.domain.exports.track import located_alerts, places, track, track_span
from tracker.models import Alert, Declaration, User

MEDIA_TYPE = geojson.MEDIA_TYPE


def _plan_features(declaration: Declaration) -> Iterator[str]:
    route = geojson.route_feature(declaration)
    if route is not None:
        yield geojson.text(route)
        yield geojson.text(geojson.corridor_feature(declaration, corridor_outline(declaration)))
    for n, place in enumerate(places(declaration)):
        yield geojson.text(geojson.place_feature(place, n))


def _track_feature(session: Session, declaration: Declaration, period: Period | None) -> Iterator[str]:
    """Write the track as one LineString, streaming its coordinates."""
    span = track_span(session, declaration, period)
    if span.fixes < 2:
        return
    properties = {"layer": "track", **geojson.track_properties(declaration, span.fixes, span.first, span.last)}
    yield ('{"type":"Feature","id":"track","properties":' + json.dumps(properties, ensure_ascii=False)
           + ',"geometry":{"type":"LineString","coordinates":[')
    for n, fix in enumerate(track(session, declaration, period)):
        yield ("," if n else "") + f"[{geojson.coordinate(fix.lon)},{geojson.coordinate(fix.lat)}]"
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
            yield separator + geojson.text(geojson.alert_feature(alert))
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
            yield ("," if n else "") + geojson.text(geojson.alert_feature(row.Alert))
        yield "]}\n"

    return chunked(pieces())
