"""KML 2.2 (OGC): a declaration's corridor, route, places, track and alerts as placemarks.

Plain OGC elements only (no Google gx: extensions), so any GIS reads it. The track is
one LineString whose coordinates are written as the fixes are read, with a TimeSpan
of its first and last fix.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

from shapely.geometry import LineString, Polygon
from shapely.geometry.polygon import orient
from sqlalchemy.orm import Session

from tracker.domain.route_geometry import corridor_outline
from tracker.domain.exports import Period, chunked, coord, utc_text
from tracker.domain.exports.track import located_alerts, places, track, track_span
from tracker.models import Declaration

MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
STYLES = (
    ("corridor", "<LineStyle><color>ff00a5ff</color><width>1</width></LineStyle>"
                 "<PolyStyle><color>4000a5ff</color></PolyStyle>"),
    ("route", "<LineStyle><color>ffff0000</color><width>2</width></LineStyle>"),
    ("track", "<LineStyle><color>ff0000ff</color><width>3</width></LineStyle>"),
    ("place", "<IconStyle><scale>1.0</scale></IconStyle>"),
    ("alert", "<IconStyle><color>ff0000ff</color><scale>1.2</scale></IconStyle>"),
)


def _coordinates(points: Iterable[Sequence[float]]) -> str:
    return " ".join(f"{coord(lon)},{coord(lat)}" for lon, lat, *_ in points)


def _placemark(name: str, style: str, geometry: str, description: str = "", when: str = "") -> str:
    """Return a placemark with its children in the order the KML 2.2 schema requires."""
    text = f"<description>{escape(description)}</description>" if description else ""
    time = f"<TimeStamp><when>{when}</when></TimeStamp>" if when else ""
    return f"<Placemark><name>{escape(name)}</name>{text}{time}<styleUrl>#{style}</styleUrl>{geometry}</Placemark>\n"


def _line(route: LineString) -> str:
    return f"<LineString><tessellate>1</tessellate><coordinates>{_coordinates(route.coords)}</coordinates></LineString>"


def _polygon(outline: Polygon) -> str:
    outline = orient(outline, 1.0)
    return (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_coordinates(outline.exterior.coords)}"
            "</coordinates></LinearRing></outerBoundaryIs></Polygon>")


def _point(lon: float, lat: float) -> str:
    return f"<Point><coordinates>{coord(lon)},{coord(lat)}</coordinates></Point>"


def _plan(declaration: Declaration) -> Iterator[str]:
    if declaration.route is not None:
        outline = corridor_outline(declaration)
        yield _placemark(f"Corridor {declaration.corridor_m} m", "corridor", _polygon(outline))
        yield _placemark("Planned route", "route", _line(declaration.route))
    for place in places(declaration):
        yield _placemark(place.code, "place", _point(place.lon, place.lat), f"{place.role}: {place.name}")


def _track(session: Session, declaration: Declaration, period: Period | None) -> Iterator[str]:
    span = track_span(session, declaration, period)
    if span.fixes < 2:
        return
    yield (f"<Placemark><name>Beacon track</name><description>{span.fixes} fixes</description>"
           f"<TimeSpan><begin>{utc_text(span.first)}</begin><end>{utc_text(span.last)}</end></TimeSpan>"
           "<styleUrl>#track</styleUrl><LineString><tessellate>1</tessellate><coordinates>")
    for fix in track(session, declaration, period):
        yield f"{coord(fix.lon)},{coord(fix.lat)} "
    yield "</coordinates></LineString></Placemark>\n"


def declaration_kml(session: Session, declaration: Declaration, period: Period | None = None) -> Iterator[str]:
    """Yield the KML document of the declaration."""
    def pieces() -> Iterator[str]:
        yield ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
               f"<Document><name>{escape(declaration.label)}</name>\n")
        yield "".join(f'<Style id="{name}">{body}</Style>\n' for name, body in STYLES)
        yield from _plan(declaration)
        yield from _track(session, declaration, period)
        for alert in located_alerts(session, declaration):
            yield _placemark(f"{alert.kind} #{alert.id}", "alert", _point(alert.lon or 0.0, alert.lat or 0.0),
                             f"{alert.severity.value}, {alert.status.value}", utc_text(alert.opened_at))
        yield "</Document>\n</kml>\n"

    return chunked(pieces())
