"""An episode: one stretch of time a rule found wrong (or one event, like an arrival)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beacon_gateway.evaluation.rules import ONCE_PER_DECLARATION
from tracker.domain.alert_kinds import AlertKind



def iso(when: datetime | None) -> str | None:
    """Return an aware datetime as ISO 8601 UTC with a Z, or None."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Episode:
    """What a rule found: when it started, when it was detected, and when it ended (if it has)."""

    kind: str
    start: datetime
    opened_at: datetime                 # when the rule's condition was met, by the fixes (not the clock)
    end: datetime | None = None         # when the situation ended (None: still going on)
    closed_at: datetime | None = None   # when the data showed it had ended (after any hysteresis)
    lat: float | None = None
    lon: float | None = None
    subject: str = ""                   # what it concerns besides the kind (a zone's name)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """Return the alert severity of this kind of episode."""
        return AlertKind(self.kind).severity.value

    @property
    def ongoing(self) -> bool:
        """Return whether the episode has not been seen to end."""
        return self.closed_at is None

    def key(self, declaration_id: int | str) -> str:
        """Return the identity of the episode's alert: declaration, kind, start (and subject)."""
        if self.kind in ONCE_PER_DECLARATION:
            return f"{declaration_id}:{self.kind}"
        suffix = f":{self.subject}" if self.subject else ""
        return f"{declaration_id}:{self.kind}:{iso(self.start)}{suffix}"[:160]

    def summary(self) -> dict[str, Any]:
        """Return the episode as JSON-ready data (what ``check-route`` prints, alert details)."""
        last = self.end or self.details.get("last_seen")
        duration = None if last is None else round((from_iso(last) - self.start).total_seconds(), 1)
        return {"kind": self.kind, "start": iso(self.start), "end": iso(self.end),
                "opened_at": iso(self.opened_at), "closed_at": iso(self.closed_at),
                "duration_s": duration, "lat": self.lat, "lon": self.lon,
                **({"subject": self.subject} if self.subject else {}), **self.details}


def from_iso(value: datetime | str) -> datetime:
    """Return an ISO 8601 time as stored in alert details (``Z`` for UTC) as an aware datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
