"""Teltonika Codec 8 and Codec 8 Extended (FMB/FMC/FMM devices) over TCP.

The conversation, per Teltonika's "Data Sending Protocols" specification:

1. the device sends its IMEI: 2-byte length + ASCII digits; the server answers
   ``IMEI_ACCEPT`` (0x01) or ``IMEI_REJECT`` (0x00);
2. the device sends AVL data packets: 4 zero bytes, 4-byte data length, codec id
   (0x08 or 0x8E), record count, records, record count again, 4-byte CRC-16/IBM of the
   bytes from codec id to the second count;
3. the server answers ``ack(count)`` (4-byte big-endian count) once the records are
   stored; the device resends the packet when the answer does not come.

Each record becomes one Position whose ``raw`` is that record's own bytes. IO elements go
to ``extra["io"]`` keyed by IO id (as text); variable-length (Codec 8E "NX") values as hex.
A record without a fix (0 satellites, or coordinates exactly 0/0) has ``valid=False``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from beacon_gateway.decoders.crc import crc16_ibm
from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import ChecksumError, DecodeError, Position

PROTOCOL = "teltonika"
IMEI_ACCEPT = b"\x01"
IMEI_REJECT = b"\x00"
CODEC_8 = 0x08
CODEC_8_EXTENDED = 0x8E
#: Larger than any Teltonika device sends (their buffers are a few KiB); a bigger
#: length field means a corrupt or hostile stream, not a packet to wait for.
MAX_DATA_LENGTH = 65536
_HEADER = 8            # preamble + data length
_TRAILER = 4           # CRC field
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Well-known FMB IO ids, copied to readable names in ``extra`` as well.
_NAMED_IO = {239: "ignition", 240: "movement", 66: "external_voltage_mv",
             67: "battery_voltage_mv", 21: "gsm_signal", 16: "odometer_m"}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Field widths that differ between Codec 8 and Codec 8 Extended."""

    id_size: int
    count_size: int
    variable: bool      # Codec 8E adds a group of variable-length values


_LAYOUTS = {CODEC_8: _Layout(1, 1, False), CODEC_8_EXTENDED: _Layout(2, 2, True)}


