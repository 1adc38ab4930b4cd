"""The route-compliance report of one declaration as a one-page A4 PDF, with a map drawn here.

The caller (the portal) words everything in the user's language and hands over a
:class:`Sheet`; this module only lays it out: a header, the key figures, a map (corridor,
route, track, alerts, checkpoints in a lon/lat frame scaled by the cosine of the latitude,
with a scale bar; no tiles), and the tables, each cut to the rows that fit with a line
saying how many more there are. Text is set in DejaVu Sans so Cyrillic shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

#: Where Debian's fonts-dejavu-core puts the fonts (a TTF with Cyrillic is required for Russian).
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
#: The most track points drawn on the page's map (more adds bytes, not detail).
MAP_TRACK_POINTS = 2_000
EARTH_RADIUS_M = 6_371_008.8
MARGIN = 34.0
SMALL, NORMAL, TITLE = 7.0, 8.0, 13.0
ROW = 9.6

INK = HexColor("#1b1f24")
MUTED = HexColor("#5b6570")
RULE = HexColor("#c9d1d9")
COLOURS = {"corridor": HexColor("#d8ecd8"), "corridor_edge": HexColor("#6aa86a"), "route": HexColor("#1f5fbf"),
           "track": HexColor("#c2410c"), "alert": HexColor("#d4a017"), "checkpoint": HexColor("#333333")}


@dataclass(frozen=True)
class Table:
    """A table of the report: a title, column headings with their share of the width, rows of words."""

    title: str
    columns: tuple[str, ...]
    widths: tuple[float, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str
    max_rows: int = 6                        # rows it may always show; more when the page has room
    marked: frozenset[int] = frozenset()   # row numbers to set in bold (out of order, beyond tolerance)


@dataclass(frozen=True)
class MapPicture:
    """What the page's map shows, in longitude/latitude."""

    corridor: BaseGeometry | None = None
    route: LineString | None = None
    track: Sequence[tuple[float, float]] = ()
    alerts: Sequence[tuple[float, float]] = ()
    checkpoints: Sequence[tuple[float, float, str]] = ()
    legend: Sequence[tuple[str, str]] = ()  # (layer, words)
    empty: str = ""


@dataclass(frozen=True)
class Sheet:
    """Everything the page says, already worded in the reader's language."""

    title: str
    header: tuple[tuple[str, str], ...]
    figures: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]
    picture: MapPicture
    more: Callable[[int], str]             # "and 3 more"
    distance: Callable[[float], str]       # the scale bar's words for a distance in metres
    footer: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def evenly_spaced(count: int, limit: int) -> NDArray[np.int64]:
    """Return at most ``limit`` indices into ``count`` items: the first, the last and an even spread."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max(limit, 2)).round().astype(np.int64))


def register_fonts() -> bool:
    """Register DejaVu Sans (regular and bold) once; tell whether it is there."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return True
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont(FONT, str(regular)))
            pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
            return True
    return False


class Page:
    """A canvas with the page's fonts and a cursor running down from the top."""

    def __init__(self, canvas: Canvas, unicode_fonts: bool) -> None:
        self.c = canvas
        self.regular, self.bold = (FONT, BOLD) if unicode_fonts else ("Helvetica", "Helvetica-Bold")
        self.width, self.height = A4
        self.y = self.height - MARGIN

    def text(self, x: float, y: float, words: str, size: float = NORMAL, bold: bool = False,
             width: float | None = None, colour: Color = INK) -> None:
        font = self.bold if bold else self.regular
        if width is not None:
            words = self.clip(words, font, size, width)
        self.c.setFont(font, size)
        self.c.setFillColor(colour)
        self.c.drawString(x, y, words)

    def clip(self, words: str, font: str, size: float, width: float) -> str:
        """Return ``words`` cut with an ellipsis to fit ``width``."""
        if pdfmetrics.stringWidth(words, font, size) <= width:
            return words
        while words and pdfmetrics.stringWidth(words + "…", font, size) > width:
            words = words[:-1]
        return words + "…"

    def lines(self, words: str, size: float, width: float, most: int) -> list[str]:
        """Return ``words`` broken into at most ``most`` lines of ``width`` (the last one cut if need be)."""
        lines: list[str] = []
        for word in words.split():
            if lines and pdfmetrics.stringWidth(f"{lines[-1]} {word}", self.regular, size) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) > most:
            lines = lines[:most - 1] + [" ".join(lines[most - 1:])]
        return [self.clip(line, self.regular, size, width) for line in lines] or [""]

    def fitting(self, words: str, size: float, width: float, smallest: float = 7.0) -> float:
        """Return the largest font size up to ``size`` at which bold ``words`` fit ``width``."""
        while size > smallest and pdfmetrics.stringWidth(words, self.bold, size) > width:
            size -= 0.5
        return size

    def rule(self, x0: float, x1: float, y: float) -> None:
        self.c.setStrokeColor(RULE)
        self.c.setLineWidth(0.5)
        self.c.line(x0, y, x1, y)


