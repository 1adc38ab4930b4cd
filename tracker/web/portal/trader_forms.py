"""Reading the trader's forms: local date-times, waypoints, whole numbers (masses: ``mass_fields``).

Each reader takes the raw text and a dict of errors; a bad value notes a message (in the
user's language) under its field and returns None, so a form reports every field at once.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from tracker.web.i18n import time_zone_name

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
#: Waypoint lines from the map or typed by hand: "lat, lon" (also "lat lon" or "lat; lon").
_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+")


def parse_local_time(raw: str, field: str, errors: dict[str, Any]) -> datetime | None:
    """Return a ``datetime-local`` value, read in the user's time zone, as UTC (None when empty)."""
    value = raw.strip()
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = _("Give a date and time, e.g. 2026-12-01 08:00.")
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(time_zone_name()))
    return local.astimezone(timezone.utc)


def local_time_value(moment: datetime | None) -> str:
    """Show a UTC moment as a ``datetime-local`` value in the user's time zone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(time_zone_name())).strftime(LOCAL_MINUTE)


def parse_date(raw: str, field: str, errors: dict[str, Any]) -> date | None:
    """Return a ``date`` input's value (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[field] = _("Give a date, e.g. 2026-11-25.")
        return None


def parse_whole(raw: str, field: str, errors: dict[str, Any], message: str) -> int | None:
    """Return a whole number typed in a field (None when empty), noting ``message`` when it is not one."""
    value = raw.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):  # any 18 digits fit a 64-bit column
        errors[field] = message
        return None
    return int(value)


def parse_waypoints(raw: str, field: str, errors: dict[str, Any]) -> list[tuple[float, float]]:
    """Return the "lat, lon" lines of the waypoints box (blank lines ignored)."""
    points: list[tuple[float, float]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = _SEPARATOR.split(line.strip())
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            errors[field] = _('Line %(number)s is not "latitude, longitude": %(line)s',
                              number=number, line=line.strip()[:60])
            return []
        points.append((lat, lon))
    return points


def waypoints_value(route: Any, limit: int = 2000) -> str:
    """Show a route's points as waypoint lines (empty when it has more than ``limit`` points)."""
    if route is None or len(route.coords) > limit:
        return ""
    return "\n".join(f"{lat:.6f}, {lon:.6f}" for lon, lat, *_rest in route.coords)


class FormValues(dict):  # type: ignore[type-arg]
    """A form's values for a template: ``get`` for one value, ``getlist`` for checkboxes.

    Made from a posted form (to show it again) or from a dict of defaults whose lists are
    the checked values.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        if hasattr(values, "getlist"):
            super().__init__(values.items())
            self.lists = {key: values.getlist(key) for key in values}
        else:
            super().__init__({k: v for k, v in values.items() if not isinstance(v, list)})
            self.lists = {k: [str(x) for x in v] for k, v in values.items() if isinstance(v, list)}

    def getlist(self, key: str) -> list[str]:
        """Return every value of ``key`` (the checked boxes)."""
        return self.lists.get(key, [])
