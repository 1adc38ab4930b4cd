"""Image loading: bad images are refused with a clear error, odd but real ones are read upright.

Every bad image is made at run time from a real photo of the shared data set.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import DATA
from scanner_app import ImageError, decode
from scanner_app import images
from scanner_app.images import load_frames, load_image

BARCODES = DATA / "barcodes"
PHOTO = BARCODES / "code128-1" / "3.png"          # a real photo of a Code 128
PHOTO_TEXT = (BARCODES / "code128-1" / "3.txt").read_text(encoding="utf-8")


@pytest.fixture
def photo_bytes() -> bytes:
    return PHOTO.read_bytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces width x height pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * 16
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(row * 4)) + _png_chunk(b"IEND", b""))


def test_a_real_photo_is_read_from_bytes_path_and_array(photo_bytes: bytes) -> None:
    pixels = load_image(photo_bytes)
    assert pixels.dtype == np.uint8 and pixels.shape[:2] == (316, 916)
    for source in (photo_bytes, PHOTO, str(PHOTO), pixels):
        assert PHOTO_TEXT in [read.text for read in decode(source)]


def test_truncated_image_is_refused(photo_bytes: bytes) -> None:
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(photo_bytes[: len(photo_bytes) // 2])


def test_corrupt_image_data_is_refused(photo_bytes: bytes) -> None:
    damaged = bytearray(photo_bytes)
    middle = len(damaged) // 2
    damaged[middle:middle + 64] = bytes(64)           # zeros over the compressed pixel data
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode(bytes(damaged))


@pytest.mark.parametrize("data", [b"%PDF-1.7 not an image", b"hello, I am a text file\n", b"\x89PNG\r\n\x1a\n"])
def test_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(ImageError, match="not an image|corrupt or truncated"):
        decode(data)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        decode(empty)


def test_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read .*missing.png"):
        decode(tmp_path / "missing.png")


def test_too_many_bytes_is_refused_before_parsing(photo_bytes: bytes, tmp_path: Path) -> None:
    padded = photo_bytes + bytes(images.MAX_IMAGE_BYTES)   # a real PNG with trailing bytes
    with pytest.raises(ImageError, match="too large: .* bytes"):
        decode(padded)
    big_file = tmp_path / "big.png"
    big_file.write_bytes(padded)
    with pytest.raises(ImageError, match="too large: .* bytes"):
        decode(big_file)


@pytest.mark.parametrize(("width", "height"), [(60_000, 60_000), (100_000, 1_000), (8_000, 7_000)])
def test_decompression_bomb_is_refused_by_its_header(width: int, height: int) -> None:
    with pytest.raises(ImageError, match="image too large: .*pixels"):
        decode(bomb_png(width, height))


def test_huge_array_is_refused() -> None:
    huge = np.broadcast_to(np.uint8(255), (10_000, 10_000))   # no memory behind it
    with pytest.raises(ImageError, match="too large"):
        decode(huge)


@pytest.mark.parametrize("array", [
    np.zeros((10, 10), dtype=np.float32),
    np.zeros((10, 10, 2), dtype=np.uint8),
    np.zeros((0, 10), dtype=np.uint8),
    np.zeros(10, dtype=np.uint8),
])
def test_array_that_is_not_an_image_is_refused(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        decode(array)


def test_phone_photo_is_turned_upright_by_its_exif_orientation() -> None:
    upright = Image.open(PHOTO).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)         # how the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 8                                               # "rotate 90° clockwise to view"
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif)
    pixels = load_image(buffer.getvalue())
    assert pixels.shape[:2] == (upright.height, upright.width)
    assert PHOTO_TEXT in [read.text for read in decode(buffer.getvalue())]


def test_animated_gif_frames_are_tried_until_one_holds_a_code() -> None:
    photo = Image.open(PHOTO).convert("L")
    white, grey = Image.new("L", photo.size, 255), Image.new("L", photo.size, 200)
    buffer = io.BytesIO()
    white.save(buffer, format="GIF", save_all=True, append_images=[grey, photo], duration=100)
    assert len(list(load_frames(buffer.getvalue()))) == 3
    assert [read.text for read in decode(buffer.getvalue())] == [PHOTO_TEXT]


def test_transparent_background_is_read_as_white() -> None:
    photo = Image.open(PHOTO).convert("L")
    ink = np.asarray(photo) < 128
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)   # transparent black everywhere...
    rgba[ink, 3] = 255                                  # ...opaque black bars
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    assert PHOTO_TEXT in [read.text for read in decode(buffer.getvalue())]


def test_sixteen_bit_scan_is_read() -> None:
    deep = np.asarray(Image.open(PHOTO).convert("L"), dtype=np.uint16) * 257
    buffer = io.BytesIO()
    Image.fromarray(deep).save(buffer, format="PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode.startswith("I")
    assert PHOTO_TEXT in [read.text for read in decode(buffer.getvalue())]


def test_photo_without_barcode_gives_empty_result() -> None:
    assert decode(BARCODES / "falsepositives" / "01.png") == []