def render(sheet: Sheet) -> bytes:
    """Return the one-page PDF of ``sheet``."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(sheet.metadata.get("title", sheet.title))
    canvas.setAuthor(sheet.metadata.get("author", ""))
    canvas.setSubject(sheet.metadata.get("subject", ""))
    page = Page(canvas, register_fonts())
    _title(page, sheet.title)
    top = page.y
    left_width = (page.width - 2 * MARGIN) * 0.5
    bottom_left = _facts(page, sheet, left_width)
    frame = (MARGIN + left_width + 10, 0.0, page.width - 2 * MARGIN - left_width - 10, 0.0)
    map_height = max(top - bottom_left, 230.0)
    draw_map(page, sheet.picture, sheet.distance, frame[0], top - map_height, frame[2], map_height)
    page.y = min(bottom_left, top - map_height - _legend(page, sheet.picture, frame[0], top - map_height, frame[2]))
    for table, rows in zip(sheet.tables, share_rows(sheet.tables, page.y - MARGIN + 6)):
        _table(page, table, rows, sheet.more)
    if sheet.footer:
        page.text(MARGIN, MARGIN - 14, sheet.footer, SMALL, colour=MUTED, width=page.width - 2 * MARGIN)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _title(page: Page, words: str) -> None:
    page.text(MARGIN, page.y - TITLE, words, TITLE, bold=True, width=page.width - 2 * MARGIN)
    page.y -= TITLE + 6
    page.rule(MARGIN, page.width - MARGIN, page.y)
    page.y -= 6


def _facts(page: Page, sheet: Sheet, width: float) -> float:
    """Write the header facts and the key figures in the left column; return where they end."""
    y = page.y
    key = width * 0.4
    for name, value in sheet.header:
        y -= ROW
        page.text(MARGIN, y, name, SMALL, colour=MUTED, width=key - 4)
        for n, line in enumerate(page.lines(value, SMALL, width - key, 3)):
            y -= (ROW - 1) if n else 0
            page.text(MARGIN + key, y, line, SMALL)
    y -= 8
    page.rule(MARGIN, MARGIN + width, y)
    columns, box_h = 2, 30.0
    box_w = width / columns
    for i, (name, value) in enumerate(sheet.figures):
        if i % columns == 0:
            y -= box_h
        x = MARGIN + (i % columns) * box_w
        page.text(x, y + 17, value, page.fitting(value, 10.5, box_w - 8), bold=True, width=box_w - 8)
        for n, line in enumerate(page.lines(name, SMALL - 1, box_w - 8, 2)):
            page.text(x, y + 9 - n * 7, line, SMALL - 1, colour=MUTED)
    return y - 4


def _legend(page: Page, picture: MapPicture, x: float, y: float, width: float) -> float:
    """Write the map's legend under it; return the height used below ``y``."""
    cx, cy = x, y - 10
    for layer, words in picture.legend:
        w = pdfmetrics.stringWidth(words, page.regular, SMALL) + 22
        if cx + w > x + width:
            cx, cy = x, cy - 10
        _swatch(page.c, layer, cx + 5, cy + 2.5)
        page.text(cx + 12, cy, words, SMALL)
        cx += w
    return y - cy + 8


def _swatch(c: Canvas, layer: str, x: float, y: float) -> None:
    c.saveState()
    if layer == "corridor":
        c.setFillColor(COLOURS["corridor"])
        c.setStrokeColor(COLOURS["corridor_edge"])
        c.rect(x - 4, y - 3, 8, 6, stroke=1, fill=1)
    elif layer in ("route", "track"):
        c.setStrokeColor(COLOURS[layer])
        c.setLineWidth(1.4)
        if layer == "route":
            c.setDash(3, 2)
        c.line(x - 5, y, x + 5, y)
    elif layer == "alert":
        _diamond(c, x, y, 3.5)
    elif layer == "checkpoint":
        _square(c, x, y, 3)
    c.restoreState()


def _diamond(c: Canvas, x: float, y: float, r: float) -> None:
    c.setFillColor(COLOURS["alert"])
    c.setStrokeColor(INK)
    c.setLineWidth(0.4)
    path = c.beginPath()
    path.moveTo(x, y + r)
    path.lineTo(x + r, y)
    path.lineTo(x, y - r)
    path.lineTo(x - r, y)
    path.close()
    c.drawPath(path, stroke=1, fill=1)


