"""The one position type every decoder produces, and the flags the pipeline may set."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

# Flags kept with a stored position (evidence: nothing is dropped for being odd).
FLAG_INVALID_FIX = "invalid_fix"          # the receiver said the fix is not valid
FLAG_FUTURE = "future_fix"                # fix time ahead of the receive time
FLAG_WEEK_ROLLOVER = "week_rollover"      # fix time 1024 weeks off (GPS week number roll-over)
FLAG_NULL_ISLAND = "null_island"          # exactly (0, 0)
FLAG_IMPOSSIBLE_JUMP = "impossible_jump"  # implied speed from the previous fix > 200 km/h
FLAG_FROZEN = "frozen"                    # same coordinates repeated while time advances
FLAG_APPROXIMATE = "approximate"          # cell-tower / Wi-Fi / low-accuracy fix
FLAG_TIME_BACKWARDS = "time_backwards"    # fix time earlier than the device's latest fix
FLAG_LATE = "late"                        # delivered long after its fix time (buffered offline)

ALL_FLAGS = (
    FLAG_INVALID_FIX, FLAG_FUTURE, FLAG_WEEK_ROLLOVER, FLAG_NULL_ISLAND, FLAG_IMPOSSIBLE_JUMP,
    FLAG_FROZEN, FLAG_APPROXIMATE, FLAG_TIME_BACKWARDS, FLAG_LATE,
)


class DecodeError(ValueError):
    """A raw message cannot be turned into positions."""


class ChecksumError(DecodeError):
    """The message's checksum or CRC does not match its contents."""


@dataclass(frozen=True, slots=True)
class Position:
    """One fix from one device, as any protocol reports it (times are aware UTC)."""

    device_id: str
    fix_time: datetime
    lat: float
    lon: float
    protocol: str                      # a tracker.models.BeaconProtocol value
    raw: bytes = b""                   # the message exactly as received
    speed_kmh: float | None = None
    course: float | None = None        # degrees clockwise from true north, 0..360
    altitude_m: float | None = None
    accuracy_m: float | None = None
    hdop: float | None = None
    satellites: int | None = None
    valid: bool = True                 # the device's own fix-validity indication
    flags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # battery, ignition, alarm, IO values

    def flagged(self, *flags: str) -> Position:
        """Return a copy with ``flags`` added (each once, in order); itself when none is new."""
        if not flags or all(flag in self.flags for flag in flags):
            return self
        merged = tuple(dict.fromkeys(self.flags + flags))
        return replace(self, flags=merged)
