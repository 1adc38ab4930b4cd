"""The building blocks of GT06 (Concox/Jimi) packet contents: GPS block, cell, terminal status.

Layouts after the Concox GT06/GT06N document and the Jimi JM-VL01/VL03, GK310 and LL301
protocol documents: every GPS-carrying packet starts its content with the same 18 bytes
(date-time, satellites, latitude, longitude, speed, course/status word); the cell that
follows is 2G-sized (LAC 2 bytes, cell id 3) or, in the 4G packets 0xA0..0xA7, 4G-sized
(LAC 4 bytes, cell id 8). A set high bit of the MCC announces a 2-byte MNC.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import DecodeError

ALARMS = {0x00: "none", 0x01: "sos", 0x02: "power_cut", 0x03: "vibration", 0x04: "fence_in",
          0x05: "fence_out", 0x06: "overspeed", 0x09: "moved", 0x0E: "low_battery",
          0x0F: "low_battery", 0x11: "power_off", 0x13: "tamper", 0x14: "door"}
#: JC-series dashcam alarm codes (packet 0x95)
DASHCAM_ALARMS = {0x01: "sos", 0x80: "vibration", 0x87: "overspeed", 0x90: "acceleration",
                  0x91: "braking", 0x92: "cornering", 0x93: "accident"}
_TERMINAL_ALARMS = {0b000: "none", 0b001: "vibration", 0b010: "power_cut",
                    0b011: "low_battery", 0b100: "sos", 0b110: "fence"}


def device_time(field: bytes, offset: timedelta) -> datetime:
    """YY MM DD hh mm ss in the device's time zone (``offset`` east of UTC), as UTC."""
    year, month, day, hour, minute, second = field
    try:
        local = datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise DecodeError(f"GT06 date-time {field.hex()} is not a date") from None
    return local - offset


def gps(reader: Reader, offset: timedelta, satellites: bool = True, speed: bool = True) -> dict[str, Any]:
    """Date-time and the GPS block, as Position keyword arguments (plus ``differential``)."""
    fix_time = device_time(reader.take(6), offset)
    count = reader.uint(1) & 0x0F if satellites else None   # high nibble: length of the GPS block
    lat, lon = reader.uint(4) / 1_800_000, reader.uint(4) / 1_800_000
    kmh = float(reader.uint(1)) if speed else None
    return {"fix_time": fix_time, "satellites": count, "speed_kmh": kmh,
            **course_status(reader.uint(2), lat, lon)}


def course_status(word: int, lat: float, lon: float) -> dict[str, Any]:
    """Apply the course/status word: hemispheres, course, fix validity, differential."""
    if not word & 0x0400:                       # bit 10: 1 = north
        lat = -lat
    if word & 0x0800:                           # bit 11: 1 = west
        lon = -lon
    if lat < -90 or lat > 90 or lon < -180 or lon > 180:
        raise DecodeError(f"GT06 coordinates out of range ({lat}, {lon})")
    return {"lat": lat, "lon": lon, "course": float(word & 0x03FF),
            "valid": bool(word & 0x1000),        # bit 12: GPS has a fix
            "differential": bool(word & 0x2000)}  # bit 13: differential, not real-time GPS


def cell(reader: Reader, wide: bool = False, long_mnc: bool = False, wide_cell_id: bool = False) -> dict[str, int]:
    """The serving cell: MCC, MNC, LAC, cell id (``wide``: the 4G sizes, LAC 4 and cell id 8 bytes)."""
    mcc = reader.uint(2)
    mnc = reader.uint(2 if mcc & 0x8000 or long_mnc else 1)
    lac = reader.uint(4 if wide else 2)
    cell_id = reader.uint(8 if wide else 4 if wide_cell_id else 3)
    return {"mcc": mcc & 0x7FFF, "mnc": mnc, "lac": lac, "cell_id": cell_id}


def terminal_info(byte: int) -> dict[str, Any]:
    """Decode the terminal information byte shared by heartbeats and alarms."""
    return {
        "armed": bool(byte & 0x01), "ignition": bool(byte & 0x02), "charging": bool(byte & 0x04),
        "terminal_alarm": _TERMINAL_ALARMS.get((byte >> 3) & 0x07, "other"),
        "gps_tracking": bool(byte & 0x40), "fuel_cut": bool(byte & 0x80),
    }


def alarm_status(reader: Reader) -> dict[str, Any]:
    """Terminal info, battery level, GSM signal and the alarm code that follow an alarm's cell."""
    status = terminal_info(reader.uint(1))
    status["battery_level"] = reader.uint(1)     # 0 (none) .. 6 (full)
    status["gsm_signal"] = reader.uint(1)        # 0 (none) .. 4 (strong)
    code = reader.uint(1)
    status["alarm"] = ALARMS.get(code, f"code_{code:02x}")
    return status


def heartbeat(reader: Reader, number: int) -> dict[str, Any]:
    """Terminal status of a heartbeat: 0x13 has a battery level, 0x23 a voltage in 0.01 V."""
    status = terminal_info(reader.uint(1))
    if number == 0x23:
        status["battery_v"] = reader.uint(2) / 100 if reader.remaining() >= 2 else None
    elif reader.remaining():
        status["battery_level"] = reader.uint(1)
    if reader.remaining():
        status["gsm_signal"] = reader.uint(1)
    return status


def login_offset(word: int) -> timedelta:
    """The time zone of an extended login: bits 15..4 hold hours*100+minutes, bit 3 set = west."""
    hours, minutes = divmod(word >> 4, 100)
    if hours > 14 or minutes > 59:
        raise DecodeError(f"GT06 login time zone {word:04x} is not a time zone")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if word & 0x08 else offset


def bcd_time(field: bytes, offset: timedelta) -> datetime:
    """A 6-byte BCD date-time (Wi-Fi packets 0x69/0x17) in the device's zone, as UTC."""
    digits = field.hex()
    if not digits.isdigit():
        raise DecodeError(f"GT06 BCD date-time {digits} is not BCD digits")
    return device_time(bytes(int(digits[i:i + 2]) for i in range(0, 12, 2)), offset)


def wifi_and_cells(reader: Reader, access_points: int) -> dict[str, Any]:
    """``access_points`` Wi-Fi MACs with signal, then a counted list of 2G cells."""
    wifi = [{"mac": reader.take(6).hex(":"), "rssi": reader.uint(1)} for _ in range(access_points)]
    cells: list[dict[str, int]] = []
    if reader.remaining():
        count, mcc, mnc = reader.uint(1), reader.uint(2), reader.uint(1)
        cells = [{"mcc": mcc, "mnc": mnc, "lac": reader.uint(2), "cell_id": reader.uint(2),
                  "rssi": reader.uint(1)} for _ in range(count)]
    return {"wifi": wifi, "cells": cells}
