"""Fix times as devices write them: epoch seconds, epoch milliseconds or ISO 8601 text."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from beacon_gateway.position import DecodeError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Like Traccar: an epoch number below 2^31 is seconds (until 2038), above it milliseconds.
_SECONDS_LIMIT = 2**31
_LATEST_MILLIS = 253402300799999   # 9999-12-31T23:59:59.999Z


def from_epoch(value: float) -> datetime:
    """Aware UTC time of an epoch number in seconds or milliseconds (see ``_SECONDS_LIMIT``)."""
    if not math.isfinite(value) or value < 0:
        raise DecodeError(f"epoch time {value!r} is not a time after 1970")
    millis = value * 1000 if value < _SECONDS_LIMIT else value
    if millis > _LATEST_MILLIS:
        raise DecodeError(f"epoch time {value!r} is not a date")
    return _EPOCH + timedelta(milliseconds=millis)


def from_iso(text: str, naive_is_utc: bool) -> datetime:
    """Aware UTC time of ISO 8601 text (``Z`` or an offset; without either only if ``naive_is_utc``)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DecodeError(f"time {text!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise DecodeError(f"time {text!r} has no time zone (add Z or an offset)")
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_time(value: object, naive_is_utc: bool = False) -> datetime:
    """Aware UTC time of an epoch number, a string of digits, or ISO 8601 text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DecodeError(f"time must be epoch seconds, epoch milliseconds or ISO 8601, not {value!r}")
    try:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.isascii() and stripped.replace(".", "", 1).isdigit():
                return from_epoch(float(stripped))
            return from_iso(stripped, naive_is_utc)
        return from_epoch(float(value))
    except OverflowError:           # an integer of hundreds of digits
        raise DecodeError(f"time {str(value)[:20]}... is not a date") from None
