"""GT06 (Concox and the many compatible trackers) over TCP.

A packet is ``78 78`` + 1-byte length (or ``79 79`` + 2-byte length for long packets),
protocol number, content, 2-byte serial number, 2-byte CRC-ITU (X.25) of the bytes from the
length field to the serial, and the stop bytes ``0D 0A``. Handled here, after the Concox
GT06 / GT06N communication protocol:

- ``0x01`` login (8-byte BCD terminal id = IMEI), answered with the same serial;
- ``0x12`` and ``0x22`` GPS location (date-time, satellites, latitude, longitude, speed,
  course/status word, cell tower; 0x22 adds ACC, upload mode and real-time/re-upload);
- ``0x13`` heartbeat (terminal status, battery level, GSM signal), answered;
- ``0x16`` and ``0x26`` alarm (a location plus status and the alarm code), answered.

Other protocol numbers come back as kind ``"other"`` with no position and no answer.
The date-time fields are taken as UTC: that is what these devices send unless their time
zone was changed by SMS command (``GMT,E,0``), which a deployment must leave at its default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from beacon_gateway.decoders.crc import crc16_itu
from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import ChecksumError, DecodeError, Position

PROTOCOL = "gt06"
SHORT_START = b"\x78\x78"
LONG_START = b"\x79\x79"
STOP = b"\x0d\x0a"
MAX_LONG_LENGTH = 4096   # no GT06 packet is near this; a larger length means a broken stream
LOGIN, LOCATION, HEARTBEAT, ALARM = 0x01, 0x12, 0x13, 0x16
LOCATION_4G, ALARM_4G = 0x22, 0x26
_KINDS = {LOGIN: "login", LOCATION: "location", LOCATION_4G: "location",
          HEARTBEAT: "heartbeat", ALARM: "alarm", ALARM_4G: "alarm"}
_ANSWERED = {LOGIN, HEARTBEAT, ALARM, ALARM_4G}
_ALARMS = {0x00: "none", 0x01: "sos", 0x02: "power_cut", 0x03: "vibration", 0x04: "fence_in",
           0x05: "fence_out", 0x06: "overspeed", 0x09: "moved", 0x0E: "low_battery"}
_TERMINAL_ALARMS = {0b000: "none", 0b001: "vibration", 0b010: "power_cut",
                    0b011: "low_battery", 0b100: "sos"}


@dataclass(frozen=True, slots=True)
class Gt06Message:
    """One decoded GT06 packet."""

    kind: str                     # "login" | "location" | "heartbeat" | "alarm" | "other"
    protocol_number: int
    serial: int
    raw: bytes
    imei: str | None = None       # login only
    positions: list[Position] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)   # heartbeat/alarm terminal status


def split_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut one packet off the front of ``buffer``: (packet or None if incomplete, rest).

    Raises DecodeError when the buffer does not start with a packet; the server should
    then drop the connection (the device reconnects and logs in again).
    """
    start = buffer[:2]
    if len(buffer) < 2:
        if buffer not in (b"", b"\x78", b"\x79"):
            raise DecodeError(f"GT06 packet must start with 7878 or 7979, not {buffer.hex()}")
        return None, buffer
    if start == SHORT_START:
        header, length = 3, buffer[2] if len(buffer) > 2 else None
    elif start == LONG_START:
        header, length = 4, int.from_bytes(buffer[2:4], "big") if len(buffer) > 3 else None
    else:
        raise DecodeError(f"GT06 packet must start with 7878 or 7979, not {start.hex()}")
    if length is None:
        return None, buffer
    if not 5 <= length <= MAX_LONG_LENGTH:
        raise DecodeError(f"GT06 packet length {length} outside 5..{MAX_LONG_LENGTH}")
    end = header + length + len(STOP)
    if len(buffer) < end:
        return None, buffer
    if buffer[end - 2:end] != STOP:
        raise DecodeError(f"GT06 packet does not end with 0d0a at byte {end - 2}")
    return buffer[:end], buffer[end:]


def decode_frame(frame: bytes, device_id: str | None) -> Gt06Message:
    """Decode one complete packet; ``device_id`` (the logged-in IMEI) is needed for positions."""
    number, content, serial = _checked_parts(frame)
    kind = _KINDS.get(number, "other")
    if kind == "login":
        return Gt06Message(kind, number, serial, frame, imei=_imei(content))
    if kind == "heartbeat":
        return Gt06Message(kind, number, serial, frame, status=_heartbeat(content))
    if kind in ("location", "alarm"):
        if not device_id:
            raise DecodeError(f"GT06 {kind} packet before login: no device id to attach it to")
        return _located(kind, number, serial, frame, content, device_id)
    return Gt06Message(kind, number, serial, frame)


def ack(message: Gt06Message) -> bytes | None:
    """The server's answer to ``message`` (login, heartbeat, alarm), or None when none is due."""
    if message.protocol_number not in _ANSWERED:
        return None
    body = bytes([5, message.protocol_number]) + message.serial.to_bytes(2, "big")
    return SHORT_START + body + crc16_itu(body).to_bytes(2, "big") + STOP


