"""GPX 1.1: a declaration's places as waypoints, its planned route and its beacon track.

Written as text while the fixes are read (gpxpy would hold the whole track in memory);
tests read it back with gpxpy. Elements keep the order the GPX 1.1 schema requires.
"""
from __future__ import annotations

from typing import Any, Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy.orm import Session

from tracker.domain.exports import Period, chunked, coord, utc_text
from tracker.domain.exports.track import places, track
from tracker.models import Declaration, utcnow

MEDIA_TYPE = "application/gpx+xml"
CREATOR = "Mercury shipment tracking"


def _point_attrs(lat: float, lon: float) -> str:
    return f'lat="{coord(lat)}" lon="{coord(lon)}"'


def _trackpoint(fix: Any) -> str:
    parts = [f"<trkpt {_point_attrs(fix.lat, fix.lon)}>"]
    if fix.altitude_m is not None:
        parts.append(f"<ele>{fix.altitude_m:.1f}</ele>")
    parts.append(f"<time>{utc_text(fix.fix_time)}</time>")
    if fix.satellites is not None:
        parts.append(f"<sat>{int(fix.satellites)}</sat>")
    if fix.hdop is not None:
        parts.append(f"<hdop>{fix.hdop:.1f}</hdop>")
    parts.append("</trkpt>")
    return "".join(parts)


def _header(declaration: Declaration) -> Iterator[str]:
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<gpx version="1.1" creator={quoteattr(CREATOR)} xmlns="http://www.topografix.com/GPX/1/1">\n')
    yield (f"<metadata><name>{escape(declaration.label)}</name>"
           f"<desc>{escape(f'{declaration.origin.code} to {declaration.destination.code}')}</desc>"
           f"<time>{utc_text(utcnow())}</time></metadata>\n")
    for place in places(declaration):
        yield (f"<wpt {_point_attrs(place.lat, place.lon)}><name>{escape(place.code)}</name>"
               f"<desc>{escape(place.name)}</desc><type>{place.role}</type></wpt>\n")
    if declaration.route is not None:
        yield f"<rte><name>{escape(declaration.label)} planned route</name>"
        yield "".join(f"<rtept {_point_attrs(lat, lon)}/>" for lon, lat, *_ in declaration.route.coords)
        yield "</rte>\n"


def declaration_gpx(session: Session, declaration: Declaration, period: Period | None = None) -> Iterator[str]:
    """Yield the GPX document of the declaration; the track holds every fix, oldest first."""
    def pieces() -> Iterator[str]:
        yield from _header(declaration)
        yield f"<trk><name>{escape(declaration.label)}</name><type>beacon</type><trkseg>\n"
        for fix in track(session, declaration, period):
            yield _trackpoint(fix) + "\n"
        yield "</trkseg></trk>\n</gpx>\n"

    return chunked(pieces())
