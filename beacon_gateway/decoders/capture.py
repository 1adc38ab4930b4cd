"""Whole device logs and captures, in any protocol of the registry, as positions and problems.

Used by ``beacon-gateway parse`` and ``check-route`` (and usable by an upload endpoint). A
registry entry reads its logs with its own ``capture`` reader, or else as frames cut by its
``framing`` and decoded by its ``decoder`` (``framed_log``). The built-in formats:

- ``nmea``: NMEA 0183 lines (problems by line number);
- ``osmand``: one request per line: a query string, a URL, or a JSON body;
- ``json``: one native batch document, or JSON lines of batches (or of single pings when a
  device id is given);
- ``teltonika`` / ``gt06`` (and any other framed protocol): the bytes of a captured TCP
  stream (problems by byte offset), or a hex dump with one frame per line (problems by line
  number). A Teltonika stream may start with the IMEI handshake and a GT06 stream with a
  login: they name the device. After a broken frame, decoding resumes at the next frame
  start found in the stream;
- ``gpx``: a GPX document (problems by track/segment/point).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterator

from beacon_gateway import protocols
from beacon_gateway.decoders import gpx, json_batch, nmea, osmand
from beacon_gateway.position import DecodeError, Position
from beacon_gateway.protocols import Link, Protocol

UNKNOWN_DEVICE = "unknown"
#: How much of a captured stream a frame is first looked for in (frames are far smaller; a larger
#: one gets a wider look)
WINDOW = 64 * 1024
_HEX_LINE = re.compile(rb"^[0-9A-Fa-f\s]*$")


def formats() -> tuple[str, ...]:
    """Return the formats ``read_capture`` reads: every registry entry that can be read from a file."""
    return tuple(p.name for p in protocols.every() if p.readable)


def __getattr__(name: str) -> Any:
    """``FORMATS``: the registry's readable formats, as they are when asked."""
    if name == "FORMATS":
        return formats()
    raise AttributeError(name)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the capture that could not be decoded, and where it is."""

    where: str        # "line 12", "byte 345", "track 1 segment 1 point 3", "pings[2].lat"
    message: str


Item = Position | Problem


class _FrameError(DecodeError):
    """A frame that was cut out whole but does not decode: skip ``length`` bytes."""

    def __init__(self, message: str, length: int) -> None:
        super().__init__(message)
        self.length = length


def read_capture(fmt: str, data: bytes, device_id: str | None = None,
                 fallback_date: date | None = None) -> Iterator[Item]:
    """Decode a whole capture of format ``fmt``: positions in order and the problems met."""
    protocol = protocols.find(fmt)
    if protocol is None or not protocol.readable:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(formats())}")
    if protocol.capture is not None:
        return protocol.capture(data, device_id, fallback_date)
    return framed_log(protocol, data, device_id)


def framed_log(protocol: Protocol, data: bytes, device_id: str | None) -> Iterator[Item]:
    """A framed protocol's capture: a hex dump of one frame per line, or the stream's bytes."""
    assert protocol.framing is not None
    reader = _frame_reader(protocol)
    hex_lines = _hex_dump(data)
    if hex_lines is not None:
        return _hex_units(hex_lines, reader, device_id)
    return _stream(data, reader, device_id, protocol.framing.starts)


def nmea_log(data: bytes, device_id: str | None, fallback_date: date | None) -> Iterator[Item]:
    """NMEA lines through the incremental decoder."""
    for item in nmea.decode_lines(_split_lines(data), device_id or UNKNOWN_DEVICE, fallback_date):
        yield Problem(f"line {item.line_number}", item.message) if isinstance(item, nmea.LineError) else item


def gpx_log(data: bytes, device_id: str | None, _fallback_date: date | None = None) -> Iterator[Item]:
    """A GPX document."""
    try:
        positions, problems = gpx.decode_gpx(data, device_id or UNKNOWN_DEVICE)
    except DecodeError as error:
        yield Problem("file", str(error))
        return
    yield from positions
    yield from (Problem(p.where, p.message) for p in problems)


def osmand_log(data: bytes, device_id: str | None, _fallback_date: date | None = None) -> Iterator[Item]:
    """One OsmAnd request per line."""
    return _lines(data, lambda line: osmand.decode_line(line, device_id))


def _lines(data: bytes, decode: Callable[[bytes], list[Position]]) -> Iterator[Item]:
    """One message per line; blank lines and ``#`` comments are skipped."""
    for number, line in enumerate(_split_lines(data), start=1):
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        try:
            yield from decode(line)
        except DecodeError as error:
            yield from _batch_problems(f"line {number}", error)


