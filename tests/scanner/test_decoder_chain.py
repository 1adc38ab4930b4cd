"""The decoder's chain: cheapest step first, stop at the first accepted read, confirm weak codes."""
from __future__ import annotations

import io

import barcode
import cv2
import numpy as np
import pytest

from barcode.writer import ImageWriter

from tests.conftest import DATA
from scanner_app.decode import QUICK_PASSES, decode, decode_pixels
from scanner_app.decoded import Decoded
from scanner_app.engines import ENGINES
from scanner_app.gs1 import container_reads
from scanner_app.passes import CANDIDATES, PASSES, WORK_SIDE, Pass, back_to_original

IMAGE = np.full((40, 60), 255, dtype=np.uint8)


class Engine:
    """An engine that answers per pass (the image it gets carries the pass's mark)."""

    def __init__(self, name: str, answers: dict[int, list[tuple]]) -> None:
        self.name, self.answers, self.calls = name, answers, []

    def __call__(self, image: np.ndarray) -> list[Decoded]:
        mark = int(image[0, 0])
        self.calls.append(mark)
        return [Decoded(format=answer[0], text=answer[1], raw=answer[1].encode(),
                        points=answer[2] if len(answer) > 2 else ((1, 1), (50, 1), (50, 30), (1, 30)),
                        engine=self.name)
                for answer in self.answers.get(mark, [])]


def marked(mark: int, trusted: bool = False) -> Pass:
    """A pass whose image carries ``mark`` in its first pixel, so engines know which pass it is."""
    def transform(grey: np.ndarray) -> tuple[np.ndarray, None]:
        image = grey.copy()
        image[0, 0] = mark
        return image, None
    return Pass(f"pass-{mark}", transform, ("a", "b"), trusted=trusted)


CHAIN = (marked(0, trusted=True), marked(1), marked(2))


def test_first_step_with_a_read_ends_the_search() -> None:
    a, b = Engine("a", {0: [("QRCode", "X")]}), Engine("b", {0: [("QRCode", "Y")]})
    reads = decode_pixels(IMAGE, CHAIN, {"a": a, "b": b})
    assert [(r.text, r.engine, r.pass_name) for r in reads] == [("X", "a", "pass-0")]
    assert (a.calls, b.calls) == ([0], [])


def test_later_engines_and_passes_run_only_when_nothing_was_read() -> None:
    a, b = Engine("a", {}), Engine("b", {1: [("Code128", "Z")]})
    reads = decode_pixels(IMAGE, CHAIN, {"a": a, "b": b})
    assert [(r.text, r.engine, r.pass_name) for r in reads] == [("Z", "b", "pass-1")]
    assert (a.calls, b.calls) == ([0, 1], [0, 1])


@pytest.mark.parametrize("fmt", ["EAN13", "ITF"])
def test_weak_code_after_preprocessing_needs_a_second_read(fmt: str) -> None:
    lone = Engine("a", {1: [(fmt, "9780000000002")]})
    assert decode_pixels(IMAGE, CHAIN, {"a": lone, "b": Engine("b", {})}) == []
    confirmed = Engine("a", {1: [(fmt, "9780000000002")], 2: [(fmt, "9780000000002")]})
    reads = decode_pixels(IMAGE, CHAIN, {"a": confirmed, "b": Engine("b", {})})
    assert [(r.text, r.pass_name) for r in reads] == [("9780000000002", "pass-2")]


def test_weak_code_reported_twice_by_one_engine_is_one_vote() -> None:
    twice = Engine("a", {1: [("EAN13", "9780000000002"), ("EAN13", "9780000000002")]})
    assert decode_pixels(IMAGE, CHAIN, {"a": twice, "b": Engine("b", {})}) == []


def test_weak_code_on_the_unprocessed_image_is_taken_at_once() -> None:
    reads = decode_pixels(IMAGE, CHAIN, {"a": Engine("a", {0: [("EAN13", "9780000000002")]}),
                                         "b": Engine("b", {})})
    assert [r.text for r in reads] == ["9780000000002"]


