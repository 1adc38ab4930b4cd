"""Encode positions the way real beacons send them, for the simulator and for tests.

Each encoder is the inverse of the gateway's decoder for that protocol (checked by
round-trip tests): native JSON pings, OsmAnd query strings (Traccar Client), NMEA 0183
RMC + GGA sentences, Teltonika Codec 8 AVL packets with the IMEI handshake, and GT06
login and 0x12 location packets. The other GT06 layouts and Teltonika codecs are in
``simulator.packets``; the registry (``beacon_gateway.protocols``) says which protocol uses which.
"""
from __future__ import annotations

import json
import struct
from datetime import timezone
from typing import Any, Sequence
from urllib.parse import urlencode

from beacon_gateway.decoders.crc import crc16_ibm, crc16_itu
from beacon_gateway.position import Position

KMH_PER_KNOT = 1.852


def iso_z(position: Position) -> str:
    """Return the fix time as ISO 8601 UTC with a Z."""
    moment = position.fix_time.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")


def json_ping(position: Position) -> dict[str, Any]:
    """Return one ping of the gateway's native JSON batch."""
    ping: dict[str, Any] = {"fix_time": iso_z(position), "lat": position.lat, "lon": position.lon}
    for name in ("speed_kmh", "course", "altitude_m", "accuracy_m", "hdop", "satellites"):
        if getattr(position, name) is not None:
            ping[name] = getattr(position, name)
    if not position.valid:
        ping["valid"] = False
    return ping


def json_batch(positions: Sequence[Position]) -> bytes:
    """Return a native JSON batch (HTTP body or MQTT payload) of one device's positions."""
    return json.dumps({"device_id": positions[0].device_id,
                       "pings": [json_ping(p) for p in positions]}).encode()


def osmand_query(position: Position) -> str:
    """Return the OsmAnd query string Traccar Client would send (speed in knots)."""
    fields: dict[str, Any] = {"id": position.device_id, "lat": f"{position.lat:.6f}",
                              "lon": f"{position.lon:.6f}", "timestamp": int(position.fix_time.timestamp())}
    if position.speed_kmh is not None:
        fields["speed"] = round(position.speed_kmh / KMH_PER_KNOT, 3)
    if position.course is not None:
        fields["bearing"] = position.course
    if position.accuracy_m is not None:
        fields["accuracy"] = position.accuracy_m
    return urlencode(fields)


def _nmea(body: str) -> str:
    checksum = 0
    for char in body.encode("ascii"):
        checksum ^= char
    return f"${body}*{checksum:02X}"


def _angle(value: float, degree_digits: int) -> str:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    return f"{degrees:0{degree_digits}d}{minutes:07.4f}"


def nmea_sentences(position: Position, talker: str = "GP") -> list[str]:
    """Return the RMC and GGA sentences of one fix (checksummed, without line ends)."""
    t = position.fix_time.astimezone(timezone.utc)
    hms = f"{t:%H%M%S}.{t.microsecond // 10000:02d}"
    lat = f"{_angle(position.lat, 2)},{'N' if position.lat >= 0 else 'S'}"
    lon = f"{_angle(position.lon, 3)},{'E' if position.lon >= 0 else 'W'}"
    knots = "" if position.speed_kmh is None else f"{position.speed_kmh / KMH_PER_KNOT:.2f}"
    course = "" if position.course is None else f"{position.course:.1f}"
    status, quality = ("A", 1) if position.valid else ("V", 0)
    rmc = f"{talker}RMC,{hms},{status},{lat},{lon},{knots},{course},{t:%d%m%y},,,{status}"
    hdop = "" if position.hdop is None else f"{position.hdop:.1f}"
    altitude = "" if position.altitude_m is None else f"{position.altitude_m:.1f}"
    gga = f"{talker}GGA,{hms},{lat},{lon},{quality},{position.satellites or 0:02d},{hdop},{altitude},M,0.0,M,,"
    return [_nmea(rmc), _nmea(gga)]


def teltonika_handshake(imei: str) -> bytes:
    """Return the IMEI message a Teltonika device opens its connection with."""
    return struct.pack(">H", len(imei)) + imei.encode("ascii")


def teltonika_record(position: Position) -> bytes:
    """Return one Codec 8 AVL record (no IO elements)."""
    millis = round(position.fix_time.timestamp() * 1000)
    gps = struct.pack(">iihHBH", round(position.lon * 1e7), round(position.lat * 1e7),
                      round(position.altitude_m or 0), round(position.course or 0) % 360,
                      position.satellites if position.valid else 0, round(position.speed_kmh or 0))
    io = bytes([0, 0, 0, 0, 0, 0])     # event IO id, total count, then no 1/2/4/8-byte elements
    return struct.pack(">QB", millis, 0) + gps + io


def teltonika_packet(positions: Sequence[Position]) -> bytes:
    """Return a Codec 8 AVL data packet of ``positions`` with its CRC-16/IBM."""
    data = bytes([0x08, len(positions)]) + b"".join(teltonika_record(p) for p in positions) + bytes([len(positions)])
    return b"\x00\x00\x00\x00" + struct.pack(">I", len(data)) + data + struct.pack(">I", crc16_ibm(data))


def gt06_packet(protocol: int, content: bytes, serial: int) -> bytes:
    """Return a GT06 packet: start, length, protocol number, content, serial, CRC-ITU, stop."""
    body = bytes([len(content) + 5, protocol]) + content + struct.pack(">H", serial & 0xFFFF)
    return b"\x78\x78" + body + struct.pack(">H", crc16_itu(body)) + b"\x0d\x0a"


def gt06_login(imei: str, serial: int = 1) -> bytes:
    """Return the GT06 login packet (the IMEI as 8 BCD bytes)."""
    if not imei.isdigit() or len(imei) > 16:
        raise ValueError(f"a GT06 device id is an IMEI of up to 16 digits, not {imei!r}")
    return gt06_packet(0x01, bytes.fromhex(imei.rjust(16, "0")), serial)


def gt06_location(position: Position, serial: int) -> bytes:
    """Return a GT06 0x12 location packet (with a demo cell tower: Kyrgyzstan, MCC 437)."""
    t = position.fix_time.astimezone(timezone.utc)
    status = (round(position.course or 0) % 360) | (0x0400 if position.lat >= 0 else 0) \
        | (0x0800 if position.lon < 0 else 0) | (0x1000 if position.valid else 0)
    content = bytes([t.year - 2000, t.month, t.day, t.hour, t.minute, t.second,
                     0xC0 | min(position.satellites or 0, 15)])
    content += struct.pack(">IIBH", round(abs(position.lat) * 1_800_000), round(abs(position.lon) * 1_800_000),
                           min(round(position.speed_kmh or 0), 255), status)
    content += struct.pack(">HBH", 437, 1, 0x1234) + (0x5678).to_bytes(3, "big")
    return gt06_packet(0x12, content, serial)
