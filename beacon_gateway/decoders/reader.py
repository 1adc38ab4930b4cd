"""A bounds-checked reader over a binary message: truncation becomes a DecodeError."""
from __future__ import annotations

from beacon_gateway.position import DecodeError


class Reader:
    """Read big-endian fields from ``data``; running past the end raises DecodeError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.offset = 0
        self.what = what

    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.offset

    def take(self, size: int) -> bytes:
        """Return the next ``size`` bytes."""
        if size < 0 or self.offset + size > len(self.data):
            raise DecodeError(
                f"{self.what} truncated: needed {size} byte(s) at offset {self.offset}, "
                f"{self.remaining()} left"
            )
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def uint(self, size: int) -> int:
        """Read an unsigned big-endian integer of ``size`` bytes."""
        return int.from_bytes(self.take(size), "big")

    def sint(self, size: int) -> int:
        """Read a two's-complement signed big-endian integer of ``size`` bytes."""
        return int.from_bytes(self.take(size), "big", signed=True)
