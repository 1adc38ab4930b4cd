"""Decode rates on the real photos of tests/data/barcodes are held at the measured level.

FLOORS holds, per folder, the share of images whose expected text (N.txt) the decoder read when
this was measured with bench/barcodes.py (2026-11-25: 101 of 121; the best single engine,
zxing-cpp, read 92). A change that reads fewer fails here; one that reads more should raise the
floor. Photos without a barcode must give no read at all.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import DATA
from scanner_app import decode

BARCODES = DATA / "barcodes"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")

#: folder -> measured decode rate (images read / images with a code), the floor from now on.
FLOORS: dict[str, Fraction] = {
    "code128-1": Fraction(7, 7),
    "code128-3": Fraction(2, 2),
    "datamatrix-3": Fraction(18, 18),
    "ean13-2": Fraction(26, 28),
    "ean13-5": Fraction(0, 18),     # heavy focus blur: no engine or pass reads any of them yet
    "itf-1": Fraction(14, 14),
    "qrcode-5": Fraction(19, 19),
    "qrcode-6": Fraction(15, 15),
}


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def coded_folders() -> list[str]:
    if not BARCODES.is_dir():
        return sorted(FLOORS)
    return sorted(p.name for p in BARCODES.iterdir() if p.is_dir() and p.name != "falsepositives")


@pytest.mark.parametrize("folder", coded_folders())
def test_decode_rate_does_not_fall_below_the_measured_floor(folder: str) -> None:
    assert BARCODES.is_dir(), f"the barcode data set is missing: {BARCODES}"
    if folder not in FLOORS:
        pytest.skip(f"no floor measured for {folder}: run bench/barcodes.py and record it in FLOORS")
    photos = [p for p in images_in(BARCODES / folder) if p.with_suffix(".txt").exists()]
    missed = [p.name for p in photos
              if p.with_suffix(".txt").read_text(encoding="utf-8") not in [r.text for r in decode(p)]]
    rate = Fraction(len(photos) - len(missed), len(photos))
    assert rate >= FLOORS[folder], f"{folder}: read {rate} (< floor {FLOORS[folder]}); missed {missed}"


def test_photos_without_barcode_give_no_read_at_all() -> None:
    photos = images_in(BARCODES / "falsepositives")
    assert photos, "no photos in falsepositives/"
    reads = {p.name: [(r.format, r.text) for r in decode(p)] for p in photos}
    assert {name: found for name, found in reads.items() if found} == {}


def test_every_read_is_the_expected_text_or_another_code_of_the_set() -> None:
    # A decoder that reads more must not start reading wrong numbers: a text nobody printed.
    printed = {p.read_text(encoding="utf-8") for p in BARCODES.glob("*/*.txt") if ".metadata" not in p.name}
    wrong = {}
    for folder in FLOORS:
        for photo in images_in(BARCODES / folder):
            unknown = [r.text for r in decode(photo) if r.text not in printed]
            if unknown:
                wrong[f"{folder}/{photo.name}"] = unknown
    assert wrong == {}
