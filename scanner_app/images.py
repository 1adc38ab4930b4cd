"""Image loading for the decoder: bytes, a file path or an array in, grey or BGR pixels out.

Everything that is not a readable image of a sane size becomes an :class:`ImageError` with a
message an officer or an API client can act on. Pillow reads the header first, so a
decompression bomb is refused before its pixels are allocated.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from scanner_app.decoded import ImageError

#: Largest encoded image accepted (a 50 MP phone JPEG is well under this).
MAX_IMAGE_BYTES = 30 * 1024 * 1024
#: Largest image in pixels (width x height) accepted; guards against decompression bombs.
MAX_IMAGE_PIXELS = 50_000_000
#: Frames of an animated image (GIF) that are decoded at most.
MAX_FRAMES = 16
#: Image types the decoder reads; anything else is refused by its content, not its name.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")

ImageInput = bytes | bytearray | memoryview | str | Path | np.ndarray


def read_bytes(image: bytes | bytearray | memoryview | str | Path) -> bytes:
    """Return the encoded bytes of ``image`` (a path is read), refusing ones over the size limit."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            size = path.stat().st_size
            if size > MAX_IMAGE_BYTES:
                raise ImageError(_too_many_bytes(size))
            data = path.read_bytes()
        except OSError as error:
            raise ImageError(f"cannot read {path}: {error.strerror or error}") from error
    else:
        data = bytes(image)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(_too_many_bytes(len(data)))
    if not data:
        raise ImageError("empty file: not an image")
    return data


def load_frames(image: ImageInput, max_frames: int = MAX_FRAMES, grey: bool = False) -> Iterator[np.ndarray]:
    """Yield the image's frames as uint8 arrays (grey or BGR), upright as the camera saw them.

    A still image has one frame; an animated GIF yields up to ``max_frames``. With ``grey``
    an encoded image is converted straight to one channel (what the decoder reads).
    """
    if isinstance(image, np.ndarray):
        yield check_array(image)
        return
    with _open(read_bytes(image)) as picture:
        for index in range(min(getattr(picture, "n_frames", 1), max_frames)):
            picture.seek(index)
            yield _to_array(picture, grey)


def load_image(image: ImageInput, grey: bool = False) -> np.ndarray:
    """Return the first (or only) frame of ``image``; raise :class:`ImageError` when unreadable."""
    return next(load_frames(image, max_frames=1, grey=grey))


def check_array(pixels: np.ndarray) -> np.ndarray:
    """Return ``pixels`` as a uint8 grey or BGR array, refusing shapes that are not an image."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ImageError(f"an image array is height x width [x 3 or 4 channels], got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageError("the image array is empty")
    _check_pixels(pixels.shape[1], pixels.shape[0])
    if pixels.dtype != np.uint8:
        raise ImageError(f"an image array holds uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = np.ascontiguousarray(pixels[:, :, :3])
    return pixels


def _open(data: bytes) -> Image.Image:
    """Open the header, check the type and size, and load the pixels (catching truncation)."""
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked below; Pillow's bomb warning would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_pixels(*picture.size)
            picture.load()
    except ImageError:
        raise
    except UnidentifiedImageError as error:
        raise ImageError(f"not an image of a supported type ({', '.join(FORMATS)})") from error
    except Image.DecompressionBombError as error:
        raise ImageError(f"image too large: {error}") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"corrupt or truncated image: {error}") from error
    return picture


def _to_array(picture: Image.Image, grey: bool) -> np.ndarray:
    """Return the current frame upright (EXIF orientation applied) as grey or BGR uint8 pixels."""
    try:
        frame = ImageOps.exif_transpose(picture) or picture
        if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
            # Transparent pixels are the label's background: put them on white, not black.
            frame = Image.alpha_composite(Image.new("RGBA", frame.size, "white"), frame.convert("RGBA"))
        if frame.mode.startswith(("I", "F")):
            return _eight_bit(np.asarray(frame))
        if grey or frame.mode in ("1", "L"):
            return np.asarray(frame.convert("L"))
        rgb = np.asarray(frame.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"corrupt or truncated image: {error}") from error
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _eight_bit(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit or float grey values to 0-255 (Pillow's own conversion clips them)."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= 255 and low >= 0:
        return values.astype(np.uint8)
    return np.round((values - low) * (255.0 / max(high - low, 1.0))).astype(np.uint8)


def _check_pixels(width: int, height: int) -> None:
    """Refuse an image whose pixel count is over the limit (a decompression bomb or a huge scan)."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"image too large: {width}x{height} pixels; the limit is {MAX_IMAGE_PIXELS} pixels")


def _too_many_bytes(size: int) -> str:
    return f"image too large: {size} bytes; the limit is {MAX_IMAGE_BYTES} bytes"