def _checked_parts(frame: bytes) -> tuple[int, bytes, int]:
    """Check framing and CRC; return (protocol number, content, serial number)."""
    packet, rest = split_frame(frame)
    if packet is None or rest:
        raise DecodeError(f"not exactly one GT06 packet ({len(frame)} bytes)")
    checked = frame[2:-4]   # length field .. serial number
    expected = int.from_bytes(frame[-4:-2], "big")
    actual = crc16_itu(checked)
    if expected != actual:
        raise ChecksumError(f"GT06 CRC mismatch: packet says {expected:04x}, data gives {actual:04x}")
    header = 3 if frame[:2] == SHORT_START else 4
    return frame[header], frame[header + 1:-6], int.from_bytes(frame[-6:-4], "big")


def _imei(content: bytes) -> str:
    """The IMEI in a login packet's 8-byte BCD terminal id (a leading zero pads it to 16 digits)."""
    digits = Reader(content, "GT06 login").take(8).hex()
    if not digits.isdigit():
        raise DecodeError(f"GT06 login terminal id is not BCD digits: {digits}")
    return digits[1:] if digits.startswith("0") else digits


def _heartbeat(content: bytes) -> dict[str, Any]:
    """Terminal status of a heartbeat: status byte, battery level, GSM signal."""
    reader = Reader(content, "GT06 heartbeat")
    status = _terminal_info(reader.uint(1))
    status["battery_level"] = reader.uint(1)      # 0 (none) .. 6 (full)
    if reader.remaining():
        status["gsm_signal"] = reader.uint(1)     # 0 (none) .. 4 (strong)
    return status


def _terminal_info(byte: int) -> dict[str, Any]:
    """Decode the terminal information byte shared by heartbeats and alarms."""
    return {
        "armed": bool(byte & 0x01), "ignition": bool(byte & 0x02), "charging": bool(byte & 0x04),
        "terminal_alarm": _TERMINAL_ALARMS.get((byte >> 3) & 0x07, "other"),
        "gps_tracking": bool(byte & 0x40), "fuel_cut": bool(byte & 0x80),
    }


def _located(kind: str, number: int, serial: int, frame: bytes, content: bytes,
             device_id: str) -> Gt06Message:
    """Decode a location or alarm packet into one position (and the alarm status)."""
    reader = Reader(content, f"GT06 {kind}")
    fix = _gps(reader)
    cell = _cell(reader, with_length=kind == "alarm")
    extra: dict[str, Any] = {"cell": cell, "differential": fix.pop("differential")}
    status: dict[str, Any] = {}
    if kind == "alarm":
        status = _alarm_status(reader)
        extra.update(status)
    elif number == LOCATION_4G and reader.remaining() >= 3:
        extra.update(ignition=bool(reader.uint(1)), upload_mode=reader.uint(1),
                     reupload=bool(reader.uint(1)))
    position = Position(device_id=device_id, protocol=PROTOCOL, raw=frame, extra=extra, **fix)
    return Gt06Message(kind, number, serial, frame, positions=[position], status=status)


def _gps(reader: Reader) -> dict[str, Any]:
    """Date-time and the 12-byte GPS block, as Position keyword arguments."""
    fix_time = _datetime(reader.take(6))
    satellites = reader.uint(1) & 0x0F            # high nibble: length of the GPS block
    lat, lon = reader.uint(4) / 1_800_000, reader.uint(4) / 1_800_000
    speed = reader.uint(1)
    status = reader.uint(2)
    if not status & 0x0400:                       # bit 10: 1 = north
        lat = -lat
    if status & 0x0800:                           # bit 11: 1 = west
        lon = -lon
    if lat < -90 or lat > 90 or lon < -180 or lon > 180:
        raise DecodeError(f"GT06 coordinates out of range ({lat}, {lon})")
    return {"fix_time": fix_time, "lat": lat, "lon": lon, "speed_kmh": float(speed),
            "course": float(status & 0x03FF), "satellites": satellites,
            "valid": bool(status & 0x1000),         # bit 12: GPS has a fix
            "differential": bool(status & 0x2000)}  # bit 13: differential, not real-time GPS


def _datetime(field: bytes) -> datetime:
    """YY MM DD hh mm ss, UTC."""
    year, month, day, hour, minute, second = field
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise DecodeError(f"GT06 date-time {field.hex()} is not a date") from None


def _cell(reader: Reader, with_length: bool) -> dict[str, int]:
    """The serving cell: MCC, MNC, LAC, cell id (alarm packets put a length byte first)."""
    if with_length:
        reader.uint(1)
    return {"mcc": reader.uint(2), "mnc": reader.uint(1), "lac": reader.uint(2), "cell_id": reader.uint(3)}


def _alarm_status(reader: Reader) -> dict[str, Any]:
    """Terminal info, battery, GSM signal and the alarm code that follow an alarm's position."""
    status = _terminal_info(reader.uint(1))
    status["battery_level"] = reader.uint(1)
    status["gsm_signal"] = reader.uint(1)
    code = reader.uint(1)
    status["alarm"] = _ALARMS.get(code, f"code_{code:02x}")
    return status
