"""Barcodes in, custody events out: ``decode(image) -> list[Decoded]`` and the checkpoint station."""
from scanner_app.decode import decode
from scanner_app.decoded import Decoded, ImageError

__all__ = ["Decoded", "ImageError", "decode"]
