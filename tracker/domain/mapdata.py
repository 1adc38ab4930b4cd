"""A declaration on the map: its route, corridor, track, alerts, custody events, checkpoints and zones.

The result is a GeoJSON FeatureCollection built by ``tracker.domain.geojson`` (the same
layers and property names as the exports); the portal adds the words for its popups.
Long tracks are thinned for the browser: the first and last fixes and every fix outside
the corridor are kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from tracker.domain import geojson
from tracker.domain.exports.track import located_alerts, places
from tracker.domain.geojson import Feature, feature, utc
from tracker.domain.route_geometry import corridor_outline, inside
from tracker.domain.last_position import may_be_last
from tracker.models import CustodyEvent, Declaration, Position, Zone

#: A track longer than this is thinned (a browser draws a few thousand vertices smoothly).
MAX_TRACK_POINTS = 2_000
#: How far around the corridor a shared zone still concerns the declaration (degrees, about 5 km).
ZONE_MARGIN_DEG = 0.05


@dataclass(frozen=True)
class Fix:
    """One position of the track as the map needs it."""

    at: datetime
    lon: float
    lat: float


def track_of(session: Session, declaration: Declaration) -> list[Fix]:
    """Return the declaration's positions in fix-time order, without fixes from the future.

    The track's end is the declaration's last position (``tracker.domain.last_position``).
    """
    rows = session.execute(
        select(Position.fix_time, Position.lon, Position.lat)
        .where(Position.declaration_id == declaration.id, may_be_last())
        .order_by(Position.fix_time, Position.id)
    ).all()
    return [Fix(at, lon, lat) for at, lon, lat in rows]


def thin(track: Sequence[Fix], outline: Polygon | None, limit: int = MAX_TRACK_POINTS) -> list[Fix]:
    """Return at most about ``limit`` fixes: first, last, every excursion, and an even sample between."""
    if len(track) <= limit:
        return list(track)
    keep = np.zeros(len(track), dtype=bool)
    keep[:: math.ceil(len(track) / limit)] = True
    keep[[0, -1]] = True
    if outline is not None:
        lon = np.fromiter((f.lon for f in track), float, len(track))
        lat = np.fromiter((f.lat for f in track), float, len(track))
        keep |= excursions(~inside(outline, lon, lat), limit)
    return [fix for fix, kept in zip(track, keep) if kept]


def excursions(outside: NDArray[np.bool_], limit: int) -> NDArray[np.bool_]:
    """Return which fixes off the corridor to keep: all of them, or, beyond ``limit``,
    where each excursion leaves and rejoins and an even sample between."""
    if outside.sum() <= limit:
        return outside
    before = np.concatenate([[False], outside[:-1]])
    after = np.concatenate([outside[1:], [False]])
    edges = outside & ~(before & after)
    sample = np.zeros_like(outside)
    sample[np.flatnonzero(outside)[:: math.ceil(outside.sum() / limit)]] = True
    return edges | sample


def track_feature(declaration: Declaration, track: Sequence[Fix], outline: Polygon | None) -> Feature | None:
    """Return the track as a line (thinned), or None with fewer than two fixes."""
    if len(track) < 2:
        return None
    shown = thin(track, outline)
    properties = geojson.track_properties(declaration, len(track), track[0].at, track[-1].at, len(shown))
    return feature("track", LineString([(f.lon, f.lat) for f in shown]), "track", **properties)


def custody_features(session: Session, declaration: Declaration) -> list[Feature]:
    """Return the declaration's custody events as points (where scanned, else at the checkpoint).

    The scans of one kind at one place (the flasks of a truck at a gate) share one point
    that lists each container.
    """
    events = session.scalars(
        select(CustodyEvent).where(CustodyEvent.declaration_id == declaration.id)
        .options(selectinload(CustodyEvent.container), selectinload(CustodyEvent.checkpoint))
        .order_by(CustodyEvent.event_time, CustodyEvent.id)
    ).all()
    places: dict[tuple[str, int, float, float], list[CustodyEvent]] = {}
    for e in events:
        lon = e.lon if e.lon is not None else e.checkpoint.lon
        lat = e.lat if e.lat is not None else e.checkpoint.lat
        places.setdefault((e.kind.value, e.checkpoint_id, lon, lat), []).append(e)
    return [feature(
        "custody", Point(lon, lat), f"custody-{scans[0].id}", kind=kind, event_time=utc(scans[0].event_time),
        last_event_time=utc(scans[-1].event_time), checkpoint=scans[0].checkpoint.code,
        checkpoint_name=scans[0].checkpoint.name,
        checkpoint_names=dict(scans[0].checkpoint.names or {}), seal_intact=all(e.seal_intact for e in scans),
        containers=[{"sscc": e.sscc, "seal_intact": e.seal_intact, "measured_net_g": e.measured_net_g,
                     "event_time": utc(e.event_time)} for e in scans],
    ) for (kind, _checkpoint, lon, lat), scans in places.items()]


def place_features(declaration: Declaration) -> list[Feature]:
    """Return the origin, the expected checkpoints, the destination and the authorised stops."""
    return [geojson.place_feature(place, n) for n, place in enumerate(places(declaration))]


def zone_features(session: Session, declaration: Declaration, near: BaseGeometry | None) -> list[Feature]:
    """Return the zones of the declaration and the shared zones near its corridor."""
    zones = session.scalars(
        select(Zone).where(or_(Zone.declaration_id == declaration.id, Zone.declaration_id.is_(None)))
        .order_by(Zone.id)
    ).all()
    area = near.buffer(ZONE_MARGIN_DEG) if near is not None else None
    return [geojson.zone_feature(z) for z in zones
            if z.declaration_id == declaration.id or (area is not None and z.polygon.intersects(area))]


def declaration_map(session: Session, declaration: Declaration) -> dict[str, Any]:
    """Return the declaration's map as a GeoJSON FeatureCollection (see the module docstring)."""
    outline = corridor_outline(declaration)
    features: list[Feature] = []
    route = geojson.route_feature(declaration)
    if outline is not None and route is not None:
        features += [geojson.corridor_feature(declaration, outline), route]
    features.extend(zone_features(session, declaration, outline))
    features.extend(place_features(declaration))
    track = track_feature(declaration, track_of(session, declaration), outline)
    if track is not None:
        features.append(track)
    features.extend(custody_features(session, declaration))
    features.extend(geojson.alert_feature(a) for a in located_alerts(session, declaration))
    return geojson.collection(features)
