"""One GeoJSON builder (tracker.domain.geojson): the map of a declaration and its GeoJSON export
carry the same features under the same property names, in the documented shape."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import jsonschema
from shapely.geometry import Polygon, shape
from sqlalchemy.orm import Session

from tests.tracker.test_exports import journey as journey  # noqa: F401 (the fixture)
from tests.tracker.test_exports import Journey
from tracker.domain import geojson
from tracker.domain.exports.geojson import declaration_geojson
from tracker.domain.mapdata import declaration_map

#: What only the map has: words are added by the portal, a thinned track says how much is shown.
SAME_LAYERS = ("route", "corridor", "checkpoint", "authorised_stop", "alert")


def by_id(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in collection["features"] if f["properties"]["layer"] in SAME_LAYERS}


def test_the_map_and_the_export_say_the_same_in_the_same_words(db: Session, journey: Journey) -> None:
    on_map = json.loads(json.dumps(declaration_map(db, journey.declaration)))   # as the portal sends it
    exported = json.loads("".join(declaration_geojson(db, journey.declaration)))
    assert by_id(on_map) == by_id(exported)
    assert {"route", "corridor", "checkpoint", "alert"} <= {f["properties"]["layer"] for f in on_map["features"]}
    [map_track] = [f for f in on_map["features"] if f["properties"]["layer"] == "track"]
    [export_track] = [f for f in exported["features"] if f["properties"]["layer"] == "track"]
    assert map_track["properties"] == export_track["properties"]        # a short track is not thinned


def test_alerts_are_named_alert_id_on_both(db: Session, journey: Journey) -> None:
    alert = next(f for f in declaration_map(db, journey.declaration)["features"]
                 if f["properties"]["layer"] == "alert" and f["properties"]["alert_id"] == journey.alert.id)
    assert alert["id"] == f"alert-{journey.alert.id}" and alert["properties"]["alert_id"] == journey.alert.id
    assert alert["properties"]["declaration_id"] == journey.declaration.id and "id" not in alert["properties"]


def test_both_follow_the_documented_schema(db: Session, journey: Journey) -> None:
    for document in (declaration_map(db, journey.declaration),
                     json.loads("".join(declaration_geojson(db, journey.declaration)))):
        jsonschema.validate(document, geojson.COLLECTION_SCHEMA)
    bad = {"type": "FeatureCollection", "features": [geojson.feature("place", geojson.point(74, 42))]}
    try:
        jsonschema.validate(bad, geojson.COLLECTION_SCHEMA)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a layer the builder does not make passed the schema")


def test_polygons_turn_counter_clockwise_and_coordinates_keep_six_decimals() -> None:
    clockwise = Polygon([(74.0, 42.0), (74.0, 42.1234567), (74.1, 42.1), (74.1, 42.0)])
    geometry = geojson.geometry_of(clockwise)
    assert shape(geometry).exterior.is_ccw
    assert [74.0, 42.123457] in [list(c) for c in geometry["coordinates"][0]]
    assert geojson.point(74.12345678, 42.98765432)["coordinates"] == [74.123457, 42.987654]


def test_times_are_utc_with_a_z() -> None:
    assert geojson.utc(datetime(2026, 3, 2, 4, 10, tzinfo=timezone.utc)) == "2026-03-02T04:10:00Z"
    assert geojson.utc(datetime(2026, 3, 2, 4, 10, 0, 250_000, tzinfo=timezone.utc)) == "2026-03-02T04:10:00.250Z"
    assert geojson.utc(None) is None


