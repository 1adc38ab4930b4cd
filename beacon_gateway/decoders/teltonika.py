"""Teltonika AVL codecs 8, 8 Extended, 16 and GH-series codec 7 over TCP, and the
unsolicited GPRS command answers of codecs 12, 13 and 14.

The conversation, per Teltonika's "Data Sending Protocols" specification:

1. the device sends its IMEI: 2-byte length + ASCII digits; the server answers
   ``IMEI_ACCEPT`` (0x01) or ``IMEI_REJECT`` (0x00);
2. the device sends packets: 4 zero bytes, 4-byte data length, codec id, record count,
   records, record count again, 4-byte CRC-16/IBM of the bytes from codec id to the second
   count; a lone ``0xFF`` byte between packets is a keep-alive ping (no answer);
3. the server answers a data packet of any codec with ``ack(count)`` (4-byte big-endian
   count) once the records are stored; the device resends the packet when the answer does
   not come. A command answer (codec 12/13/14) is not acknowledged: the protocol has none.

Codec 8 has 1-byte IO ids and counts, 8E 2-byte ids and counts plus variable-length values,
16 2-byte ids, 1-byte counts and a generation type byte. Some firmware adds a group of
16-byte IO values after the 8-byte group (Traccar's "extended" option): a packet that does
not parse without that group is tried with it, so no setting is needed. Codec 7 (GH3000)
packs the time (seconds since 2007) and priority into 4 bytes, then masks say which GPS
fields and IO groups follow; its coordinates are IEEE floats.

Each record becomes one Position whose ``raw`` is that record's own bytes. IO elements go
to ``extra["io"]`` keyed by IO id (as text); variable-length and 16-byte values as hex.
A record without a fix (0 satellites, or coordinates exactly 0/0) has ``valid=False``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from beacon_gateway.decoders import teltonika_codec7 as codec7
from beacon_gateway.decoders.crc import crc16_ibm
from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import ChecksumError, DecodeError, Position

PROTOCOL = "teltonika"
IMEI_ACCEPT = b"\x01"
IMEI_REJECT = b"\x00"
PING = b"\xff"
PREAMBLE = b"\x00\x00\x00\x00"
CODEC_7 = 0x07
CODEC_8 = 0x08
CODEC_8_EXTENDED = 0x8E
CODEC_16 = 0x10
#: GPRS command codecs: 12 (text), 13 (text with a timestamp), 14 (text with the IMEI)
COMMAND_CODECS = frozenset({0x0C, 0x0D, 0x0E})
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
    """Field widths that differ between the codecs (and the optional 16-byte IO group)."""

    id_size: int
    count_size: int
    variable: bool = False     # Codec 8E adds a group of variable-length values
    generation: bool = False   # Codec 16 adds a generation type byte after the event IO id
    wide_values: bool = False  # the "extended" firmware option: a group of 16-byte values


_LAYOUTS = {CODEC_8: _Layout(1, 1), CODEC_8_EXTENDED: _Layout(2, 2, variable=True),
            CODEC_16: _Layout(2, 1, generation=True)}


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet: AVL records, a keep-alive ping or a command answer."""

    kind: str                    # "data" | "ping" | "command_response"
    codec: int | None
    positions: list[Position] = field(default_factory=list)
    count: int = 0               # records, to acknowledge
    text: str = ""               # a command answer's text

    @property
    def answer(self) -> bytes | None:
        """What the server sends back: the record count for data, nothing otherwise."""
        return ack(self.count) if self.kind == "data" else None


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
    """Cut one packet (or a ``PING`` byte) off the front of ``buffer``: (it or None if incomplete, rest).

    Raises DecodeError when the buffer does not start with a packet; the server then skips
    to the next preamble (``resync``).
    """
    if buffer[:1] == PING:
        return PING, buffer[1:]
    if len(buffer) < _HEADER:
        if buffer.strip(b"\x00"):
            raise DecodeError("AVL packet does not start with the 4 zero-byte preamble")
        return None, buffer
    if buffer[:4] != PREAMBLE:
        raise DecodeError(f"AVL packet does not start with the 4 zero-byte preamble: {buffer[:4].hex()}")
    length = int.from_bytes(buffer[4:8], "big")
    if not 3 <= length <= MAX_DATA_LENGTH:
        raise DecodeError(f"AVL packet data length {length} outside 3..{MAX_DATA_LENGTH}")
    end = _HEADER + length + _TRAILER
    if len(buffer) < end:
        return None, buffer
    return buffer[:end], buffer[end:]


def resync(buffer: bytes) -> int:
    """How many bytes to skip after a broken packet: up to the next preamble or ping after byte 0."""
    found = [i for i in (buffer.find(PREAMBLE, 1), buffer.find(PING, 1)) if i >= 0]
    if found:
        return min(found)
    tail = len(buffer) - len(buffer.rstrip(b"\x00"))      # zeros at the end may begin a preamble
    return max(1, len(buffer) - min(tail, 3))


def decode(frame: bytes, device_id: str) -> Packet:
    """Decode one complete packet or ping of any codec."""
    if frame == PING:
        return Packet("ping", None)
    data = _checked_data(frame)
    codec = data[0]
    if codec in COMMAND_CODECS:
        return Packet("command_response", codec, text=_command_text(data))
    positions, count = _records(data, device_id)
    return Packet("data", codec, positions, count)


