"""Container labels: printed, then read back through the decoder and the GS1 parser."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner_app import decode
from scanner_app.cli import main
from scanner_app.labels import make_label, render_image
from scanner_app.station import ssccs_in
from tracker.domain.gs1 import make_sscc

from tests.scanner.tracker_server import LiveTracker

SSCC = make_sscc(3, "4700001", 20457)


@pytest.fixture(scope="module")
def label_pixels() -> np.ndarray:
    """One label drawn at 300 dpi, greyscale."""
    return np.array(render_image(make_label(SSCC, 34_500)))


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate ``image`` on a white background large enough to keep every corner."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), borderValue=255)


def photographed(image: np.ndarray, scale: float, degrees: float, blur: float, quality: int) -> bytes:
    """Scale, rotate, blur and JPEG-compress a label the way a poor camera would."""
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    image = rotated(image, degrees)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return jpeg.tobytes()


# scale 0.4 is 120 dpi (about 2.6 pixels per bar module); 30 degrees is a phone held askew.
@pytest.mark.parametrize("scale", [0.4, 0.7, 1.0])
@pytest.mark.parametrize("degrees", [0, 8, 30, 90, 180])
@pytest.mark.parametrize("blur,quality", [(0, 90), (1.5, 40), (2.0, 15)])
def test_printed_label_reads_back_as_exactly_its_sscc(label_pixels: np.ndarray, scale: float, degrees: float,
                                                      blur: float, quality: int) -> None:
    codes = decode(photographed(label_pixels, scale, degrees, blur, quality))
    assert ssccs_in(codes) == {SSCC}


@pytest.mark.parametrize("scale,blur,quality", [(0.5, 0, 90), (1.0, 1.0, 50), (0.7, 1.5, 30)])
def test_both_the_gs1_128_and_the_digital_link_carry_the_sscc(label_pixels: np.ndarray, scale: float,
                                                              blur: float, quality: int) -> None:
    codes = decode(photographed(label_pixels, scale, 0, blur, quality))
    by_format = {code.format: ssccs_in([code]) for code in codes}
    assert by_format == {"Code128": {SSCC}, "QRCode": {SSCC}}
    assert {code.text for code in codes} >= {f"https://id.gs1.org/00/{SSCC}"}


def test_tiny_low_quality_photo_still_gives_only_the_right_sscc(label_pixels: np.ndarray) -> None:
    codes = decode(photographed(label_pixels, 0.25, 0, 1.0, 15))
    assert ssccs_in(codes) == {SSCC}


def _svg_rects_drawn(svg: Path, px_per_mm: float = 8.0) -> np.ndarray:
    """Draw the black rectangles of an SVG label sheet (the bars and QR modules) as pixels."""
    root = ET.parse(svg).getroot()
    width, height = (float(v) for v in root.get("viewBox", "").split()[2:])
    canvas = np.full((round(height * px_per_mm), round(width * px_per_mm)), 255, np.uint8)
    for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
        if rect.get("fill") == "#000":
            x, y, w, h = (float(rect.get(k, 0)) * px_per_mm for k in ("x", "y", "width", "height"))
            canvas[round(y):round(y + h), round(x):round(x + w)] = 0
    return canvas


def test_svg_sheet_has_one_readable_label_per_container(tmp_path: Path) -> None:
    ssccs = [make_sscc(0, "4700001", n) for n in (1, 2)]
    out = tmp_path / "labels.svg"
    assert main(["label", *ssccs, "--net-g", "34500", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("UN 2809 MERCURY") == 2 and "34 500 g" in text
    assert [f"(00) {s}" in text for s in ssccs] == [True, True]
    assert ssccs_in(decode(_svg_rects_drawn(out))) == set(ssccs)


def test_pdf_has_one_page_per_label_and_png_reads_back(tmp_path: Path) -> None:
    ssccs = [make_sscc(0, "4700001", n) for n in (3, 4, 5)]
    assert main(["label", *ssccs, "--net-g", "150", "--out", str(tmp_path / "l.pdf")]) == 0
    pdf = (tmp_path / "l.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf)) == 3
    assert main(["label", *ssccs, "--net-g", "150", "--out", str(tmp_path / "l.png")]) == 0
    assert ssccs_in(decode(tmp_path / "l.png")) == set(ssccs)


def test_bad_check_digit_exits_1_with_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_sscc(0, "4700001", 6)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    out = tmp_path / "labels.pdf"
    assert main(["label", good, bad, "--net-g", "34500", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and bad in error and "check digit" in error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--net-g", "34500", "--out", "labels.gif"], "must end in"),
    (["--out", "labels.pdf"], "give --net-g"),
    (["--net-g", "-5", "--out", "labels.pdf"], "whole grams"),
])
def test_bad_options_exit_1_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              args: list[str], message: str) -> None:
    args = [a if not a.startswith("labels.") else str(tmp_path / a) for a in args]
    assert main(["label", make_sscc(0, "4700001", 7), *args]) == 1
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_net_mass_is_looked_up_on_the_tracker_when_not_given(tmp_path: Path, live_tracker: LiveTracker,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text(live_tracker.token)
    out = tmp_path / "labels.svg"
    tracker = ["--tracker", live_tracker.url, "--token-file", str(token)]
    assert main(["label", live_tracker.ssccs[0], "--out", str(out), *tracker]) == 0
    assert "34 500 g" in out.read_text()
    unknown = make_sscc(0, "4700078", 9)
    assert main(["label", live_tracker.ssccs[1], unknown, "--out", str(tmp_path / "more.svg"), *tracker]) == 1
    assert f"the tracker has no container {unknown}" in capsys.readouterr().err
    assert not (tmp_path / "more.svg").exists()
