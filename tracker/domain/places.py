"""Checkpoints and zones as the licensing authority keeps them, and both as GeoJSON for maps.

A zone arrives as GeoJSON text pasted or uploaded by a person, so it is read with care:
a size limit before parsing, a nesting limit while parsing, then a valid Polygon in
longitude/latitude (GeoJSON's order) or nothing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import geojson
from tracker.domain.access import Action, may
from tracker.domain.errors import Forbidden, NotFound, ValidationFailed
from tracker.domain.place_names import MAX_NAME_LENGTH, cleaned_names, name_errors
from tracker.domain.text import text
from tracker.models import Checkpoint, CheckpointKind, User, Zone, ZoneKind

MAX_GEOJSON_BYTES = 256 * 1024
MAX_GEOJSON_DEPTH = 12
MAX_POLYGON_POINTS = 5_000


@dataclass
class CheckpointInput:
    """A checkpoint as the administrator types it in."""

    code: str
    name: str
    kind: str
    country: str
    lat: float
    lon: float
    radius_m: int = 500
    neighbour_country: str = ""
    #: The name in the portal's other languages: {"ru": ..., "ky": ...} (see place_names).
    names: dict[str, str] = field(default_factory=dict)


def require_places_admin(actor: User) -> None:
    """Refuse anyone who may not manage the places devices report from (the licensing authority)."""
    if not may(actor, Action.MANAGE_DEVICES):
        raise Forbidden(text("only the licensing authority manages checkpoints and zones"))


def _country(value: str) -> bool:
    return len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()


def _checkpoint_errors(session: Session, data: CheckpointInput, checkpoint_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.code or len(data.code) > 24 or not all(c.isalnum() or c in "-_" for c in data.code):
        errors["code"] = text("1-24 letters, digits, '-' or '_'")
    else:
        other = session.scalar(select(Checkpoint.id).where(Checkpoint.code == data.code))
        if other is not None and other != checkpoint_id:
            errors["code"] = text("this code is taken")
    if not data.name or len(data.name) > MAX_NAME_LENGTH:
        errors["name"] = text("1–{length} characters", length=MAX_NAME_LENGTH)
    if data.kind not in {k.value for k in CheckpointKind}:
        errors["kind"] = text("choose a kind")
    if not _country(data.country):
        errors["country"] = text("an ISO 3166 alpha-2 code, e.g. KG")
    if data.neighbour_country and not _country(data.neighbour_country):
        errors["neighbour_country"] = text("an ISO 3166 alpha-2 code, or empty")
    if not (math.isfinite(data.lat) and -90 <= data.lat <= 90):
        errors["lat"] = text("latitude between -90 and 90")
    if not (math.isfinite(data.lon) and -180 <= data.lon <= 180):
        errors["lon"] = text("longitude between -180 and 180")
    if not 1 <= data.radius_m <= 50_000:
        errors["radius_m"] = text("1–50000 metres")
    return errors | name_errors(data.names)


def save_checkpoint(session: Session, actor: User, data: CheckpointInput,
                    checkpoint_id: int | None = None) -> Checkpoint:
    """Add a checkpoint, or change the one ``checkpoint_id``; report every bad field at once."""
    require_places_admin(actor)
    data.code, data.name = data.code.strip().upper(), data.name.strip()
    data.country, data.neighbour_country = data.country.strip().upper(), data.neighbour_country.strip().upper()
    data.names = cleaned_names(data.names)
    checkpoint = find_checkpoint(session, checkpoint_id) if checkpoint_id is not None else Checkpoint()
    errors = _checkpoint_errors(session, data, checkpoint_id)
    if errors:
        raise ValidationFailed(errors)
    checkpoint.code, checkpoint.name, checkpoint.kind = data.code, data.name, CheckpointKind(data.kind)
    checkpoint.country, checkpoint.neighbour_country = data.country, data.neighbour_country or None
    checkpoint.lat, checkpoint.lon, checkpoint.radius_m = data.lat, data.lon, data.radius_m
    checkpoint.names = data.names
    session.add(checkpoint)
    session.flush()
    return checkpoint


def find_checkpoint(session: Session, checkpoint_id: int) -> Checkpoint:
    """Return the checkpoint, or raise NotFound."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise NotFound(text("no checkpoint {checkpoint_id}", checkpoint_id=checkpoint_id))
    return checkpoint


