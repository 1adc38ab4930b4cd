"""What a decode returns, and the errors it raises."""
from __future__ import annotations

from dataclasses import dataclass


class ImageError(ValueError):
    """The input is not a decodable image (corrupt, truncated, wrong type, too large)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """One barcode read from an image."""

    format: str                               # e.g. "Code128", "QRCode", "DataMatrix", "EAN13", "ITF"
    text: str                                 # the decoded text (GS1: with ]C1/]d2/]Q3 removed, GS as \x1d)
    raw: bytes                                # the bytes the symbol carries
    points: tuple[tuple[int, int], ...]       # corner points in image pixels
    engine: str                               # "zxing-cpp", "pyzbar", "opencv"
    pass_name: str = "plain"                  # which preprocessing pass found it
    symbology_identifier: str = ""            # e.g. "]C1" for GS1-128, "]d2" GS1 DataMatrix, "]Q3" GS1 QR