def json_log(data: bytes, device_id: str | None, _fallback_date: date | None = None) -> Iterator[Item]:
    """One batch document, or JSON lines of batches."""
    try:
        json.loads(data)
        whole = True
    except (ValueError, RecursionError):
        whole = False
    if not whole:
        yield from _lines(data, lambda line: json_batch.decode_batch(line, device_id))
        return
    try:
        yield from json_batch.decode_batch(data, device_id)
    except DecodeError as error:
        yield from _batch_problems("file", error)


def _batch_problems(where: str, error: DecodeError) -> Iterator[Problem]:
    """One problem per bad field of a refused batch, or the error itself."""
    fields = getattr(error, "fields", None)
    if not fields:
        yield Problem(where, str(error))
        return
    for name, message in fields.items():
        yield Problem(f"{where} {name}", message)


def _split_lines(data: bytes) -> list[bytes]:
    """Lines as an editor numbers them: split at LF (a stray CR stays in its line and is
    stripped later); a file with no LF at all is split at CR (old Mac line ends)."""
    return data.split(b"\n") if b"\n" in data else data.split(b"\r")


def _hex_dump(data: bytes) -> list[tuple[int, bytes]] | None:
    """(line number, bytes) of a hex dump with one frame per line, or None if ``data`` is binary."""
    lines = _split_lines(data)
    content = [(n, line) for n, line in enumerate(lines, start=1)
               if line.strip() and not line.lstrip().startswith(b"#")]
    if not content or not all(_HEX_LINE.match(line) for _, line in content):
        return None
    try:
        return [(n, bytes.fromhex(line.decode("ascii"))) for n, line in content]
    except ValueError:
        return None


# A unit reader takes (buffer, device id) and returns (bytes used, positions, device id);
# it raises DecodeError for a broken unit and returns 0 bytes used when the buffer is incomplete.
UnitReader = Callable[[bytes, str | None], tuple[int, list[Position], str | None]]


def _frame_reader(protocol: Protocol) -> UnitReader:
    """A reader of ``protocol``'s frames that carries the link (login, time zone) from frame to frame."""
    assert protocol.framing is not None and protocol.decoder is not None
    split, decode, link = protocol.framing.split, protocol.decoder, Link()

    def read(buffer: bytes, device_id: str | None) -> tuple[int, list[Position], str | None]:
        frame, _ = split(buffer)
        if frame is None:
            return 0, [], device_id
        link.device_id = device_id
        try:
            message = decode(frame, link)
        except DecodeError as error:
            raise _FrameError(str(error), len(frame)) from None
        if message.hang_up:
            raise _FrameError(message.reason, len(frame))
        return len(frame), message.positions, message.login or device_id

    return read


def _hex_units(lines: list[tuple[int, bytes]], read: UnitReader, device_id: str | None) -> Iterator[Item]:
    """A hex dump: each line one handshake, login or packet."""
    for number, unit in lines:
        try:
            used, positions, device_id = read(unit, device_id)
            if used != len(unit):
                raise DecodeError("line is not exactly one frame")
        except DecodeError as error:
            yield Problem(f"line {number}", str(error))
            continue
        yield from positions


def _stream(data: bytes, read: UnitReader, device_id: str | None,
            starts: tuple[bytes, ...]) -> Iterator[Item]:
    """A captured TCP stream: frames one after another, resynchronising after a broken one."""
    offset = 0
    while offset < len(data):
        try:
            used, positions, device_id = _read_at(data, offset, read, device_id)
        except _FrameError as error:
            yield Problem(f"byte {offset}", str(error))
            offset += error.length
            continue
        except DecodeError as error:
            yield Problem(f"byte {offset}", str(error))
            offset = _next_frame_start(data, offset + 1, starts)
            continue
        if used == 0:
            yield Problem(f"byte {offset}", "capture ends inside a frame")
            return
        yield from positions
        offset += used


def _read_at(data: bytes, offset: int, read: UnitReader,
             device_id: str | None) -> tuple[int, list[Position], str | None]:
    """Read the unit at ``offset`` through a window of the stream, widened until the unit ends inside
    it: handing the reader the whole rest of a capture for every frame made reading quadratic."""
    window = WINDOW
    while True:
        end = offset + window
        used, positions, found = read(data[offset:end], device_id)
        if end >= len(data) or 0 < used < window:
            return used, positions, found
        window *= 2            # incomplete, or ending just at the window's edge: look further


def _next_frame_start(data: bytes, start: int, starts: tuple[bytes, ...]) -> int:
    """Offset of the next possible frame start (the protocol's ``Framing.starts``)."""
    candidates = [i for i in (data.find(marker, start) for marker in starts) if i >= 0]
    return min(candidates) if candidates else len(data)
