"""Where the station's pictures come from: a camera, a video file or a folder of photos.

Each source yields :class:`Frame` objects with a time in seconds, used to debounce
sightings: the camera's clock for a camera, the position in the video for a video
file (so a video gives the same events however fast it is decoded), and one second
per photo, in name order, for a folder. A photo or a video frame also carries the time
it was taken, from its file's modification time (the end of a video's recording; cameras
and card copies keep it), so that its sightings keep their own times however late, and
however often, the file is processed. A photo carries the SHA-256 of its bytes too, by
which the station knows a photo it has already processed, whatever its name.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
#: Photos in a folder are taken as one second apart.
PHOTO_INTERVAL_S = 1.0
#: How long a camera may fail to give a picture before the station gives up on it.
CAMERA_PATIENCE_S = 5.0


class SourceError(ValueError):
    """The source cannot be opened (no such camera, file or folder; not a video)."""


@dataclass(frozen=True)
class Frame:
    """One picture from a source."""

    pixels: np.ndarray | None     # None when a photo in a folder could not be read
    seconds: float                # time since the source started
    name: str                     # "camera 0 frame 12", "video.mp4 frame 12", "photos/003.jpg"
    digest: bytes | None = None   # SHA-256 of a photo file's bytes (None for camera and video frames)
    taken_at: float | None = None  # when a photo or video frame was taken, seconds since the epoch (file time)


def is_live(source: str) -> bool:
    """Tell whether ``source`` is a camera (endless) rather than a file or folder."""
    return source.isdigit()


def open_frames(source: str) -> Iterator[Frame]:
    """Return the frames of ``source``: a camera index ("0"), a video file or a folder of photos."""
    if is_live(source):
        label = f"camera {source}"
        return _read_capture(_opened(cv2.VideoCapture(int(source)), label), label, live=True)
    path = Path(source)
    if path.is_dir():
        return _folder(path)
    if path.is_file():
        video = _opened(cv2.VideoCapture(str(path)), path.name)
        return _read_capture(video, path.name, live=False, recorded_from=_recording_start(video, path))
    raise SourceError(f"no camera, video file or folder called {source!r}")


def _opened(capture: cv2.VideoCapture, label: str) -> cv2.VideoCapture:
    """Return ``capture`` when OpenCV could open it; raise SourceError otherwise."""
    if not capture.isOpened():
        raise SourceError(f"cannot open {label} (not a camera or a video OpenCV can read)")
    return capture


def _recording_start(video: cv2.VideoCapture, path: Path) -> float | None:
    """Return when a video file's recording began (its file time less its length), None when unknown."""
    frames, fps = video.get(cv2.CAP_PROP_FRAME_COUNT), video.get(cv2.CAP_PROP_FPS)
    if not (frames > 0 and fps > 0):
        return None
    return path.stat().st_mtime - frames / fps


def _read_capture(capture: cv2.VideoCapture, label: str, live: bool,
                  recorded_from: float | None = None) -> Iterator[Frame]:
    """Yield frames until a video ends, or until a camera has failed for CAMERA_PATIENCE_S."""
    start = time.monotonic()
    index, failing_since = 0, None
    try:
        while True:
            ok, pixels = capture.read()
            if not ok:
                if not live:
                    return
                # A camera may drop frames (USB hiccup, exposure change): give it a moment.
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > CAMERA_PATIENCE_S:
                    raise SourceError(f"{label} gave no picture for {CAMERA_PATIENCE_S:g} s")
                time.sleep(0.05)
                continue
            failing_since = None
            seconds = time.monotonic() - start if live else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
            taken_at = None if recorded_from is None else recorded_from + seconds
            yield Frame(pixels, seconds, f"{label} frame {index}", taken_at=taken_at)
            index += 1
    finally:
        capture.release()


def _folder(folder: Path) -> Iterator[Frame]:
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    for index, photo in enumerate(photos):
        try:
            taken_at, content = photo.stat().st_mtime, photo.read_bytes()
        except OSError:  # removed or unreadable since the folder was listed
            yield Frame(None, index * PHOTO_INTERVAL_S, str(photo))
            continue
        yield Frame(_photo_pixels(content), index * PHOTO_INTERVAL_S, str(photo),
                    hashlib.sha256(content).digest(), taken_at)


def _photo_pixels(content: bytes) -> np.ndarray | None:
    """Decode a photo file's bytes; None when they are not an image OpenCV can read."""
    if not content:
        return None
    # imdecode on bytes, not imread: it reads any file name and gives None for a bad photo.
    return cv2.imdecode(np.frombuffer(content, dtype=np.uint8), cv2.IMREAD_COLOR)
