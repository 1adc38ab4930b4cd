"""Image -> barcodes: several engines over a chain of preprocessing passes, cheapest first.

For each pass (``scanner_app.passes.PASSES``) each engine (``scanner_app.engines.ENGINES``) is
asked in turn; the first step that yields an accepted code ends the search, so a clear photo
costs one zxing-cpp call. A code of a weak symbology (EAN-13, ITF: one check digit at most)
found only after preprocessing is accepted when a second engine or pass reads the same text:
sharpened or thresholded photos can turn blur into a different, still check-digit-valid number.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from scanner_app.decoded import Decoded, ImageError
from scanner_app.engines import ENGINES, ITF, WEAK_FORMATS, Engine
from scanner_app.images import ImageInput, load_frames, load_image
from scanner_app.passes import PASSES, Affine, Pass, back_to_original, to_grey

__all__ = ["decode", "decode_pixels", "load_image", "ImageError"]


def decode(image: bytes | str | Path | np.ndarray) -> list[Decoded]:
    """Return every barcode found in ``image`` (empty when there is none, never a guess).

    ``image`` is encoded bytes, a file path or a grey/BGR uint8 array. Raises
    :class:`ImageError` when it is not a readable image or is over the size limits.
    For an animated GIF the frames are tried in turn until one holds a code.
    """
    for frame in load_frames(image):
        found = decode_pixels(frame)
        if found:
            return found
    return []


def decode_pixels(pixels: np.ndarray, passes: Iterable[Pass] = PASSES,
                  engines: Mapping[str, Engine] = ENGINES) -> list[Decoded]:
    """Run the pass/engine chain on one frame and return the first accepted codes."""
    grey = to_grey(pixels)
    ballot = _Ballot()
    for step in passes:
        image, affine = step.apply(grey)
        for engine_name in step.engines:
            reads = _drop_partial_itf([_locate(read, step.name, affine) for read in engines[engine_name](image)])
            accepted = ballot.count(reads, trusted=step.trusted)
            if accepted:
                return accepted
    return []


def _locate(read: Decoded, pass_name: str, affine: Affine) -> Decoded:
    """Tag a read with its pass and put its corners back into the caller's image."""
    return dataclasses.replace(read, pass_name=pass_name, points=back_to_original(read.points, affine))


def _drop_partial_itf(reads: list[Decoded]) -> list[Decoded]:
    """Drop ITF reads that are part of a longer ITF read of the same step.

    A scan line crossing a tilted ITF leaves it early, and ITF has no length of its own: both
    engines then also report a shorter, valid-looking number made of the first digits.
    """
    itf = [read.text for read in reads if read.format == ITF]
    return [read for read in reads
            if read.format != ITF or not any(read.text != other and read.text in other for other in itf)]


class _Ballot:
    """Decides which reads are accepted: weak symbologies from preprocessing need two votes."""

    def __init__(self) -> None:
        self.votes: dict[tuple[str, str], int] = {}

    def count(self, reads: list[Decoded], trusted: bool) -> list[Decoded]:
        """Record one engine step's reads and return those now accepted (each text once)."""
        # An engine may report one symbol twice: it is one vote per step, not per report.
        unique = {(read.format, read.text): read for read in reversed(reads)}
        accepted = []
        for key, read in reversed(unique.items()):
            if not trusted and read.format in WEAK_FORMATS:
                self.votes[key] = self.votes.get(key, 0) + 1
                if self.votes[key] < 2:
                    continue
            accepted.append(read)
        return accepted
