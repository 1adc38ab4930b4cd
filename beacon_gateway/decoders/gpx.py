"""GPX upload of a device's log after a trip (GPX 1.0 and 1.1).

The file is first parsed with defusedxml, refusing any entity declaration and external
reference (so no external entity and no "billion laughs" expansion reaches gpxpy; a bare
DOCTYPE line is harmless and accepted), within ``MAX_GPX_BYTES``; gpxpy then reads it.
Track points and route points become positions (waypoints are marks, not a track, and are
ignored). A point without a time cannot be placed on the trip: it is skipped and reported as
a ``GpxProblem``, and so is a point with impossible coordinates; the rest of the file is used.
GPX times are UTC by the standard, so a time without a zone is taken as UTC. Each
position's ``raw`` is the point's own XML element.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator
from xml.etree.ElementTree import Element, tostring

import defusedxml.ElementTree as safe_xml
import gpxpy
import gpxpy.gpx
from defusedxml import DefusedXmlException

from beacon_gateway.position import DecodeError, Position

PROTOCOL = "gpx"   # not a beacon protocol: the origin of positions uploaded after the trip
MAX_GPX_BYTES = 20 * 1024 * 1024
MPS_TO_KMH = 3.6


@dataclass(frozen=True, slots=True)
class GpxProblem:
    """A point that was skipped, and why (``where`` counts from 1, in document order)."""

    where: str
    message: str


def decode_gpx(data: bytes, device_id: str) -> tuple[list[Position], list[GpxProblem]]:
    """Decode a GPX document into positions and the list of skipped points."""
    root = _safe_root(data)
    document = _gpxpy(data)
    elements = {"trkpt": list(_elements(root, "trkpt")), "rtept": list(_elements(root, "rtept"))}
    positions: list[Position] = []
    problems: list[GpxProblem] = []
    for kind, where, point in _points(document):
        raw_elements = elements[kind]
        raw = _raw(raw_elements.pop(0)) if raw_elements else b""
        try:
            positions.append(_position(device_id, point, raw, kind))
        except DecodeError as error:
            problems.append(GpxProblem(where, str(error)))
    return positions, problems


def _safe_root(data: bytes) -> Element:
    """Parse with defusedxml: bounded size, no entity declarations, no external references."""
    if len(data) > MAX_GPX_BYTES:
        raise DecodeError(f"GPX file larger than {MAX_GPX_BYTES} bytes")
    try:
        return safe_xml.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        reason = f"{type(error).__name__} (entities and external references are not allowed)"
        raise DecodeError(f"GPX file refused: {reason}") from None
    except safe_xml.ParseError as error:
        raise DecodeError(f"GPX file is not well-formed XML: {error}") from None


def _gpxpy(data: bytes) -> gpxpy.gpx.GPX:
    """Read the (already vetted) document with gpxpy."""
    try:
        return gpxpy.parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DecodeError("GPX file is not UTF-8") from None
    except (gpxpy.gpx.GPXException, ValueError) as error:
        raise DecodeError(f"GPX file does not parse: {error}") from None


def _elements(root: Element, name: str) -> Iterator[Element]:
    """Elements called ``name`` in document order, in any (or no) GPX namespace."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == name:
            yield element


def _raw(element: Element) -> bytes:
    """The point's own XML, without the whitespace that follows it in the file."""
    element.tail = None
    return tostring(element, encoding="utf-8", xml_declaration=False)


def _points(document: gpxpy.gpx.GPX) -> Iterator[tuple[str, str, gpxpy.gpx.GPXTrackPoint]]:
    """(kind, where, point) for every track point, then every route point."""
    for t, track in enumerate(document.tracks, start=1):
        for s, segment in enumerate(track.segments, start=1):
            for p, point in enumerate(segment.points, start=1):
                yield "trkpt", f"track {t} segment {s} point {p}", point
    for r, route in enumerate(document.routes, start=1):
        for p, point in enumerate(route.points, start=1):
            yield "rtept", f"route {r} point {p}", point


def _position(device_id: str, point: gpxpy.gpx.GPXTrackPoint, raw: bytes, kind: str) -> Position:
    """One point as a position, or DecodeError when it cannot be placed."""
    if point.time is None:
        raise DecodeError("no time: skipped")
    lat, lon = point.latitude, point.longitude
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DecodeError(f"coordinates out of range ({lat}, {lon}): skipped")
    speed = getattr(point, "speed", None)
    return Position(
        device_id=device_id, fix_time=_utc(point.time), lat=lat, lon=lon, protocol=PROTOCOL,
        raw=raw, speed_kmh=None if speed is None else abs(speed) * MPS_TO_KMH,
        course=_course(getattr(point, "course", None)), altitude_m=point.elevation,
        hdop=point.horizontal_dilution, satellites=point.satellites,
        valid=point.type_of_gpx_fix != "none", extra={"gpx": kind},
    )


def _utc(moment: datetime) -> datetime:
    """The time in UTC (GPX times without a zone are UTC by the standard)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:           # e.g. 0001-01-01T00:00:00+01:00
        raise DecodeError(f"time {moment.isoformat()} is out of range: skipped") from None


def _course(value: float | None) -> float | None:
    """GPX 1.0 course in degrees, normalised to 0..360."""
    return None if value is None else float(value) % 360