def _square(c: Canvas, x: float, y: float, r: float) -> None:
    c.setFillColor(HexColor("#ffffff"))
    c.setStrokeColor(COLOURS["checkpoint"])
    c.setLineWidth(1)
    c.rect(x - r, y - r, 2 * r, 2 * r, stroke=1, fill=1)


# ---------------------------------------------------------------- the map
@dataclass(frozen=True)
class Frame:
    """Longitude/latitude to page points: equirectangular about the middle latitude, fitted to a box."""

    lon0: float
    lat0: float
    metres_per_point: float
    x0: float
    y0: float
    cos_lat: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        east = math.radians(lon - self.lon0) * EARTH_RADIUS_M * self.cos_lat
        north = math.radians(lat - self.lat0) * EARTH_RADIUS_M
        return self.x0 + east / self.metres_per_point, self.y0 + north / self.metres_per_point


def fit_frame(bounds: tuple[float, float, float, float], x: float, y: float, width: float, height: float,
              pad: float = 18.0) -> Frame:
    """Return the frame that shows ``bounds`` (min lon, min lat, max lon, max lat) centred in the box."""
    min_lon, min_lat, max_lon, max_lat = bounds
    lat0, lon0 = (min_lat + max_lat) / 2, (min_lon + max_lon) / 2
    cos_lat = math.cos(math.radians(lat0))
    span_e = max(math.radians(max_lon - min_lon) * EARTH_RADIUS_M * cos_lat, 200.0)
    span_n = max(math.radians(max_lat - min_lat) * EARTH_RADIUS_M, 200.0)
    scale = max(span_e / (width - 2 * pad), span_n / (height - 2 * pad))
    return Frame(lon0, lat0, scale, x + width / 2, y + height / 2, cos_lat)


def nice_length(metres: float) -> float:
    """Return the round length (1, 2 or 5 times a power of ten) at most ``metres``."""
    power = 10 ** math.floor(math.log10(max(metres, 1.0)))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def _bounds(picture: MapPicture) -> tuple[float, float, float, float] | None:
    lons: list[float] = []
    lats: list[float] = []
    for geometry in (picture.corridor, picture.route):
        if geometry is not None and not geometry.is_empty:
            a, b, c, d = geometry.bounds
            lons += [a, c]
            lats += [b, d]
    points = list(picture.track) + list(picture.alerts) + [(p[0], p[1]) for p in picture.checkpoints]
    lons += [p[0] for p in points]
    lats += [p[1] for p in points]
    if not lons:
        return None
    return min(lons), min(lats), max(lons), max(lats)


def draw_map(page: Page, picture: MapPicture, distance: Callable[[float], str], x: float, y: float,
             width: float, height: float) -> None:
    """Draw the map in the box (x, y, width, height): corridor, route, track, alerts, checkpoints, scale."""
    c = page.c
    c.saveState()
    c.setFillColor(HexColor("#f7f8fa"))
    c.setStrokeColor(RULE)
    c.rect(x, y, width, height, stroke=1, fill=1)
    bounds = _bounds(picture)
    if bounds is None:
        page.text(x + 8, y + height / 2, picture.empty, SMALL, colour=MUTED, width=width - 16)
        c.restoreState()
        return
    clip = c.beginPath()
    clip.rect(x, y, width, height)
    c.clipPath(clip, stroke=0, fill=0)
    frame = fit_frame(bounds, x, y, width, height)
    _polygons(c, frame, picture.corridor)
    if picture.track:
        keep = evenly_spaced(len(picture.track), MAP_TRACK_POINTS)
        _line(c, frame, [picture.track[i] for i in keep], COLOURS["track"], 2.2)
    if picture.route is not None:
        _line(c, frame, list(picture.route.coords), COLOURS["route"], 0.8, dash=(3, 2))
    for lon, lat, code in picture.checkpoints:
        px, py = frame.xy(lon, lat)
        _square(c, px, py, 3)
        label_width = pdfmetrics.stringWidth(code, page.regular, SMALL - 1)
        left = px + 5 if px + 5 + label_width < x + width - 4 else px - 5 - label_width
        page.text(left, py + 3, code, SMALL - 1)
    for lon, lat in picture.alerts:
        _diamond(c, *frame.xy(lon, lat), 4)
    c.restoreState()
    _scale_bar(page, frame, distance, x, y, width)
    page.text(x + width - 16, y + 8, "N ↑", SMALL, bold=True)


