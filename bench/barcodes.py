"""Barcode benchmark: the project's decoder beside raw pyzbar, zxing-cpp and OpenCV, same run.

Run from the checkout:  .venv/bin/python bench/barcodes.py [--data DIR]

The default is the repository's own tests/data/barcodes; the figures in docs/benchmarks.md were
taken on the larger development set kept beside the checkout (--data ../shared/data/barcodes).

For each folder of the data set and in total it prints the decode rate (images whose expected
text, N.txt, is among the decoder's results), the median milliseconds per image (CPU time of
this process, loading the file included: the figures stay comparable when other work shares
the machine) and, for ``falsepositives/``, how many images gave any read at all.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scanner_app import decode  # noqa: E402  (after the path set-up above)

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "barcodes"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
NO_CODE_FOLDER = "falsepositives"


@dataclass(frozen=True)
class Sample:
    """One image of the data set and the text it encodes (None: it holds no barcode)."""

    folder: str
    path: Path
    expected: str | None


def samples(root: Path) -> list[Sample]:
    """Every image under ``root``, one folder per symbology/difficulty, in name order."""
    found = []
    for path in sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES):
        text_file = path.with_suffix(".txt")
        expected = text_file.read_text(encoding="utf-8") if text_file.exists() else None
        if expected is not None or path.parent.name == NO_CODE_FOLDER:
            found.append(Sample(path.parent.name, path, expected))
    return found


def project_decoder(path: Path) -> list[str]:
    """scanner_app.decode: several engines and preprocessing passes."""
    return [read.text for read in decode(path)]


def raw_zxing(path: Path) -> list[str]:
    """zxing-cpp on the image as loaded, all formats, its own defaults (plain text, not HRI)."""
    return [r.text for r in zxingcpp.read_barcodes(cv2.imread(str(path)), text_mode=zxingcpp.TextMode.Plain)]


def raw_pyzbar(path: Path) -> list[str]:
    """zbar through pyzbar on the image as loaded, all symbologies."""
    return [r.data.decode("utf-8", "replace") for r in pyzbar.decode(cv2.imread(str(path)))]


_OPENCV_BARCODES = cv2.barcode.BarcodeDetector()
_OPENCV_QR = cv2.QRCodeDetector()


def raw_opencv(path: Path) -> list[str]:
    """OpenCV's own readers: cv2.barcode.BarcodeDetector (1D) and cv2.QRCodeDetector."""
    image = cv2.imread(str(path))
    texts = list(_OPENCV_BARCODES.detectAndDecodeWithType(image)[1] or ())
    found_qr, qr_texts = _OPENCV_QR.detectAndDecodeMulti(image)[:2]
    texts += list(qr_texts) if found_qr else []
    return [text for text in texts if text]


DECODERS: dict[str, Callable[[Path], list[str]]] = {
    "scanner_app": project_decoder, "zxing-cpp": raw_zxing, "pyzbar": raw_pyzbar, "opencv": raw_opencv}


@dataclass
class Outcome:
    """What one decoder did with one image."""

    sample: Sample
    texts: list[str]
    seconds: float

    @property
    def read(self) -> bool:
        """The expected text is among the results."""
        return self.sample.expected is not None and self.sample.expected in self.texts


def run(decoder: Callable[[Path], list[str]], data: list[Sample]) -> list[Outcome]:
    """Decode every sample once, timing each call."""
    outcomes = []
    for sample in data:
        start = time.process_time()
        texts = decoder(sample.path)
        outcomes.append(Outcome(sample, texts, time.process_time() - start))
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    """'read/total rate% median-ms' for codes, or 'N false of total' for the no-code folder."""
    if not outcomes:
        return "-"
    ms = statistics.median(o.seconds for o in outcomes) * 1000
    coded = [o for o in outcomes if o.sample.expected is not None]
    if not coded:
        false = sum(bool(o.texts) for o in outcomes)
        return f"{false} false of {len(outcomes):<3} {ms:7.1f} ms"
    read = sum(o.read for o in coded)
    return f"{read:3d}/{len(coded):<3d} {100 * read / len(coded):5.1f}% {ms:7.1f} ms"


def report(results: dict[str, list[Outcome]]) -> list[str]:
    """The table: one row per folder, a total row, one column per decoder."""
    folders = sorted({o.sample.folder for o in next(iter(results.values()))})
    width = 26
    lines = ["folder".ljust(18) + "".join(name.rjust(width) for name in results)]
    for folder in folders + ["TOTAL (with codes)"]:
        cells = []
        for outcomes in results.values():
            chosen = [o for o in outcomes if o.sample.folder == folder] if folder in folders else \
                [o for o in outcomes if o.sample.expected is not None]
            cells.append(summary(chosen).rjust(width))
        lines.append(folder.ljust(18) + "".join(cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run every decoder over the data set and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of barcode folders")
    args = parser.parse_args(argv)
    data = samples(args.data)
    if not data:
        print(f"no images under {args.data}", file=sys.stderr)
        return 2
    warm_up = data[0].path
    results = {}
    for name, decoder in DECODERS.items():
        decoder(warm_up)  # first calls load libraries and allocate: not part of the figures
        results[name] = run(decoder, data)
    print(f"{len(data)} images from {args.data}; cv2 {cv2.__version__}, zxing-cpp "
          f"{getattr(zxingcpp, '__version__', '?')}, numpy {np.__version__}")
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