def _depth(value: Any, limit: int) -> int:
    """Return how deeply ``value`` nests, stopping early once past ``limit``."""
    if limit < 0 or not isinstance(value, (list, dict)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _geometry(document: Any) -> Any:
    """Return the one geometry of a Feature, a one-feature FeatureCollection or a bare geometry."""
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise ValueError(text("give exactly one polygon"))
        document = features[0]
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict) or document.get("type") != "Polygon":
        raise ValueError(text("the geometry must be a GeoJSON Polygon"))
    return document


def _position(value: Any) -> tuple[float, float]:
    """Return a GeoJSON position's (longitude, latitude), or raise ValueError."""
    if (not isinstance(value, list) or len(value) not in (2, 3)
            or not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in value)):
        raise ValueError(text("each position is [longitude, latitude] in numbers"))
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(text("positions must be [longitude, latitude] on the globe"))
    return lon, lat


def _rings(coordinates: Any) -> list[list[tuple[float, float]]]:
    """Return a Polygon's rings as positions, or raise ValueError saying what is wrong."""
    if (not isinstance(coordinates, list) or not coordinates
            or not all(isinstance(ring, list) and len(ring) >= 4 for ring in coordinates)):
        raise ValueError(text("a polygon is a list of closed rings of at least 4 positions"))
    if sum(len(ring) for ring in coordinates) > MAX_POLYGON_POINTS:
        raise ValueError(text("a polygon may have at most {count} positions", count=MAX_POLYGON_POINTS))
    rings = [[_position(p) for p in ring] for ring in coordinates]
    if any(ring[0] != ring[-1] for ring in rings):
        raise ValueError(text("each ring must end where it starts"))
    return rings


def polygon_from_geojson(document_text: str | bytes) -> Polygon:
    """Read a GeoJSON Polygon (lon/lat) from text a person supplied, or raise ValueError saying why."""
    size = len(document_text.encode("utf-8")) if isinstance(document_text, str) else len(document_text)
    if size > MAX_GEOJSON_BYTES:
        raise ValueError(text("the GeoJSON may be at most {size} KiB", size=MAX_GEOJSON_BYTES // 1024))
    try:
        document = json.loads(document_text)
    except RecursionError:
        raise ValueError(text("the JSON nests too deeply")) from None
    except ValueError:
        raise ValueError(text("not valid JSON")) from None
    if _depth(document, MAX_GEOJSON_DEPTH) > MAX_GEOJSON_DEPTH:
        raise ValueError(text("the JSON nests too deeply"))
    shell, *holes = _rings(_geometry(document).get("coordinates"))
    polygon = Polygon(shell, holes)
    if not polygon.is_valid or polygon.area == 0:
        raise ValueError(text("the polygon is not valid (its edges cross, or it has no area)"))
    return polygon


def add_zone(session: Session, actor: User, name: str, kind: str, geojson: str | bytes) -> Zone:
    """Add a zone that applies to every declaration; report every bad field at once."""
    require_places_admin(actor)
    errors: dict[str, str] = {}
    if not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        errors["name"] = text("1–{length} characters", length=MAX_NAME_LENGTH)
    if kind not in {k.value for k in ZoneKind}:
        errors["kind"] = text("choose a kind")
    polygon = None
    try:
        polygon = polygon_from_geojson(geojson)
    except ValueError as exc:
        errors["geojson"] = exc.args[0]
    if errors or polygon is None:
        raise ValidationFailed(errors)
    zone = Zone(name=name.strip(), kind=ZoneKind(kind), polygon=polygon)
    session.add(zone)
    session.flush()
    return zone


def delete_zone(session: Session, actor: User, zone_id: int) -> Zone:
    """Delete a zone that applies to every declaration (a declaration's own zones stay with it)."""
    require_places_admin(actor)
    zone = session.get(Zone, zone_id)
    if zone is None or zone.declaration_id is not None:
        raise NotFound(text("no zone {zone_id}", zone_id=zone_id))
    session.delete(zone)
    session.flush()
    return zone


def general_zones(session: Session) -> list[Zone]:
    """Return the zones that apply to every declaration, by name."""
    return list(session.scalars(select(Zone).where(Zone.declaration_id.is_(None)).order_by(Zone.name)))


def places_geojson(session: Session) -> dict[str, Any]:
    """Return every checkpoint (point) and general zone (polygon) as a FeatureCollection for maps."""
    checkpoints = session.scalars(select(Checkpoint).order_by(Checkpoint.code))
    return geojson.collection([*map(geojson.checkpoint_feature, checkpoints),
                               *map(geojson.zone_feature, general_zones(session))])
