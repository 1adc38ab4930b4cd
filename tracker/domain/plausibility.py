"""What a mass or a moment may plausibly be before it is stored: one home for the limits.

Every entry point (API, portal, station, CLI) reads masses and times through the domain
functions, which ask here. A mass is whole grams, more than zero (or zero where an empty
container is a fact), at most its container's capacity and at most the configured ceiling
(default 100 t: about the combine's yearly output, so no single record can exceed it).
A moment carries its UTC offset (within ±14 h, the range of real time zones), lies within
the last 30 days (a station's offline outbox holds events for days, not months) and at
most 5 minutes ahead of the server's clock (clock drift). The ceiling and the windows are
settings (``tracker.config``); ``use_limits`` installs them for the process.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tracker.domain.text import Grams, Text, text
from tracker.models import FLASK_NET_G, ContainerType

#: The heaviest mass any one record may carry: 100 t.
DEFAULT_CEILING_G = 100_000_000
#: The oldest moment an event or entry may be recorded for.
DEFAULT_PAST_DAYS = 30
#: How far ahead of the server's clock a moment may be (clock drift of stations and phones).
DEFAULT_FUTURE_MINUTES = 5
#: Real UTC offsets run from -12:00 to +14:00; anything beyond is a typing error or an attack.
MAX_OFFSET = timedelta(hours=14)
#: What a container of a standard type holds at most (other types: up to the ceiling).
TYPE_CAPACITY_G = {ContainerType.FLASK_34_5KG: FLASK_NET_G}


@dataclass(frozen=True)
class Limits:
    """The plausibility limits of this process."""

    ceiling_g: int = DEFAULT_CEILING_G
    past_days: int = DEFAULT_PAST_DAYS
    future_minutes: int = DEFAULT_FUTURE_MINUTES

    @property
    def past(self) -> timedelta:
        """How far back a moment may lie."""
        return timedelta(days=self.past_days)

    @property
    def future_slack(self) -> timedelta:
        """How far ahead a moment may lie."""
        return timedelta(minutes=self.future_minutes)


class _Installed:
    """The limits ``use_limits`` installed (the defaults until then)."""

    limits = Limits()


def use_limits(limits: Limits) -> None:
    """Check masses and times against ``limits`` from now on (the app and the gateway call it once)."""
    _Installed.limits = limits


def current_limits() -> Limits:
    """Return the limits this process checks against."""
    return _Installed.limits


def _kg(grams: int) -> str:
    """Name a mass in kilograms for a message ("100000", "34.5")."""
    whole, rest = divmod(grams, 1000)
    return f"{whole}.{rest:03d}".rstrip("0") if rest else str(whole)


def mass_problem(grams: Any, minimum: int = 1, capacity_g: int | None = None,
                 sscc: str | None = None) -> Text | None:
    """Say what is wrong with a mass in grams (None when it is plausible).

    ``minimum`` is 1 (a mass that must be there) or 0 (an empty container found on receipt);
    ``capacity_g`` is the container's, when the mass is one container's content.
    """
    if not isinstance(grams, int) or isinstance(grams, bool) or grams < minimum:
        return text("whole grams >= {minimum}", minimum=minimum) if minimum != 1 else text("whole grams > 0")
    ceiling = current_limits().ceiling_g
    if grams > ceiling:
        return text("{grams} g is more than the ceiling of {ceiling} g ({kg} kg)",
                    grams=grams, ceiling=ceiling, kg=_kg(ceiling))
    if capacity_g is not None and grams > capacity_g:
        return text("{grams} is more than the capacity of container {sscc} ({capacity})",
                    grams=Grams(grams), sscc=sscc or "", capacity=Grams(capacity_g))
    return None


def capacity_problem(container_type: Any, capacity_g: Any) -> Text | None:
    """Say what is wrong with a container's capacity for its type (None when it is plausible):
    a standard flask holds 34.5 kg, any container at most the ceiling."""
    problem = mass_problem(capacity_g)
    limit = TYPE_CAPACITY_G.get(container_type) if isinstance(container_type, str) else None
    if problem is None and limit is not None and capacity_g > limit:
        return text("a {container_type} holds at most {limit} g", container_type=ContainerType(container_type),
                    limit=limit)
    return problem


def moment_problem(moment: datetime, now: datetime) -> Text | None:
    """Say what is wrong with the moment of an event (None when it is plausible).

    It needs its UTC offset, within ±14 h, and lies in the last ``past_days`` days and at
    most ``future_minutes`` ahead of ``now``.
    """
    offset = moment.utcoffset()
    if offset is None:
        return text("give the time with its UTC offset, e.g. 2026-11-25T14:05:00+06:00")
    if abs(offset) > MAX_OFFSET:
        return text("the UTC offset {offset} is beyond ±14:00", offset=_offset(offset))
    limits = current_limits()
    if moment > now + limits.future_slack:  # aware datetimes compare without converting (no overflow)
        return text("{moment} is in the future (at most {minutes} minutes ahead is allowed)",
                    moment=moment.isoformat(), minutes=limits.future_minutes)
    if moment < now - limits.past:
        return text("{moment} is more than {days} days ago", moment=moment.isoformat(), days=limits.past_days)
    return None


def day_problem(day: date, today: date) -> Text | None:
    """Say what is wrong with the date of a book entry (None when it is plausible): not after
    ``today``, not more than ``past_days`` days before it."""
    limits = current_limits()
    if day > today:
        return text("{day} is in the future", day=day.isoformat())
    if day < today - limits.past:
        return text("{day} is more than {days} days ago", day=day.isoformat(), days=limits.past_days)
    return None


def read_moment(raw: Any, now: datetime) -> tuple[datetime | None, Text | None]:
    """Read an ISO 8601 time with its offset ("Z" for UTC) and check it: (moment, None) or (None, problem)."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return None, text("an ISO 8601 time with its UTC offset, e.g. 2026-11-25T14:05:00+06:00")
    problem = moment_problem(moment, now)
    return (None, problem) if problem else (moment, None)


def _offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
