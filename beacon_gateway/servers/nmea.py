"""NMEA 0183 over TCP: a receiver sends its device id on the first line, then sentences.

NMEA has no acknowledgement, so a receiver cannot resend: positions are stored as each
chunk of lines completes fixes (one epoch late, see ``decoders.nmea``), and what is still
open when the connection ends is stored before it is closed. Bad lines are logged and
skipped; the stream goes on.
"""
from __future__ import annotations

import logging

from beacon_gateway.decoders.nmea import PROTOCOL, LineError, NmeaStream
from beacon_gateway.position import Position
from beacon_gateway.servers import Ingest
from beacon_gateway.servers.tcp import MAX_LINE_BYTES, Connection, Hangup, admit_or_hang_up, store_or_hang_up

log = logging.getLogger(__name__)


async def nmea_session(ingest: Ingest, connection: Connection) -> None:
    """Identify the receiver by its first line, then store the fixes its sentences make."""
    buffer = b""
    while b"\n" not in buffer:
        buffer = await connection.read_more(buffer)
        if len(buffer) > MAX_LINE_BYTES:
            raise Hangup("no device id line")
    first, _, buffer = buffer.partition(b"\n")
    device_id = first.strip().decode("ascii", "replace")
    if device_id.startswith(("$", "!")):
        raise Hangup("an NMEA connection starts with a line naming the device (its registered id)")
    await admit_or_hang_up(ingest, connection, device_id, PROTOCOL)
    stream, line_number = NmeaStream(device_id), 1
    try:
        while True:
            *lines, buffer = buffer.split(b"\n")
            positions = []
            for line in lines:
                line_number += 1
                positions += _positions(stream.feed(line.rstrip(b"\r"), line_number), device_id)
            if positions:
                await store_or_hang_up(ingest, positions)
            if len(buffer) > MAX_LINE_BYTES:
                raise Hangup(f"a line longer than {MAX_LINE_BYTES} bytes")
            buffer = await connection.read_more(buffer)
    finally:
        # The connection is ending: the last line and the open epoch are complete now.
        tail = stream.feed(buffer.rstrip(b"\r"), line_number + 1) if buffer.strip() else []
        rest = _positions(tail + stream.flush(), device_id)
        if rest:
            await store_or_hang_up(ingest, rest)


def _positions(items: list[Position | LineError], device_id: str) -> list[Position]:
    for item in items:
        if isinstance(item, LineError):
            log.info("NMEA %s line %s skipped: %s", device_id, item.line_number, item.message)
    return [item for item in items if isinstance(item, Position)]
