"""Checks of the numeric fields that text protocols (JSON, OsmAnd) carry."""
from __future__ import annotations

import math

from beacon_gateway.position import DecodeError

#: (lowest, highest) accepted value of each Position field a device may send; None = open.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "speed_kmh": (0.0, None),
    "course": (0.0, 360.0),
    "altitude_m": (-12_000.0, 100_000.0),
    "accuracy_m": (0.0, None),
    "hdop": (0.0, None),
    "satellites": (0.0, 1000.0),
}


def to_number(value: object) -> float:
    """A finite float from a JSON number or numeric text (booleans are not numbers)."""
    if isinstance(value, bool):
        raise DecodeError("must be a number, not true/false")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise DecodeError(f"must be a number, not {value!r}") from None
    if not isinstance(value, (int, float)):
        raise DecodeError(f"must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:           # a JSON integer of hundreds of digits
        raise DecodeError("must be a finite number") from None
    if not math.isfinite(number):
        raise DecodeError("must be a finite number")
    return number


def checked(name: str, value: object) -> float:
    """``value`` as a float within the accepted range of the field ``name``."""
    number = to_number(value)
    low, high = RANGES[name]
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DecodeError(f"must be {bounds}")
    return number
