"""Container labels: GS1-128 of the SSCC, a GS1 Digital Link QR code, UN 2809 class 8, net mass.

A label is laid out once, in millimetres, as a list of simple shapes; the same layout
is drawn as SVG (vector) or with Pillow (PNG, and PDF pages at 300 dpi), so every
output format shows the same label.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import barcode
import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from tracker.domain.gs1 import validate_sscc

#: Label size (a common 150 x 100 mm logistics label).
WIDTH_MM, HEIGHT_MM = 150.0, 100.0
#: GS1-128 X-dimension and bar height: inside the GS1 logistics label range (0.495-0.94 mm).
X_MM, BAR_HEIGHT_MM = 0.55, 22.0
QR_SIZE_MM = 38.0
DIGITAL_LINK_RESOLVER = "https://id.gs1.org"
RASTER_DPI = 300
SUFFIXES = (".pdf", ".svg", ".png")


@dataclass(frozen=True)
class Box:
    """A filled rectangle (mm)."""

    x: float
    y: float
    w: float
    h: float
    fill: str = "#000"


@dataclass(frozen=True)
class Text:
    """A line of text whose baseline-left corner is (x, y) in mm; ``size`` is its height in mm."""

    x: float
    y: float
    size: float
    text: str
    fill: str = "#000"
    middle: bool = False


@dataclass(frozen=True)
class Polygon:
    """A closed polygon (mm), filled and/or outlined."""

    points: tuple[tuple[float, float], ...]
    fill: str | None = None
    outline: str | None = None
    width: float = 0.8


Shape = Box | Text | Polygon


@dataclass(frozen=True)
class Label:
    """What one container's label says."""

    sscc: str
    net_g: int

    @property
    def digital_link(self) -> str:
        """The GS1 Digital Link URI of the SSCC (AI 00)."""
        return f"{DIGITAL_LINK_RESOLVER}/00/{self.sscc}"

    @property
    def human_readable(self) -> str:
        """The SSCC as printed under the bars: "(00) " and the 18 digits."""
        return f"(00) {self.sscc}"


def make_label(sscc: str, net_g: int) -> Label:
    """Return the label of a container; raise ValueError for a bad SSCC or mass."""
    validate_sscc(sscc)
    if isinstance(net_g, bool) or not isinstance(net_g, int) or net_g < 0:
        raise ValueError(f"net mass must be whole grams >= 0, got {net_g!r}")
    return Label(sscc=sscc, net_g=net_g)


def format_grams(grams: int) -> str:
    """Return a mass in whole grams with thousands grouped: "34 500 g"."""
    return f"{grams:,} g".replace(",", " ")


def gs1_128_modules(sscc: str) -> str:
    """Return the GS1-128 symbol of (00) SSCC as a string of bar (1) and space (0) modules."""
    return "".join(barcode.get("gs1_128", "00" + sscc).build())