def _polygons(c: Canvas, frame: Frame, geometry: BaseGeometry | None) -> None:
    if geometry is None or geometry.is_empty:
        return
    parts = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    c.setFillColor(COLOURS["corridor"])
    c.setStrokeColor(COLOURS["corridor_edge"])
    c.setLineWidth(0.5)
    for part in parts:
        if not isinstance(part, Polygon):
            continue
        path = c.beginPath()
        for ring in (part.exterior, *part.interiors):
            coords = [frame.xy(lon, lat) for lon, lat in ring.coords]
            path.moveTo(*coords[0])
            for point in coords[1:]:
                path.lineTo(*point)
            path.close()
        c.drawPath(path, stroke=1, fill=1, fillMode=0)


def _line(c: Canvas, frame: Frame, coords: Sequence[tuple[float, ...]], colour: Color, width: float,
          dash: tuple[float, float] | None = None) -> None:
    if len(coords) < 2:
        return
    c.saveState()
    c.setStrokeColor(colour)
    c.setLineWidth(width)
    c.setLineJoin(1)
    if dash:
        c.setDash(*dash)
    path = c.beginPath()
    path.moveTo(*frame.xy(coords[0][0], coords[0][1]))
    for point in coords[1:]:
        path.lineTo(*frame.xy(point[0], point[1]))
    c.drawPath(path, stroke=1, fill=0)
    c.restoreState()


def _scale_bar(page: Page, frame: Frame, distance: Callable[[float], str], x: float, y: float,
               width: float) -> None:
    metres = nice_length(width * 0.3 * frame.metres_per_point)
    length = metres / frame.metres_per_point
    c = page.c
    c.saveState()
    c.setStrokeColor(INK)
    c.setLineWidth(1.2)
    c.line(x + 8, y + 8, x + 8 + length, y + 8)
    c.line(x + 8, y + 5, x + 8, y + 11)
    c.line(x + 8 + length, y + 5, x + 8 + length, y + 11)
    c.restoreState()
    page.text(x + 8, y + 13, distance(metres), SMALL - 0.5)


# ---------------------------------------------------------------- tables
def _height(table: Table, rows: int) -> float:
    """Return the height a table takes with ``rows`` rows shown (a cut one adds the "and N more" line)."""
    if not table.rows:
        return 13 + ROW + 2
    cut = 1 if rows < len(table.rows) else 0
    return 13 + ROW + (rows + cut) * ROW + 2


def share_rows(tables: Sequence[Table], height: float) -> list[int]:
    """Return how many rows of each table to show in ``height``: each its ``max_rows`` first
    (a cut table's last place goes to "and N more"), then the room left to the tables in order."""
    rows = [min(len(t.rows), t.max_rows if len(t.rows) <= t.max_rows else t.max_rows - 1) for t in tables]
    spare = height - sum(_height(t, n) for t, n in zip(tables, rows))
    while spare < 0 and max(rows, default=0) > 1:     # too little room even for that: take from the longest
        i = rows.index(max(rows))
        before = _height(tables[i], rows[i])
        rows[i] -= 1
        spare += before - _height(tables[i], rows[i])
    for i, table in enumerate(tables):
        while rows[i] < len(table.rows) and spare >= ROW:
            before = _height(table, rows[i])
            rows[i] += 1
            spare -= _height(table, rows[i]) - before
    return rows


def _table(page: Page, table: Table, count: int, more: Callable[[int], str]) -> None:
    width = page.width - 2 * MARGIN
    page.y -= 13
    page.text(MARGIN, page.y, table.title, NORMAL + 0.5, bold=True, width=width)
    if not table.rows:
        page.y -= ROW
        page.text(MARGIN, page.y, table.empty, SMALL, colour=MUTED, width=width)
        page.y -= 2
        return
    lefts = [MARGIN + width * sum(table.widths[:i]) for i in range(len(table.columns))]
    page.y -= ROW
    for left, heading, share in zip(lefts, table.columns, table.widths):
        page.text(left, page.y, heading, SMALL, colour=MUTED, width=width * share - 4)
    page.rule(MARGIN, MARGIN + width, page.y - 2.5)
    shown = table.rows[:count]
    for number, row in enumerate(shown):
        page.y -= ROW
        for left, cell, share in zip(lefts, row, table.widths):
            page.text(left, page.y, cell, SMALL, bold=number in table.marked, width=width * share - 4)
    if len(shown) < len(table.rows):
        page.y -= ROW
        page.text(MARGIN, page.y, more(len(table.rows) - len(shown)), SMALL, colour=MUTED, width=width)
    page.y -= 2
