"""Validate: refuse what cannot be stored as a fix; a submission is stored whole or not at all."""
from __future__ import annotations

import math
from dataclasses import replace

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import BATCH_REJECTED, INVALID, Batch
from beacon_gateway.position import FLAG_INVALID_FIX, Position


#: The largest count the satellites column holds (a 32-bit integer); real receivers see a few dozen.
MAX_SATELLITES = 2**31 - 1


def position_problems(position: Position) -> dict[str, str]:
    """Return field -> message for every value of ``position`` that cannot be stored."""
    problems: dict[str, str] = {}
    if not _finite(position.lat) or not -90 <= position.lat <= 90:
        problems["lat"] = f"latitude must be within -90..90, got {position.lat!r}"
    if not _finite(position.lon) or not -180 <= position.lon <= 180:
        problems["lon"] = f"longitude must be within -180..180, got {position.lon!r}"
    if position.fix_time.tzinfo is None or position.fix_time.utcoffset() is None:
        problems["fix_time"] = "fix time has no time zone"
    for name in ("speed_kmh", "accuracy_m", "hdop", "satellites"):
        value = getattr(position, name)
        if value is not None and (not _finite(value) or value < 0):
            problems[name] = f"{name} must be a number >= 0, got {value!r}"
    if isinstance(position.satellites, int) and position.satellites > MAX_SATELLITES:
        problems["satellites"] = f"satellites must be at most {MAX_SATELLITES}, got {position.satellites!r}"
    for name in ("course", "altitude_m"):
        value = getattr(position, name)
        if value is not None and not _finite(value):
            problems[name] = f"{name} must be a finite number, got {value!r}"
    return problems


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class ValidateFix:
    """Refuse impossible values; flag fixes the device itself calls invalid (kept as evidence)."""

    name = "validate"
    needs_savepoint = False  # no SQL

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: the globe's ranges do not change."""

    def __call__(self, batch: Batch) -> None:
        """Check every live ping, then refuse the rest of any submission with a bad ping."""
        for ping in batch.live():
            problems = position_problems(ping.position)
            if problems:
                ping.reject(INVALID, "; ".join(f"{k}: {v}" for k, v in problems.items()))
                continue
            ping.position = _normalised(ping.position)
        refused = {ping.submission for ping in batch.pings if ping.rejection is not None}
        for ping in batch.live():
            if ping.submission in refused:
                ping.reject(BATCH_REJECTED, "another ping of the same message was refused")


def _normalised(position: Position) -> Position:
    # 360° and -90° are ordinary device output for north and west: store 0..360.
    if position.course is not None and not 0 <= position.course < 360:
        position = replace(position, course=position.course % 360.0)
    if not position.valid:
        position = position.flagged(FLAG_INVALID_FIX)
    return position