def qr_modules(text: str) -> np.ndarray:
    """Return the QR code of ``text`` as a boolean matrix (True = dark module), no quiet zone."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    pixels = np.array(zxingcpp.write_barcode_to_image(symbol, scale=1, add_quiet_zones=False))
    return pixels < 128


def _bars(modules: str, x: float, y: float) -> list[Shape]:
    """Boxes for each run of dark modules, so adjacent bars are one rectangle."""
    shapes: list[Shape] = []
    start = None
    for i, module in enumerate(modules + "0"):
        if module == "1" and start is None:
            start = i
        elif module == "0" and start is not None:
            shapes.append(Box(x + start * X_MM, y, (i - start) * X_MM, BAR_HEIGHT_MM))
            start = None
    return shapes


def _matrix(dark: np.ndarray, x: float, y: float, size: float) -> list[Shape]:
    """Boxes for the dark modules of a 2D symbol drawn ``size`` mm wide."""
    module = size / dark.shape[1]
    return [Box(x + c * module, y + r * module, module, module) for r, c in zip(*np.nonzero(dark))]


def _class_8_diamond(cx: float, cy: float, half: float) -> list[Shape]:
    """The class 8 (corrosive) hazard diamond: white top, black bottom, "8" at the bottom corner."""
    top, right, bottom, left = (cx, cy - half), (cx + half, cy), (cx, cy + half), (cx - half, cy)
    return [
        Polygon((top, right, bottom, left), fill="#fff", outline="#000"),
        Polygon((left, right, bottom), fill="#000"),
        Text(cx, cy - half * 0.22, half * 0.17, "CORROSIVE", middle=True),
        Text(cx, cy + half * 0.72, half * 0.4, "8", fill="#fff", middle=True),
    ]


def layout(label: Label) -> list[Shape]:
    """Lay out one label in millimetres (origin top left)."""
    modules = gs1_128_modules(label.sscc)
    bars_x = (WIDTH_MM - len(modules) * X_MM) / 2
    shapes: list[Shape] = [Box(0, 0, WIDTH_MM, HEIGHT_MM, fill="#fff")]
    shapes += [Text(6, 13, 7.5, "UN 2809 MERCURY"), Text(6, 21, 4.2, "Class 8 \u00b7 ADR/RID")]
    shapes += [Text(6, 32, 4.2, "NET"), Text(6, 40, 6.5, format_grams(label.net_g))]
    shapes += [Text(6, 49, 3.6, "SSCC " + label.sscc)]
    shapes += _class_8_diamond(cx=86, cy=31, half=19)
    shapes += _matrix(qr_modules(label.digital_link), WIDTH_MM - 6 - QR_SIZE_MM, 8, QR_SIZE_MM)
    shapes += _bars(modules, bars_x, 60)
    shapes += [Text(WIDTH_MM / 2, 60 + BAR_HEIGHT_MM + 7, 5.0, label.human_readable, middle=True)]
    return shapes


# ---------------------------------------------------------------- SVG
def _svg_shape(shape: Shape, dy: float) -> str:
    if isinstance(shape, Box):
        return (f'<rect x="{shape.x:.3f}" y="{shape.y + dy:.3f}" width="{shape.w:.3f}" '
                f'height="{shape.h:.3f}" fill="{shape.fill}"/>')
    if isinstance(shape, Text):
        anchor = ' text-anchor="middle"' if shape.middle else ""
        return (f'<text x="{shape.x:.3f}" y="{shape.y + dy:.3f}" font-size="{shape.size:.2f}" '
                f'font-family="DejaVu Sans, Arial, sans-serif" font-weight="bold" fill="{shape.fill}"'
                f'{anchor}>{escape(shape.text)}</text>')
    points = " ".join(f"{x:.3f},{y + dy:.3f}" for x, y in shape.points)
    return (f'<polygon points="{points}" fill="{shape.fill or "none"}" '
            f'stroke="{shape.outline or "none"}" stroke-width="{shape.width}"/>')


def render_svg(labels: list[Label]) -> str:
    """Return one SVG document with the labels stacked top to bottom (sizes in mm)."""
    height = HEIGHT_MM * len(labels)
    body = [_svg_shape(shape, i * HEIGHT_MM) for i, label in enumerate(labels) for shape in layout(label)]
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
            f'width="{WIDTH_MM}mm" height="{height}mm" viewBox="0 0 {WIDTH_MM} {height}" '
            f'shape-rendering="crispEdges">\n' + "\n".join(body) + "\n</svg>\n")


# ---------------------------------------------------------------- raster
def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(size_px, 1))


def render_image(label: Label, dpi: int = RASTER_DPI) -> Image.Image:
    """Draw one label as a greyscale Pillow image at ``dpi``."""
    px = dpi / 25.4
    image = Image.new("L", (round(WIDTH_MM * px), round(HEIGHT_MM * px)), 255)
    draw = ImageDraw.Draw(image)
    for shape in layout(label):
        if isinstance(shape, Box):
            # Round both edges (not the width) so bars keep their module grid.
            x0, x1 = round(shape.x * px), round((shape.x + shape.w) * px)
            y0, y1 = round(shape.y * px), round((shape.y + shape.h) * px)
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=shape.fill)
        elif isinstance(shape, Text):
            anchor = "ms" if shape.middle else "ls"
            draw.text((shape.x * px, shape.y * px), shape.text, fill=shape.fill,
                      font=_font(round(shape.size * px)), anchor=anchor)
        else:
            draw.polygon([(x * px, y * px) for x, y in shape.points], fill=shape.fill,
                         outline=shape.outline, width=max(1, round(shape.width * px)))
    return image


def _stacked(images: list[Image.Image]) -> Image.Image:
    sheet = Image.new("L", (images[0].width, sum(i.height for i in images)), 255)
    for n, image in enumerate(images):
        sheet.paste(image, (0, n * images[0].height))
    return sheet


def render_labels(labels: list[Label], suffix: str) -> bytes:
    """Return ``labels`` as the bytes of a ``.pdf`` (one page each), ``.svg`` or ``.png`` (stacked) file."""
    suffix = suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"output must end in {', '.join(SUFFIXES)}, got {suffix!r}")
    if not labels:
        raise ValueError("no labels to write")
    if suffix == ".svg":
        return render_svg(labels).encode("utf-8")
    images, out = [render_image(label) for label in labels], io.BytesIO()
    if suffix == ".pdf":
        images[0].save(out, "PDF", resolution=RASTER_DPI, save_all=True, append_images=images[1:])
    else:
        _stacked(images).save(out, "PNG", dpi=(RASTER_DPI, RASTER_DPI))
    return out.getvalue()


def write_labels(labels: list[Label], out: Path) -> None:
    """Write ``labels`` to ``out``: PDF (one page each), SVG or PNG (stacked top to bottom).

    The file is written to a temporary name and renamed, so a failure leaves nothing half-written.
    """
    if out.suffix.lower() not in SUFFIXES:
        raise ValueError(f"output must end in {', '.join(SUFFIXES)}, got {out.name!r}")
    content = render_labels(labels, out.suffix)
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(content)
    partial.replace(out)
