"""The simulator's other packet types: every GT06 location and alarm layout, Teltonika codecs
8 Extended, 16 and 7 (GH series).

Each is the inverse of the decoder for that packet (checked by round-trip tests), so
``beacon-gateway simulate --packet`` can drive a gateway with any of them. GT06 packets carry
a demo cell (Kyrgyzstan, MCC 437); alarms carry ``position.extra["alarm"]`` (default ``sos``).
"""
from __future__ import annotations

import struct
from datetime import timezone
from typing import Sequence

from beacon_gateway.decoders import gt06, gt06_fields, teltonika, teltonika_codec7
from beacon_gateway.decoders.crc import crc16_ibm
from beacon_gateway.position import Position
from beacon_gateway.simulator.encoders import gt06_packet, teltonika_record

#: GT06 packets the simulator sends: the classic location 0x12 first (the default), then every
#: other location and alarm layout (not the address request)
GT06_PACKETS = ("12", *(f"{n:02x}" for n in sorted(gt06.LAYOUTS)
                        if n != gt06.LOCATION and gt06.LAYOUTS[n].kind != "address_request"))
TELTONIKA_CODECS = ("8", "8e", "16", "7")
_ALARM_CODES = {name: code for code, name in sorted(gt06_fields.ALARMS.items(), reverse=True)}
_DEMO_MCC, _DEMO_MNC, _DEMO_LAC, _DEMO_CELL = 437, 1, 0x1234, 0x5678


def gt06_gps(position: Position) -> bytes:
    """The 18-byte GPS block every GT06 position packet starts with (date-time in UTC)."""
    t = position.fix_time.astimezone(timezone.utc)
    status = (round(position.course or 0) % 360) | (0x0400 if position.lat >= 0 else 0) \
        | (0x0800 if position.lon < 0 else 0) | (0x1000 if position.valid else 0)
    block = bytes([t.year - 2000, t.month, t.day, t.hour, t.minute, t.second,
                   0xC0 | min(position.satellites or 0, 15)])
    return block + struct.pack(">IIBH", round(abs(position.lat) * 1_800_000), round(abs(position.lon) * 1_800_000),
                               min(round(position.speed_kmh or 0), 255), status)


def _gt06_cell(size: str | None) -> bytes:
    """The demo cell in the packet's sizes (2G, 4G or 2G with a long MNC and cell id)."""
    if size == "4g":
        return struct.pack(">HBIQ", _DEMO_MCC, _DEMO_MNC, _DEMO_LAC, _DEMO_CELL)
    if size == "2g_long":
        return struct.pack(">HHHI", _DEMO_MCC, _DEMO_MNC, _DEMO_LAC, _DEMO_CELL)
    return struct.pack(">HBH", _DEMO_MCC, _DEMO_MNC, _DEMO_LAC) + _DEMO_CELL.to_bytes(3, "big")


def gt06_located(number: int, position: Position, serial: int) -> bytes:
    """A GT06 location or alarm packet ``number`` laid out as ``gt06.LAYOUTS`` says."""
    layout, ignition = gt06.LAYOUTS[number], bool(position.extra.get("ignition", True))
    content = gt06_gps(position)
    if layout.alarm:
        cell = _gt06_cell(layout.cell)
        content += bytes([len(cell) + 1]) + cell
        terminal = 0x40 | (0x02 if ignition else 0)           # GPS tracking on, ignition
        content += bytes([terminal, 6, 4, _ALARM_CODES[position.extra.get("alarm", "sos")]])
    elif layout.cell is not None:
        content += _gt06_cell(layout.cell)
    if layout.tail == "acc":
        content += bytes([int(ignition), 0, 0]) + int(position.extra.get("odometer_m", 0)).to_bytes(4, "big")
    elif layout.tail == "fence":
        content += b"\x00\x01" + bytes([int(position.extra.get("fence", 0))])
    return gt06_packet(number, content, serial)


def _gps_element(position: Position) -> bytes:
    return struct.pack(">iihHBH", round(position.lon * 1e7), round(position.lat * 1e7),
                       round(position.altitude_m or 0), round(position.course or 0) % 360,
                       position.satellites if position.valid else 0, round(position.speed_kmh or 0))


def _millis(position: Position) -> bytes:
    return struct.pack(">QB", round(position.fix_time.timestamp() * 1000), 0)


def teltonika_8e_record(position: Position) -> bytes:
    """One Codec 8 Extended record: 2-byte IO ids and counts, an empty variable-length group."""
    return _millis(position) + _gps_element(position) + bytes(14)


def teltonika_16_record(position: Position, generation: int = 7) -> bytes:
    """One Codec 16 record: 2-byte event IO id, the generation type (7: periodical), no IO values."""
    return _millis(position) + _gps_element(position) + bytes([0, 0, generation]) + bytes(5)


def teltonika_7_record(position: Position) -> bytes:
    """One codec 7 (GH series) record: seconds since 2007 and priority, then the GPS element as
    IEEE floats with altitude, angle (360/256 degree), speed and satellites."""
    seconds = int((position.fix_time - teltonika_codec7.GH_EPOCH).total_seconds())
    gps = struct.pack(">ffhBBB", position.lat, position.lon, round(position.altitude_m or 0),
                      round((position.course or 0) * 256 / 360) % 256, min(round(position.speed_kmh or 0), 255),
                      position.satellites if position.valid else 0)
    return struct.pack(">IBB", seconds & 0x3FFFFFFF, 0x01, 0x1F) + gps


_RECORDS = {"8": (teltonika.CODEC_8, teltonika_record), "8e": (teltonika.CODEC_8_EXTENDED, teltonika_8e_record),
            "16": (teltonika.CODEC_16, teltonika_16_record), "7": (teltonika.CODEC_7, teltonika_7_record)}


def teltonika_codec_packet(codec: str, positions: Sequence[Position]) -> bytes:
    """A Teltonika AVL data packet of ``positions`` in ``codec`` (8, 8e, 16 or 7) with its CRC."""
    number, record = _RECORDS[codec]
    data = bytes([number, len(positions)]) + b"".join(record(p) for p in positions) + bytes([len(positions)])
    return teltonika.PREAMBLE + struct.pack(">I", len(data)) + data + struct.pack(">I", crc16_ibm(data))
