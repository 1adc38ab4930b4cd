"""Image -> barcodes. First version: zxing-cpp on the image as given.

The scanner issue replaces this with several engines and preprocessing passes.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from scanner_app.decoded import Decoded, ImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024


def load_image(image: bytes | str | Path | np.ndarray) -> np.ndarray:
    """Return the image as a BGR or grey array; raise ImageError when it cannot be read."""
    if isinstance(image, np.ndarray):
        return image
    data = Path(image).read_bytes() if isinstance(image, (str, Path)) else image
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None:
        raise ImageError("not a decodable image (corrupt, truncated or an unsupported type)")
    return array


def decode(image: bytes | str | Path | np.ndarray) -> list[Decoded]:
    """Return every barcode found in ``image`` (empty when there is none)."""
    pixels = load_image(image)
    found = []
    for result in zxingcpp.read_barcodes(pixels):
        position = result.position
        points = tuple((p.x, p.y) for p in (position.top_left, position.top_right,
                                            position.bottom_right, position.bottom_left))
        found.append(Decoded(format=result.format.name, text=result.text, raw=bytes(result.bytes),
                             points=points, engine="zxing-cpp",
                             symbology_identifier=result.symbology_identifier))
    return found