def split_imei(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut the IMEI handshake off the front of ``buffer``: (handshake or None if incomplete, rest)."""
    if len(buffer) < 2:
        return None, buffer
    size = int.from_bytes(buffer[:2], "big")
    if not 1 <= size <= 32:
        raise DecodeError(f"IMEI handshake announces {size} bytes; expected 15 to 17 digits")
    if len(buffer) < 2 + size:
        return None, buffer
    return buffer[:2 + size], buffer[2 + size:]


def parse_imei(handshake: bytes) -> str:
    """Return the IMEI of a complete handshake (2-byte length + ASCII digits)."""
    if len(handshake) < 3:
        raise DecodeError("IMEI handshake too short")
    size = int.from_bytes(handshake[:2], "big")
    digits = handshake[2:]
    if size != len(digits):
        raise DecodeError(f"IMEI handshake announces {size} bytes but carries {len(digits)}")
    if not digits.isdigit() or not 15 <= len(digits) <= 17:
        raise DecodeError(f"IMEI handshake is not 15 to 17 ASCII digits: {digits!r}")
    return digits.decode("ascii")


def split_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut one AVL data packet off the front of ``buffer``: (packet or None if incomplete, rest).

    Raises DecodeError when the buffer does not start with a packet (the connection
    should then be closed: a TCP stream cannot be resynchronised reliably).
    """
    if len(buffer) < _HEADER:
        if buffer.strip(b"\x00"):
            raise DecodeError("AVL packet does not start with the 4 zero-byte preamble")
        return None, buffer
    if buffer[:4] != b"\x00\x00\x00\x00":
        raise DecodeError(f"AVL packet does not start with the 4 zero-byte preamble: {buffer[:4].hex()}")
    length = int.from_bytes(buffer[4:8], "big")
    if not 3 <= length <= MAX_DATA_LENGTH:
        raise DecodeError(f"AVL packet data length {length} outside 3..{MAX_DATA_LENGTH}")
    end = _HEADER + length + _TRAILER
    if len(buffer) < end:
        return None, buffer
    return buffer[:end], buffer[end:]


def decode_packet(frame: bytes, device_id: str) -> tuple[list[Position], int]:
    """Decode one complete AVL data packet; returns (positions, record count to acknowledge)."""
    data = _checked_data(frame)
    reader = Reader(data, "AVL packet")
    codec = reader.uint(1)
    layout = _LAYOUTS.get(codec)
    if layout is None:
        raise DecodeError(f"codec 0x{codec:02x} is not an AVL data codec (0x08 or 0x8E expected)")
    count = reader.uint(1)
    positions = [_record(reader, layout, device_id, index) for index in range(count)]
    trailing_count = reader.uint(1)
    if trailing_count != count or reader.remaining():
        raise DecodeError(
            f"AVL packet record counts disagree ({count} then {trailing_count}) "
            f"or {reader.remaining()} stray byte(s) follow"
        )
    return positions, count


def ack(count: int) -> bytes:
    """The server's answer to a stored packet: the number of records, 4 bytes big-endian."""
    return count.to_bytes(4, "big")


def _checked_data(frame: bytes) -> bytes:
    """Return the data field of ``frame`` after checking its framing and CRC."""
    packet, rest = split_frame(frame)
    if packet is None or rest:
        expected = _HEADER + int.from_bytes(frame[4:8], "big") + _TRAILER if len(frame) >= _HEADER else None
        raise DecodeError(f"AVL packet of {len(frame)} bytes, but its data length field says {expected}")
    data = frame[_HEADER:-_TRAILER]
    expected = int.from_bytes(frame[-_TRAILER:], "big")
    actual = crc16_ibm(data)
    if expected != actual:
        raise ChecksumError(f"AVL packet CRC mismatch: packet says {expected:04x}, data gives {actual:04x}")
    return data


def _record(reader: Reader, layout: _Layout, device_id: str, index: int) -> Position:
    """Decode one AVL record (timestamp, priority, GPS element, IO element)."""
    start = reader.offset
    try:
        millis = reader.uint(8)
        priority = reader.uint(1)
        lon, lat = reader.sint(4) / 1e7, reader.sint(4) / 1e7
        altitude, course = reader.sint(2), reader.uint(2)
        satellites, speed = reader.uint(1), reader.uint(2)
        event_io, io = _io_element(reader, layout)
    except DecodeError as error:
        raise DecodeError(f"record {index}: {error}") from None
    _check_ranges(index, lat, lon, millis)
    valid = satellites > 0 and (lat, lon) != (0.0, 0.0)
    return Position(
        device_id=device_id, fix_time=_EPOCH + timedelta(milliseconds=millis), lat=lat, lon=lon,
        protocol=PROTOCOL, raw=reader.data[start:reader.offset], speed_kmh=float(speed),
        course=float(course), altitude_m=float(altitude), satellites=satellites, valid=valid,
        extra=_extra(priority, event_io, io),
    )


def _check_ranges(index: int, lat: float, lon: float, millis: int) -> None:
    """Refuse coordinates or times no device can report."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DecodeError(f"record {index}: coordinates out of range ({lat}, {lon})")
    if millis > 253402300799999:  # after 9999-12-31: not a time at all
        raise DecodeError(f"record {index}: timestamp {millis} ms is not a date")


def _io_element(reader: Reader, layout: _Layout) -> tuple[int, dict[str, Any]]:
    """Read the IO element: event IO id, total count, then groups of 1/2/4/8-byte values."""
    event_io = reader.uint(layout.id_size)
    total = reader.uint(layout.count_size)
    values: dict[str, Any] = {}
    for width in (1, 2, 4, 8):
        for _ in range(reader.uint(layout.count_size)):
            io_id = reader.uint(layout.id_size)
            values[str(io_id)] = reader.uint(width)
    if layout.variable:
        for _ in range(reader.uint(2)):
            io_id = reader.uint(2)
            values[str(io_id)] = reader.take(reader.uint(2)).hex()
    del total  # devices differ in how they count; the CRC already vouches for the bytes
    return event_io, values


def _extra(priority: int, event_io: int, io: dict[str, Any]) -> dict[str, Any]:
    """Build ``extra``: priority, triggering IO, every IO value, and readable names for common ones."""
    extra: dict[str, Any] = {"priority": priority, "event_io": event_io, "io": io}
    for io_id, name in _NAMED_IO.items():
        if str(io_id) in io:
            extra[name] = io[str(io_id)]
    return extra
