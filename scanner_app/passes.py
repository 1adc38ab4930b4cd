"""Image preprocessing passes tried by the decoder, cheapest first.

Each pass turns the grey image into another one an engine may read better, and says how its
pixels map back to the original (so corner points stay in the caller's image). ``PASSES`` is the
chain the decoder uses; ``CANDIDATES`` also holds the passes that were measured and left out
(``bench/barcode_passes.py`` prints what each one adds on the data set).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

#: 2x3 affine matrix mapping original pixel coordinates to the pass's image (None: identity).
Affine = np.ndarray | None
#: Longest side a pass works on (a 12 MP phone photo is reduced to about 2 MP first): CLAHE,
#: thresholds and pyzbar cost seconds at full size, and 1600 px still gives a GS1-128 SSCC
#: that spans a quarter of the photo two pixels per module. zxing-cpp's plain pass sees the
#: full resolution (it downscales by itself as well).
WORK_SIDE = 1600


@dataclass(frozen=True)
class Pass:
    """One preprocessing step: a name, a function grey image -> (image, affine to it), the
    engines that read its image, the longest side it works on, and whether its reads are
    trusted as they are (the pass does not change pixel values, so it cannot invent bars)."""

    name: str
    transform: Callable[[np.ndarray], tuple[np.ndarray, Affine]]
    engines: tuple[str, ...] = ("zxing-cpp", "pyzbar")
    max_side: int | None = WORK_SIDE
    trusted: bool = False

    def apply(self, grey: np.ndarray) -> tuple[np.ndarray, Affine]:
        """Return the transformed image and the affine map from the original into it."""
        fitted, fit = fit_within(grey, self.max_side)
        image, affine = self.transform(fitted)
        return image, compose(affine, fit)


def fit_within(grey: np.ndarray, max_side: int | None) -> tuple[np.ndarray, Affine]:
    """Shrink ``grey`` so that its longest side is at most ``max_side`` (None: leave it)."""
    longest = max(grey.shape[:2])
    if max_side is None or longest <= max_side:
        return grey, None
    return _scale(max_side / longest)(grey)


def compose(second: Affine, first: Affine) -> Affine:
    """The affine map doing ``first`` then ``second`` (None is the identity)."""
    if first is None or second is None:
        return first if second is None else second
    return (np.vstack([second, [0, 0, 1]]) @ np.vstack([first, [0, 0, 1]]))[:2]


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """Return a single-channel uint8 view of a grey or BGR image."""
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)


def back_to_original(points: tuple[tuple[int, int], ...], affine: Affine) -> tuple[tuple[int, int], ...]:
    """Map corner points found in a pass's image back into the original image."""
    if affine is None or not points:
        return points
    inverse = cv2.invertAffineTransform(affine)
    mapped = cv2.transform(np.array([points], dtype=np.float64), inverse)[0]
    return tuple((int(round(x)), int(round(y))) for x, y in mapped)


def _plain(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    return grey, None


def _clahe(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    # Local contrast: lifts bars in shadow or glare without blowing up the whole image.
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey), None


def _adaptive_threshold(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    # Binarise against the neighbourhood mean: uneven light across a label. The neighbourhood
    # grows with the photo so that it spans several bars (31 px measured best on VGA photos).
    block = max(31, (min(grey.shape[:2]) // 12) | 1)
    binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 5)
    return binary, None


def _equalise(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    return cv2.equalizeHist(grey), None


def _otsu(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    blurred = cv2.GaussianBlur(grey, (3, 3), 0)
    return cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1], None


def _sharpen(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    # Unsharp mask against focus blur.
    blurred = cv2.GaussianBlur(grey, (0, 0), 2)
    return cv2.addWeighted(grey, 2.5, blurred, -1.5, 0), None


def _scale(factor: float) -> Callable[[np.ndarray], tuple[np.ndarray, Affine]]:
    def scale(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
        interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
        resized = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=interpolation)
        return resized, np.array([[factor, 0, 0], [0, factor, 0]], dtype=np.float64)
    return scale


def _rotate(degrees: float) -> Callable[[np.ndarray], tuple[np.ndarray, Affine]]:
    def rotate(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
        height, width = grey.shape[:2]
        affine = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        cos, sin = abs(affine[0, 0]), abs(affine[0, 1])
        new_width, new_height = int(height * sin + width * cos), int(height * cos + width * sin)
        affine[0, 2] += new_width / 2 - width / 2
        affine[1, 2] += new_height / 2 - height / 2
        rotated = cv2.warpAffine(grey, affine, (new_width, new_height), borderValue=255)
        return rotated, affine
    return rotate


def _invert(grey: np.ndarray) -> tuple[np.ndarray, Affine]:
    return cv2.bitwise_not(grey), None


#: Every pass that was measured (bench/barcode_passes.py), by name.
CANDIDATES: dict[str, Pass] = {p.name: p for p in (
    Pass("plain", _plain, trusted=True),
    Pass("clahe", _clahe),
    Pass("adaptive-threshold", _adaptive_threshold),
    Pass("equalise", _equalise),
    Pass("otsu", _otsu),
    Pass("sharpen", _sharpen),
    Pass("upscale-2x", _scale(2.0)),
    Pass("downscale-half", _scale(0.5)),
    Pass("rotate-45", _rotate(45)),
    Pass("rotate-22", _rotate(22.5)),
    Pass("rotate-minus-22", _rotate(-22.5)),
    Pass("rotate-15", _rotate(15)),
    Pass("invert", _invert),
)}

#: zxing-cpp after preprocessing: the plain pass already tried light-on-dark codes.
_ZXING_AFTER = "zxing-cpp-dark-on-light"

#: The chain the decoder runs, in order. Kept: the steps that read images no other step read,
#: on the data set or (the rotations) on the tilted labels bench/barcode_passes.py renders,
#: without adding a wrong read. Measured and left out: equalise, otsu, sharpen, upscale,
#: downscale, invert, 15-degree rotation, and OpenCV as an engine.
PASSES: tuple[Pass, ...] = (
    dataclasses.replace(CANDIDATES["plain"], engines=("zxing-cpp",), max_side=None),
    dataclasses.replace(CANDIDATES["plain"], engines=("pyzbar",)),     # (huge photos: at WORK_SIDE)
    dataclasses.replace(CANDIDATES["clahe"], engines=(_ZXING_AFTER, "pyzbar")),
    # pyzbar added nothing after a thresholded image: only zxing-cpp reads it.
    dataclasses.replace(CANDIDATES["adaptive-threshold"], engines=(_ZXING_AFTER,)),
    # Linear codes tilted 15-75 degrees (a label photographed at an angle): neither engine scans
    # diagonally. Rotating by 45 and +-22.5 degrees puts every tilt within reach of zxing-cpp,
    # whose own scan also tries 90 degrees. pyzbar after rotation read mostly truncated ITF.
    *(dataclasses.replace(CANDIDATES[name], engines=(_ZXING_AFTER,))
      for name in ("rotate-45", "rotate-22", "rotate-minus-22")),
)

#: The unprocessed image only, both engines: for video frames, where the next frame is the
#: next chance (about a quarter of the full chain's time on a frame without a code).
QUICK_PASSES: tuple[Pass, ...] = PASSES[:2]
