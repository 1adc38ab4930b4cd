"""Field conversions of NMEA 0183 sentences: checksum, time of day, dates, coordinates, speeds.

pynmea2 parses the sentence structure; the conversions here are strict where pynmea2 is
lenient (it reads an empty latitude as 0.0, which would put a fix at Null Island).
"""
from __future__ import annotations

import math
import re
from functools import reduce
from operator import xor
from datetime import date, time

from beacon_gateway.position import ChecksumError, DecodeError

KNOTS_TO_KMH = 1.852
_SENTENCE = re.compile(r"^[$!](?P<body>[^*$!]*)(?:\*(?P<checksum>[0-9A-Fa-f]{2}))?\s*$")
_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})(\.\d+)?$")


def verify_checksum(sentence: str) -> tuple[str, bool]:
    """Return (body between ``$`` and ``*``, whether a checksum was there) after checking it.

    A sentence without a checksum is returned unverified (NMEA makes it optional for
    some sentences and old receivers omit it, as gpsd accepts); a wrong one raises.
    """
    match = _SENTENCE.match(sentence)
    if not match:
        raise DecodeError("not a well-formed NMEA sentence")
    body, given = match["body"], match["checksum"]
    if given is None:
        return body, False
    computed = reduce(xor, body.encode("ascii", "replace"), 0)
    if computed != int(given, 16):
        raise ChecksumError(f"checksum mismatch: sentence says {given.upper()}, contents give {computed:02X}")
    return body, True


def time_of_day(field: str) -> time | None:
    """``hhmmss[.sss]`` as a time of day; None when the field is empty."""
    if not field:
        return None
    match = _TIME.match(field)
    if not match:
        raise DecodeError(f"time {field!r} is not hhmmss.ss")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    micro = round(float(match[4] or "0") * 1_000_000)
    if hour > 23 or minute > 59 or second > 60:
        raise DecodeError(f"time {field!r} is not a time of day")
    if second == 60:            # a leap second: keep it inside the minute
        second, micro = 59, 999_999
    return time(hour, minute, second, min(micro, 999_999))


def rmc_date(field: str) -> date | None:
    """``ddmmyy`` as a date (years 80-99 are 19xx, 00-79 are 20xx); None when empty."""
    if not field:
        return None
    if len(field) != 6 or not field.isdigit():
        raise DecodeError(f"date {field!r} is not ddmmyy")
    year = int(field[4:])
    return _date(1900 + year if year >= 80 else 2000 + year, int(field[2:4]), int(field[:2]))


def zda_date(day: str, month: str, year: str) -> date | None:
    """The ZDA day, month and 4-digit year as a date; None when empty."""
    if not (day and month and year):
        return None
    if not (day.isdigit() and month.isdigit() and year.isdigit()) or len(year) != 4:
        raise DecodeError(f"ZDA date {day}/{month}/{year} is not dd/mm/yyyy")
    return _date(int(year), int(month), int(day))


def _date(year: int, month: int, day: int) -> date:
    """A date, or DecodeError when it does not exist."""
    try:
        return date(year, month, day)
    except ValueError:
        raise DecodeError(f"{year:04d}-{month:02d}-{day:02d} is not a date") from None


def coordinate(value: str, hemisphere: str, is_latitude: bool) -> float | None:
    """``[d]ddmm.mmmm`` with N/S or E/W as signed decimal degrees; None when empty."""
    if not value and not hemisphere:
        return None
    limit, positive, negative = (90, "N", "S") if is_latitude else (180, "E", "W")
    if hemisphere not in (positive, negative):
        raise DecodeError(f"hemisphere {hemisphere!r} is not {positive} or {negative}")
    number = _number(value, "coordinate")
    degrees = math.floor(number / 100)
    minutes = number - degrees * 100
    if minutes >= 60 or degrees > limit or number < 0:
        raise DecodeError(f"coordinate {value!r} is not [d]ddmm.mmmm")
    result = degrees + minutes / 60
    if result > limit:
        raise DecodeError(f"coordinate {value!r} {hemisphere} is out of range")
    return -result if hemisphere == negative else result


def optional_number(value: str, what: str) -> float | None:
    """A decimal field; None when empty."""
    return _number(value, what) if value.strip() else None


def _number(value: str, what: str) -> float:
    """A finite decimal number."""
    try:
        number = float(value)
    except ValueError:
        raise DecodeError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DecodeError(f"{what} {value!r} is not a number")
    return number
