"""GT06 packets laid out unlike the others: VL103 modular 0x70, JC dashcam alarm 0x95, X1 0x34,
and the status-only Wi-Fi (0x69, 0x17 counted) and LBS phone-number (0x17 length-framed) packets.

The first three take the frame, its content, the logged-in device and its time zone, and
return (kind, positions, status) for ``gt06.decode_frame`` to wrap; the last two return the status.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from beacon_gateway.decoders import gt06_fields as fields
from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import Position

PROTOCOL = "gt06"
Decoded = tuple[str, list[Position], dict[str, Any]]


def modular(frame: bytes, content: bytes, device_id: str, offset: timedelta) -> Decoded:
    """Modular packet 0x70: modules (type 2, length 2, data); module 0x33 is the GPS fix."""
    reader, positions = Reader(content, "GT06 modular"), []
    while reader.remaining() >= 4:
        module, block = reader.uint(2), Reader(reader.take(reader.uint(2)), "GT06 module")
        if module == 0x33:
            positions.append(_modular_fix(block, device_id, frame))
    return ("location" if positions else "status"), positions, {}


def _modular_fix(block: Reader, device_id: str, frame: bytes) -> Position:
    """Module 0x33: UTC epoch seconds, satellites, altitude, latitude, longitude, speed, course/status."""
    fix_time = datetime.fromtimestamp(block.uint(4), timezone.utc)
    satellites, altitude = block.uint(1), float(block.sint(2))
    lat, lon = block.uint(4) / 1_800_000, block.uint(4) / 1_800_000
    speed = float(block.uint(1))
    fix = fields.course_status(block.uint(2), lat, lon)
    extra = {"packet": "70", "differential": fix.pop("differential")}
    return Position(device_id=device_id, protocol=PROTOCOL, raw=frame, fix_time=fix_time, satellites=satellites,
                    altitude_m=altitude, speed_kmh=speed, extra=extra, **fix)


def dashcam(frame: bytes, content: bytes, device_id: str, offset: timedelta) -> Decoded:
    """JC-series alarm 0x95: date-time, latitude, longitude, course/status (no satellites or
    speed), alarm code; a short one (date-time and code only) has no position."""
    reader = Reader(content, "GT06 dashcam alarm")
    if len(content) <= 7:
        fields.device_time(reader.take(6), offset)
        return "alarm", [], {"alarm": _dashcam_alarm(reader.uint(1))}
    fix = fields.gps(reader, offset, satellites=False, speed=False)
    status = {"alarm": _dashcam_alarm(reader.uint(1))}
    extra = {"packet": "95", "differential": fix.pop("differential"), **status}
    return "alarm", [Position(device_id=device_id, protocol=PROTOCOL, raw=frame, extra=extra, **fix)], status


def _dashcam_alarm(code: int) -> str:
    return fields.DASHCAM_ALARMS.get(code, f"code_{code:02x}")


def x1(frame: bytes, content: bytes, device_id: str, offset: timedelta) -> Decoded:
    """X1 location 0x34: 4 bytes of data/alarm flags, then the GPS block."""
    reader = Reader(content, "GT06 X1 location")
    reader.take(4)
    fix = fields.gps(reader, offset)
    extra = {"packet": "34", "differential": fix.pop("differential")}
    return "location", [Position(device_id=device_id, protocol=PROTOCOL, raw=frame, extra=extra, **fix)], {}


def wifi(frame: bytes, offset: timedelta) -> dict[str, Any]:
    """Wi-Fi packet 0x69/0x17: BCD date-time, access points (counted by byte 2), cells; no fix."""
    reader = Reader(frame[4:-2], "GT06 Wi-Fi")
    when = fields.bcd_time(reader.take(6), offset)
    return {"time": when.isoformat(), **fields.wifi_and_cells(reader, frame[2])}


def lbs_phone(content: bytes) -> dict[str, Any]:
    """LBS phone-number packet 0x17: the serving cell, the phone number asked about (21 bytes, NUL
    padded) and the alert language."""
    reader = Reader(content, "GT06 LBS phone")
    cell = fields.cell(reader)
    phone = reader.take(21).rstrip(b"\x00").decode("ascii", "replace")
    return {"cell": cell, "phone": phone, **({"language": reader.uint(2)} if reader.remaining() >= 2 else {})}
