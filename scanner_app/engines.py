"""The barcode engines the decoder combines, each restricted to the symbologies the project reads.

zxing-cpp reads every format we need (and reports the AIM symbology identifier, so GS1 data is
recognised); pyzbar (zbar) finds some blurred linear codes zxing-cpp misses but cannot read Data
Matrix and does not report the identifier. Both are asked only for the formats below: every
format left out is one fewer way to read a wrong code from noise.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar
from pyzbar.pyzbar import ZBarSymbol

from scanner_app.decoded import Decoded

#: Format names as Decoded.format reports them (zxing-cpp's names).
CODE128, QRCODE, DATAMATRIX, EAN13, ITF = "Code128", "QRCode", "DataMatrix", "EAN13", "ITF"
#: Formats protected only by one check digit (or none): a misread can still look valid.
WEAK_FORMATS = frozenset({EAN13, ITF})

_ZXING_FORMATS = (zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.QRCode,
                  zxingcpp.BarcodeFormat.DataMatrix, zxingcpp.BarcodeFormat.EAN13,
                  zxingcpp.BarcodeFormat.ITF)
_ZBAR_SYMBOLS = {ZBarSymbol.CODE128: CODE128, ZBarSymbol.QRCODE: QRCODE,
                 ZBarSymbol.EAN13: EAN13, ZBarSymbol.I25: ITF}
_ZBAR_NAMES = {symbol.name: name for symbol, name in _ZBAR_SYMBOLS.items()}

Engine = Callable[[np.ndarray], list[Decoded]]


def _zxing_formats() -> object:
    """The zxing-cpp format set (a tuple in 3.x; 2.x only accepts the ``|`` of the flags)."""
    try:
        zxingcpp.read_barcodes(np.full((8, 8), 255, np.uint8), formats=_ZXING_FORMATS)
        return _ZXING_FORMATS
    except TypeError:
        combined = _ZXING_FORMATS[0]
        for fmt in _ZXING_FORMATS[1:]:
            combined = combined | fmt
        return combined


ZXING_FORMATS = _zxing_formats()


def read_zxing(pixels: np.ndarray) -> list[Decoded]:
    """Read with zxing-cpp (it also tries 90° rotations, inversion and downscaling itself)."""
    results = zxingcpp.read_barcodes(pixels, formats=ZXING_FORMATS, text_mode=zxingcpp.TextMode.Plain)
    return [_from_zxing(result) for result in results]


def read_zxing_dark_on_light(pixels: np.ndarray) -> list[Decoded]:
    """zxing-cpp without its inverted retry: for preprocessed images, where the plain pass has
    already looked for light-on-dark codes; saves a third of the time on photos without a code."""
    results = zxingcpp.read_barcodes(pixels, formats=ZXING_FORMATS, text_mode=zxingcpp.TextMode.Plain,
                                     try_invert=False)
    return [_from_zxing(result) for result in results]


def read_pyzbar(pixels: np.ndarray) -> list[Decoded]:
    """Read with zbar; its text is taken as UTF-8 (zbar converts QR text to UTF-8 itself)."""
    return [_from_pyzbar(symbol) for symbol in pyzbar.decode(pixels, symbols=list(_ZBAR_SYMBOLS))]


#: Engine name -> reader, in the order the decoder asks them (cheapest and strongest first).
ENGINES: dict[str, Engine] = {"zxing-cpp": read_zxing, "pyzbar": read_pyzbar,
                              "zxing-cpp-dark-on-light": read_zxing_dark_on_light}


def _from_zxing(result: zxingcpp.Barcode) -> Decoded:
    position = result.position
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return Decoded(format=result.format.name, text=result.text, raw=bytes(result.bytes),
                   points=tuple((int(p.x), int(p.y)) for p in corners), engine="zxing-cpp",
                   symbology_identifier=result.symbology_identifier)


def _from_pyzbar(symbol: pyzbar.Decoded) -> Decoded:
    try:
        text = symbol.data.decode("utf-8")
    except UnicodeDecodeError:
        text = symbol.data.decode("latin-1")
    return Decoded(format=_ZBAR_NAMES[symbol.type], text=text, raw=bytes(symbol.data),
                   points=tuple((int(p.x), int(p.y)) for p in symbol.polygon), engine="pyzbar")


_OPENCV_NAMES = {"EAN_13": EAN13, "CODE_128": CODE128, "ITF": ITF}


def read_opencv(pixels: np.ndarray) -> list[Decoded]:
    """Read with OpenCV's own detectors (1D barcodes and QR).

    Measured, not in the chain: it read nothing the other two missed on the data set and
    costs several times more.
    """
    found = []
    ok, texts, kinds, corners = cv2.barcode.BarcodeDetector().detectAndDecodeWithType(pixels)
    for text, kind, points in zip(texts or (), kinds or (), corners if corners is not None else ()):
        if text and kind in _OPENCV_NAMES:
            found.append(Decoded(format=_OPENCV_NAMES[kind], text=text, raw=text.encode(),
                                 points=tuple((int(x), int(y)) for x, y in points), engine="opencv"))
    ok, texts, corners, _ = cv2.QRCodeDetector().detectAndDecodeMulti(pixels)
    for text, points in zip(texts if ok else (), corners if corners is not None else ()):
        if text:
            found.append(Decoded(format=QRCODE, text=text, raw=text.encode(),
                                 points=tuple((int(x), int(y)) for x, y in points), engine="opencv"))
    return found


#: Every engine measured by bench/barcode_passes.py (the chain uses ENGINES).
CANDIDATE_ENGINES: dict[str, Engine] = {**ENGINES, "opencv": read_opencv}
