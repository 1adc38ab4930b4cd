"""Image -> barcodes: several engines over a chain of preprocessing passes, cheapest first.

For each pass (``scanner_app.passes.PASSES``) each engine (``scanner_app.engines.ENGINES``) is
asked in turn; the first step that yields an accepted code ends the search, so a clear photo
costs one zxing-cpp call. A code of a weak symbology (EAN-13, ITF: one check digit at most)
found only after preprocessing, or read two ways on one spot, is accepted when a second engine or
pass reads the same text: blur, sharpening and thresholds can turn bars into a different, still
check-digit-valid number.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from scanner_app.decoded import Decoded, ImageError
from scanner_app.engines import ENGINES, ITF, WEAK_FORMATS, Engine
from scanner_app.images import load_frames, load_image
from scanner_app.passes import PASSES, QUICK_PASSES, Affine, Pass, back_to_original, to_grey

__all__ = ["PASSES", "QUICK_PASSES", "ImageError", "decode", "decode_pixels", "load_image"]


def decode(image: bytes | str | Path | np.ndarray, *, passes: Iterable[Pass] = PASSES) -> list[Decoded]:
    """Return every barcode found in ``image`` (empty when there is none, never a guess).

    ``image`` is encoded bytes, a file path or a grey/BGR uint8 array. Raises
    :class:`ImageError` when it is not a readable image or is over the size limits.
    For an animated GIF the frames are tried in turn until one holds a code. ``passes``
    defaults to the full chain; ``QUICK_PASSES`` suits video, where the next frame is the
    next chance.
    """
    passes = tuple(passes)
    for frame in load_frames(image, grey=True):
        found = decode_pixels(frame, passes)
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


def _disputed(reads: list[Decoded]) -> set[tuple[str, str]]:
    """Weak-format reads that another read of the same format places on the same spot with a
    different text: one symbol read two ways, so neither is trusted on this step alone."""
    weak = [read for read in reads if read.format in WEAK_FORMATS]
    return {(a.format, a.text) for a in weak for b in weak
            if a.format == b.format and a.text != b.text and _same_spot(a.points, b.points)}


def _same_spot(first: tuple[tuple[int, int], ...], second: tuple[tuple[int, int], ...]) -> bool:
    """True when the two outlines' boxes overlap by more than half of the smaller one."""
    if not first or not second:
        return False
    boxes = [(min(x for x, _ in p) - 2, min(y for _, y in p) - 2, max(x for x, _ in p) + 2,
              max(y for _, y in p) + 2) for p in (first, second)]
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
    overlap = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return overlap > smaller / 2


class _Ballot:
    """Decides which reads are accepted: a weak symbology's read after preprocessing, or one
    disputed by another read of the same spot, needs a second vote (another engine or pass)."""

    def __init__(self) -> None:
        self.votes: dict[tuple[str, str], int] = {}

    def count(self, reads: list[Decoded], trusted: bool) -> list[Decoded]:
        """Record one engine step's reads and return those now accepted (each text once)."""
        # An engine may report one symbol twice: it is one vote per step, not per report.
        unique = {(read.format, read.text): read for read in reversed(reads)}
        disputed = _disputed(list(unique.values()))
        accepted = []
        for key, read in reversed(unique.items()):
            if read.format in WEAK_FORMATS and (not trusted or key in disputed):
                self.votes[key] = self.votes.get(key, 0) + 1
                if self.votes[key] < 2:
                    continue
            accepted.append(read)
        return accepted