def test_one_spot_read_two_ways_needs_another_engine_to_settle_it() -> None:
    a = Engine("a", {0: [("EAN13", "9780804816632"), ("EAN13", "0714884816632")]})
    b = Engine("b", {0: [("EAN13", "9780804816632")]})
    reads = decode_pixels(IMAGE, CHAIN, {"a": a, "b": b})
    assert [(r.text, r.engine) for r in reads] == [("9780804816632", "b")]
    alone = decode_pixels(IMAGE, CHAIN, {"a": a, "b": Engine("b", {})})
    assert alone == []


def test_two_codes_in_different_places_are_both_taken() -> None:
    left, right = ((0, 0), (20, 0), (20, 30), (0, 30)), ((30, 0), (59, 0), (59, 30), (30, 30))
    a = Engine("a", {0: [("EAN13", "9784872348880", left), ("EAN13", "1920081045006", right)]})
    reads = decode_pixels(IMAGE, CHAIN, {"a": a, "b": Engine("b", {})})
    assert [r.text for r in reads] == ["9784872348880", "1920081045006"]


def test_corners_found_in_a_scaled_pass_are_put_back_into_the_original_image() -> None:
    _, affine = CANDIDATES["upscale-2x"].apply(IMAGE)
    assert back_to_original(((20, 40), (100, 60)), affine) == ((10, 20), (50, 30))
    _, affine = CANDIDATES["rotate-45"].apply(IMAGE)
    there = tuple(tuple(int(round(v)) for v in affine @ np.array([x, y, 1.0])) for x, y in ((5, 7), (30, 20)))
    assert back_to_original(there, affine) == ((5, 7), (30, 20))


def test_huge_photo_is_worked_on_at_a_reduced_size_with_corners_mapped_back() -> None:
    photo = np.full((4000, 3000), 255, dtype=np.uint8)
    image, affine = CANDIDATES["clahe"].apply(photo)
    assert max(image.shape) == WORK_SIDE
    assert back_to_original(((400, 800),), affine) == ((1000, 2000),)
    image, affine = CANDIDATES["rotate-45"].apply(photo)
    assert max(image.shape) < 4000
    corner = tuple(int(round(v)) for v in affine @ np.array([1000.0, 2000.0, 1.0]))
    assert back_to_original((corner,), affine) == ((1000, 2000),)


def test_chain_uses_more_than_one_engine_and_pass() -> None:
    engines_used = {engine for step in PASSES for engine in step.engines}
    assert engines_used <= set(ENGINES) and {"zxing-cpp", "pyzbar"} <= engines_used
    assert PASSES[0].trusted and PASSES[0].max_side is None     # full resolution first
    assert len({step.name for step in PASSES}) >= 3


@pytest.mark.parametrize("degrees", [-70, -45, -30, -20, 20, 30, 45, 60, 75])
def test_container_label_photographed_at_an_angle_gives_exactly_its_sscc(degrees: float) -> None:
    # Neither engine scans a linear code diagonally: the rotation passes exist for this.
    buffer = io.BytesIO()
    barcode.get("gs1_128", "00106141411234567897", writer=ImageWriter()).write(buffer)
    label = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    height, width = label.shape
    side = width + height                                   # a canvas the tilted label fits in
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    turn[:, 2] += ((side - width) / 2, (side - height) / 2)
    tilted = cv2.warpAffine(label, turn, (side, side), borderValue=255)
    reads = decode_pixels(tilted)
    assert container_reads(reads).ssccs == ["106141411234567897"]


def test_quick_passes_read_a_clear_code_with_the_plain_image_only() -> None:
    photo = DATA / "barcodes" / "qrcode-6" / "1.png"
    reads = decode(photo, passes=QUICK_PASSES)
    assert [(r.text, r.pass_name) for r in reads] == [("1234567890", "plain")]
    assert {step.name for step in QUICK_PASSES} == {"plain"}
