"""Teltonika codec 7: the AVL records of GH-series personal trackers (GH3000, GH4000 ...).

A record: 4 bytes holding the priority (bits 31-30) and the seconds since 2007-01-01 UTC
(bits 29-0); a global mask (bit 0 GPS element, bits 1-3 IO groups of 1, 2 and 4-byte values);
the GPS element is itself a mask followed by the fields it names: latitude and longitude
(IEEE floats, degrees), altitude (2 bytes, m), angle (1 byte, 360/256 degree), speed (1 byte,
km/h), satellites, LAC + cell id, signal quality, operator code. IO groups are a count and
(1-byte id, value) pairs. A record without coordinates is kept as an invalid (0, 0) fix,
like a codec 8 record without one.
"""
from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone
from typing import Any

from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import DecodeError, Position

PROTOCOL = "teltonika"
GH_EPOCH = datetime(2007, 1, 1, tzinfo=timezone.utc)
#: GPS element fields after the lat/lon pair: mask bit -> (name, size)
_GPS_FIELDS = ((1, "altitude", 2), (2, "angle", 1), (3, "speed", 1), (4, "satellites", 1),
               (5, "cell", 4), (6, "signal", 1), (7, "operator", 4))


def check_coordinates(index: int, lat: float, lon: float) -> None:
    """Refuse coordinates no device can report (NaN included)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DecodeError(f"record {index}: coordinates out of range ({lat}, {lon})")


def record(reader: Reader, device_id: str, index: int) -> Position:
    """Decode one codec 7 record."""
    start = reader.offset
    try:
        stamp, mask = reader.uint(4), reader.uint(1)
        gps = _gps_element(reader) if mask & 0x01 else {}
        io = _io_groups(reader, mask)
    except DecodeError as error:
        raise DecodeError(f"record {index}: {error}") from None
    lat, lon = gps.pop("lat", 0.0), gps.pop("lon", 0.0)
    check_coordinates(index, lat, lon)
    satellites = gps.get("satellites")
    extra: dict[str, Any] = {"priority": stamp >> 30, "io": io, **_network(gps)}
    return Position(
        device_id=device_id, fix_time=GH_EPOCH + timedelta(seconds=stamp & 0x3FFFFFFF), lat=lat, lon=lon,
        protocol=PROTOCOL, raw=reader.data[start:reader.offset], speed_kmh=_float(gps.get("speed")),
        course=_float(gps.get("angle"), 360 / 256), altitude_m=_float(gps.get("altitude")),
        satellites=satellites, valid=(lat, lon) != (0.0, 0.0) and satellites != 0, extra=extra,
    )


def _gps_element(reader: Reader) -> dict[str, Any]:
    """The GPS element's mask and the fields it announces."""
    mask = reader.uint(1)
    values: dict[str, Any] = {}
    if mask & 0x01:
        lat, lon = struct.unpack(">ff", reader.take(8))
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise DecodeError("coordinates are not numbers")
        values["lat"], values["lon"] = round(lat, 7), round(lon, 7)
    for bit, name, size in _GPS_FIELDS:
        if mask & (1 << bit):
            values[name] = reader.sint(size) if name == "altitude" else reader.uint(size)
    return values


def _io_groups(reader: Reader, mask: int) -> dict[str, int]:
    """IO groups of 1, 2 and 4-byte values (global mask bits 1, 2, 3)."""
    values: dict[str, int] = {}
    for bit, width in ((1, 1), (2, 2), (3, 4)):
        if mask & (1 << bit):
            for _ in range(reader.uint(1)):
                io_id = reader.uint(1)
                values[str(io_id)] = reader.uint(width)
    return values


def _network(gps: dict[str, Any]) -> dict[str, Any]:
    """Cell, signal quality and operator code, as far as the record has them."""
    network: dict[str, Any] = {}
    if "cell" in gps:
        network["cell"] = {"lac": gps["cell"] >> 16, "cell_id": gps["cell"] & 0xFFFF}
    if "signal" in gps:
        network["gsm_signal"] = gps["signal"]
    if "operator" in gps:
        network["operator"] = gps["operator"]
    return network


def _float(value: int | None, scale: float = 1.0) -> float | None:
    return None if value is None else float(value) * scale