def decode_packet(frame: bytes, device_id: str) -> tuple[list[Position], int]:
    """Decode one complete AVL data packet; returns (positions, record count to acknowledge)."""
    return _records(_checked_data(frame), device_id)


def ack(count: int) -> bytes:
    """The server's answer to a stored packet: the number of records, 4 bytes big-endian."""
    return count.to_bytes(4, "big")


def _checked_data(frame: bytes) -> bytes:
    """Return the data field of ``frame`` after checking its framing and CRC."""
    packet, rest = split_frame(frame)
    if packet is None or rest or packet == PING:
        expected = _HEADER + int.from_bytes(frame[4:8], "big") + _TRAILER if len(frame) >= _HEADER else None
        raise DecodeError(f"AVL packet of {len(frame)} bytes, but its data length field says {expected}")
    data = frame[_HEADER:-_TRAILER]
    expected = int.from_bytes(frame[-_TRAILER:], "big")
    actual = crc16_ibm(data)
    if expected != actual:
        raise ChecksumError(f"AVL packet CRC mismatch: packet says {expected:04x}, data gives {actual:04x}")
    return data


def _records(data: bytes, device_id: str) -> tuple[list[Position], int]:
    """The records of a data field, trying the 16-byte IO group when the plain layout does not fit."""
    codec = data[0]
    if codec == CODEC_7:
        return _all_records(data, lambda reader, index: codec7.record(reader, device_id, index))
    layout = _LAYOUTS.get(codec)
    if layout is None:
        raise DecodeError(f"codec 0x{codec:02x} is not an AVL data codec (0x07, 0x08, 0x8E or 0x10 expected)")
    try:
        return _all_records(data, lambda reader, index: _record(reader, layout, device_id, index))
    except DecodeError as plain_error:
        wide = replace(layout, wide_values=True)
        try:
            return _all_records(data, lambda reader, index: _record(reader, wide, device_id, index))
        except DecodeError:
            raise plain_error from None


def _all_records(data: bytes, read: Callable[[Reader, int], Position]) -> tuple[list[Position], int]:
    """Codec id, count, the records, the count again, and not a byte more."""
    reader = Reader(data, "AVL packet")
    reader.uint(1)
    count = reader.uint(1)
    positions = [read(reader, index) for index in range(count)]
    trailing_count = reader.uint(1)
    if trailing_count != count or reader.remaining():
        raise DecodeError(
            f"AVL packet record counts disagree ({count} then {trailing_count}) "
            f"or {reader.remaining()} stray byte(s) follow"
        )
    return positions, count


def _command_text(data: bytes) -> str:
    """The text of a codec 12/13/14 answer: quantity, type, size, [timestamp or IMEI], text."""
    reader = Reader(data, "GPRS command answer")
    codec, _quantity, _kind = reader.uint(1), reader.uint(1), reader.uint(1)
    body = reader.take(reader.uint(4))
    if codec != 0x0C:                                    # 13: 4-byte timestamp, 14: 8-byte IMEI
        body = body[4 if codec == 0x0D else 8:]
    return body.decode("ascii", errors="replace")


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
    check_ranges(index, lat, lon, millis)
    valid = satellites > 0 and (lat, lon) != (0.0, 0.0)
    return Position(
        device_id=device_id, fix_time=_EPOCH + timedelta(milliseconds=millis), lat=lat, lon=lon,
        protocol=PROTOCOL, raw=reader.data[start:reader.offset], speed_kmh=float(speed),
        course=float(course), altitude_m=float(altitude), satellites=satellites, valid=valid,
        extra=extra_of(priority, event_io, io),
    )


def check_ranges(index: int, lat: float, lon: float, millis: int) -> None:
    """Refuse coordinates or times no device can report."""
    codec7.check_coordinates(index, lat, lon)
    if millis > 253402300799999:  # after 9999-12-31: not a time at all
        raise DecodeError(f"record {index}: timestamp {millis} ms is not a date")


def _io_element(reader: Reader, layout: _Layout) -> tuple[int, dict[str, Any]]:
    """Read the IO element: event IO id, [generation type], total count, then groups of values."""
    event_io = reader.uint(layout.id_size)
    values: dict[str, Any] = {}
    if layout.generation:
        values["generation"] = reader.uint(1)
    reader.uint(layout.count_size)   # total: devices differ in how they count; the CRC vouches
    for width in (1, 2, 4, 8):
        for _ in range(reader.uint(layout.count_size)):
            io_id = reader.uint(layout.id_size)
            values[str(io_id)] = reader.uint(width)
    if layout.wide_values:
        for _ in range(reader.uint(layout.count_size)):
            io_id = reader.uint(layout.id_size)
            values[str(io_id)] = reader.take(16).hex()
    if layout.variable:
        for _ in range(reader.uint(2)):
            io_id = reader.uint(2)
            values[str(io_id)] = reader.take(reader.uint(2)).hex()
    return event_io, values


def extra_of(priority: int, event_io: int | None, io: dict[str, Any]) -> dict[str, Any]:
    """Build ``extra``: priority, triggering IO, every IO value, and readable names for common ones."""
    generation = io.pop("generation", None)
    extra: dict[str, Any] = {"priority": priority, "event_io": event_io, "io": io}
    if generation is not None:
        extra["generation"] = generation      # codec 16: on exit, on entrance, both, monitoring ...
    for io_id, name in _NAMED_IO.items():
        if str(io_id) in io:
            extra[name] = io[str(io_id)]
    return extra

