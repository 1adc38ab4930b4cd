"""The evaluation settings: how long, how far, how fast before an alert is raised."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Mapping

from tracker.domain.alert_kinds import AlertKind

OFF_ROUTE = AlertKind.OFF_ROUTE
UNSCHEDULED_STOP = AlertKind.UNSCHEDULED_STOP
SIGNAL_LOST = AlertKind.SIGNAL_LOST
SPOOFING = AlertKind.SPOOFING_SUSPECTED
PROHIBITED_ZONE = AlertKind.PROHIBITED_ZONE
ARRIVED = AlertKind.ARRIVED
LATE = AlertKind.LATE
#: Every alert kind route evaluation raises.
KINDS = (OFF_ROUTE, UNSCHEDULED_STOP, SIGNAL_LOST, SPOOFING, PROHIBITED_ZONE, ARRIVED, LATE)
#: Environment names overriding a rule setting: the prefix and the setting's name in capitals.
ENV_PREFIX = "GATEWAY_EVAL_"
#: Kinds raised at most once per declaration (their key has no start time).
ONCE_PER_DECLARATION = (ARRIVED, LATE)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the rules; the defaults follow issue 4 and navigation-seal practice."""

    off_route_min_s: float = 120.0        # outside the corridor this long before an alert
    back_on_route_s: float = 120.0        # inside the inner margin this long before it closes
    inner_margin_m: float = 50.0          # "back inside" means at least this far within the corridor
    stop_radius_m: float = 50.0           # less movement than this ...
    stop_min_s: float = 1200.0            # ... for this long is a stop
    standing_speed_kmh: float = 5.0       # a device reporting less than this says it stands
    signal_periods: float = 2.0           # silence longer than this many reporting periods is signal loss
    default_reporting_period_s: int = 300
    dead_zone_allowance_s: float = 1800.0  # silence allowed when the gap touches a dead zone
    max_speed_kmh: float = 200.0          # faster implied movement is an impossible jump
    min_jump_m: float = 1000.0            # ... if it is also longer than this (GPS noise is not a jump)
    frozen_fixes: int = 3                 # identical coordinates this many times ...
    frozen_speed_kmh: float = 10.0        # ... while reporting at least this speed is frozen
    spoof_quiet_s: float = 600.0          # a spoofing episode ends after this long without signs
    arrival_progress: float = 0.9         # share of the route's length covered before the end zone is arrival

    @property
    def lookback_s(self) -> float:
        """Return how far before the earliest new fix a re-evaluation must re-read.

        Anything pending longer than this has already become an alert, whose start
        then extends the window (see ``beacon_gateway.evaluation.sync``).
        """
        return max(self.off_route_min_s + self.back_on_route_s, self.stop_min_s, self.spoof_quiet_s) + 300.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Rules:
        """Return rules with the known names of ``values`` overriding the defaults."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown evaluation settings: {', '.join(unknown)}")
        return cls(**{name: float(value) if name not in ("frozen_fixes", "default_reporting_period_s")
                      else int(value) for name, value in values.items()})

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Rules:
        """Return rules with ``GATEWAY_EVAL_<SETTING>`` variables (e.g. GATEWAY_EVAL_OFF_ROUTE_MIN_S) applied."""
        environ = os.environ if environ is None else environ
        names = {f"{ENV_PREFIX}{f.name.upper()}": f.name for f in fields(cls)}
        return cls.from_mapping({names[key]: value for key, value in environ.items() if key in names})


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """Return the rules of this process: defaults and the environment, read once."""
    return Rules.from_environ()
