"""The one custody check: may this container have this event, here, now, by this recorder?

Every way custody is recorded (the portal's form, ``POST /api/v1/custody-events``, the
phone photo, the checkpoint station) asks :func:`check_custody`, and the portal's
"Expected here" banner shows its answer. The answer is *allowed*, *allowed with an
alert* or *refused*, with every reason in words:

- the recorder is posted at the checkpoint (an officer's posts; a station is its own post);
- the declaration's status fits the event kind at this checkpoint: departure at the origin
  while approved, arrival at the destination once departed, inspection and handover at the
  route's checkpoints (elsewhere they are kept, as evidence, with an alert);
- both parties' licences and the import approval or export consent hold at the event time:
  a departure is refused, any other event is kept and opens a critical alert;
- a departure lies inside the planned window (with a tolerance), or the officer overrides
  it with a reason, which opens an alert;
- the container has not departed (or arrived) at this checkpoint on this declaration yet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.custody_licences import licences_and_consent_problems
from tracker.domain.text import Text, joined, text
from tracker.domain.place_names import named
from tracker.models import (
    Checkpoint,
    Container,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationStatus,
    DeviceToken,
    User,
)

#: How far outside the planned window a departure may be without the officer's override.
DEFAULT_WINDOW_TOLERANCE = timedelta(hours=2)
#: Events a container has once per declaration and checkpoint: a second scan is a re-scan, not an event.
ONCE = (CustodyKind.DEPARTURE, CustodyKind.ARRIVAL)
#: Longest reason an officer may give for an override or a partial departure.
MAX_REASON = 2000


class Verdict(StrEnum):
    """The check's answer."""

    ALLOWED = "allowed"
    ALLOWED_WITH_ALERT = "allowed_with_alert"
    REFUSED = "refused"


@dataclass(frozen=True)
class Finding:
    """One reason: a refusal (``alert`` None) or an alert the event opens when recorded."""

    message: Text
    alert: AlertKind | None = None
    #: A refusal because of who records (not posted here): 403 rather than 409.
    forbidden: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustodyAnswer:
    """Every finding of the check, and the verdict they make."""

    findings: tuple[Finding, ...]

    @property
    def refusals(self) -> list[Finding]:
        """Return the findings that refuse the event."""
        return [f for f in self.findings if f.alert is None]

    @property
    def alerts(self) -> list[Finding]:
        """Return the findings that open an alert when the event is recorded."""
        return [f for f in self.findings if f.alert is not None]

    @property
    def verdict(self) -> Verdict:
        """Return allowed, allowed with an alert, or refused."""
        if self.refusals:
            return Verdict.REFUSED
        return Verdict.ALLOWED_WITH_ALERT if self.alerts else Verdict.ALLOWED

    @property
    def reasons(self) -> list[Text]:
        """Return every reason in words, refusals first."""
        return [f.message for f in self.refusals + self.alerts]


class CustodyRefused(Conflict):
    """The custody check refused the event; ``answer`` holds every reason (409 with ``reasons``)."""

    code = "custody_refused"

    def __init__(self, answer: CustodyAnswer) -> None:
        super().__init__(joined([f.message for f in answer.refusals]))
        self.answer = answer
        self.extra = {"reasons": [str(f.message) for f in answer.refusals]}


@dataclass(frozen=True)
class Overrides:
    """What an officer confirms on purpose: a departure outside the window, a partial departure."""

    window_reason: str = ""
    partial_reason: str = ""


@dataclass(frozen=True)
class ProposedEvent:
    """The event being checked: who records what, where and when, on which declaration."""

    recorder: User | DeviceToken
    kind: CustodyKind
    checkpoint: Checkpoint
    container: Container | None
    declaration: Declaration | None
    event_time: datetime
    overrides: Overrides = Overrides()
    window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE


Rule = Callable[[Session, ProposedEvent], list[Finding]]


def _flag(data: Mapping[str, Any], flag: str, reason: str, errors: dict[str, str]) -> str:
    value = data.get(flag, False)
    if not isinstance(value, bool):
        errors[flag] = text("true or false")
        return ""
    said = data.get(reason)
    if said is not None and (not isinstance(said, str) or len(said) > MAX_REASON):
        errors[reason] = text("text of at most {limit} characters", limit=MAX_REASON)
        return ""
    if value and not (said or "").strip():
        errors[reason] = text("required with {flag}: say why", flag=flag)
    return (said or "").strip() if value else ""


def read_overrides(data: Mapping[str, Any]) -> Overrides:
    """Read ``override_window``/``override_reason`` and ``partial_departure``/``partial_reason``.

    Raises ValidationFailed when a flag is not a boolean or is set without a reason.
    """
    errors: dict[str, str] = {}
    window = _flag(data, "override_window", "override_reason", errors)
    partial = _flag(data, "partial_departure", "partial_reason", errors)
    if errors:
        raise ValidationFailed(errors)
    return Overrides(window, partial)


# ---------------------------------------------------------------- the rules
def rule_posted(_session: Session, event: ProposedEvent) -> list[Finding]:
    """An officer records only at a checkpoint they are posted at (a station is its own post)."""
    recorder = event.recorder
    if isinstance(recorder, User) and event.checkpoint.id not in {c.id for c in recorder.checkpoints}:
        return [Finding(text("you are not posted at {post}; custody is recorded by the officers posted there",
                             post=named(event.checkpoint)), forbidden=True)]
    return []


def rule_status_and_place(_session: Session, event: ProposedEvent) -> list[Finding]:
    """The declaration's status allows this kind of event at this checkpoint."""
    d, here = event.declaration, event.checkpoint
    if d is None:
        return []
    if event.kind == CustodyKind.DEPARTURE:
        if here.id != d.origin_id:
            return [Finding(text("{ref} departs from {origin}, not from {post}",
                                 ref=d.label, origin=named(d.origin), post=named(here)))]
        if d.status != DeclarationStatus.APPROVED:
            return [Finding(text("{ref} is {status}; a departure is recorded while it is approved",
                                 ref=d.label, status=d.status))]
    elif event.kind == CustodyKind.ARRIVAL:
        if here.id != d.destination_id:
            return [Finding(text("{ref} arrives at {destination}, not at {post}; record an inspection here",
                                 ref=d.label, destination=named(d.destination), post=named(here)))]
        if d.status == DeclarationStatus.APPROVED:
            return [Finding(text("arrival at the destination before any departure at the origin"),
                            AlertKind.CUSTODY_OUT_OF_ORDER)]
    elif here.id not in d.route_checkpoint_ids:
        return [Finding(text("{post} is not on the route of {ref}", post=named(here), ref=d.label),
                        AlertKind.CUSTODY_UNEXPECTED_CHECKPOINT)]
    return []


def rule_licences_hold(session: Session, event: ProposedEvent) -> list[Finding]:
    """Both parties' licences and the approval or consent hold at the event time.

    A departure is refused; any other event is evidence, kept with a critical alert.
    """
    d = event.declaration
    if d is None:
        return []
    problems = licences_and_consent_problems(session, d, event.event_time.date())
    alert = None if event.kind == CustodyKind.DEPARTURE else AlertKind.CUSTODY_LICENCE_INVALID
    return [Finding(problem, alert, details={"reason": problem}) for problem in problems]


def rule_inside_window(_session: Session, event: ProposedEvent) -> list[Finding]:
    """A departure lies in the planned window (± tolerance), or the officer overrides it with a reason."""
    d = event.declaration
    if d is None or event.kind != CustodyKind.DEPARTURE or d.planned_departure is None or d.planned_arrival is None:
        return []
    slack = event.window_tolerance
    if d.planned_departure - slack <= event.event_time <= d.planned_arrival + slack:
        return []
    moment, first, last = (event.event_time.strftime("%Y-%m-%d %H:%M %z"),
                           d.planned_departure.strftime("%Y-%m-%d %H:%M UTC"),
                           d.planned_arrival.strftime("%Y-%m-%d %H:%M UTC"))
    outside = text("{time} is outside the planned window {first} — {last} (tolerance {hours} h)",
                   time=moment, first=first, last=last, hours=round(slack.total_seconds() / 3600, 1))
    if event.overrides.window_reason:
        return [Finding(outside, AlertKind.CUSTODY_OUTSIDE_WINDOW,
                        details={"override_reason": event.overrides.window_reason})]
    return [Finding(text("{outside}; confirm the departure outside the window and say why", outside=outside))]


def recorded_by(session: Session, event: CustodyEvent) -> str:
    """Name who recorded a stored event: the officer, else the station's token."""
    if event.officer_id is not None and (officer := session.get(User, event.officer_id)) is not None:
        return officer.name or officer.login
    token = session.get(DeviceToken, event.device_token_id) if event.device_token_id else None
    return token.name if token is not None else event.device


def _zone(offset: str) -> timezone:
    """Return the fixed zone of an event's ``+06:00``-style offset (UTC when unreadable)."""
    try:
        return datetime.fromisoformat(f"2000-01-01T00:00{offset}").tzinfo or timezone.utc  # type: ignore[return-value]
    except ValueError:
        return timezone.utc


def rule_not_yet_recorded(session: Session, event: ProposedEvent) -> list[Finding]:
    """The container has not departed (or arrived) at this checkpoint on this declaration yet.

    Inspections and handovers may be repeated: each is its own act (weighed again, handed on).
    """
    if event.container is None or event.declaration is None or event.kind not in ONCE:
        return []
    earlier = session.scalars(select(CustodyEvent).where(
        CustodyEvent.container_id == event.container.id, CustodyEvent.declaration_id == event.declaration.id,
        CustodyEvent.checkpoint_id == event.checkpoint.id, CustodyEvent.kind == event.kind)
        .order_by(CustodyEvent.id).limit(1)).one_or_none()
    if earlier is None:
        return []
    local = earlier.event_time.astimezone(_zone(earlier.event_time_zone))
    clock, day = local.strftime("%H:%M"), local.strftime("%Y-%m-%d")
    return [Finding(text("{kind} of {sscc} already recorded at {time} on {day} by {who}", kind=event.kind,
                         sscc=event.container.sscc, time=clock, day=day, who=recorded_by(session, earlier)))]


#: The rules in the order their reasons are read.
RULES: tuple[Rule, ...] = (rule_posted, rule_status_and_place, rule_licences_hold, rule_inside_window,
                           rule_not_yet_recorded)


def check_custody(session: Session, event: ProposedEvent, rules: tuple[Rule, ...] = RULES) -> CustodyAnswer:
    """Run every rule on the proposed event and return the answer with all its reasons."""
    return CustodyAnswer(tuple(finding for rule in rules for finding in rule(session, event)))


def propose_kind(officer: User, declaration: Declaration | None) -> tuple[Checkpoint | None, CustodyKind]:
    """Choose the officer's post on the declaration's route and the event that fits it there.

    Departure at the origin while approved, arrival at the destination once departed, else an
    inspection at a post on the route (off the route, at the officer's first post). None: posted nowhere.
    """
    posts = officer.checkpoints
    if declaration is not None:
        at_origin = next((p for p in posts if p.id == declaration.origin_id), None)
        at_destination = next((p for p in posts if p.id == declaration.destination_id), None)
        if at_origin is not None and declaration.status == DeclarationStatus.APPROVED:
            return at_origin, CustodyKind.DEPARTURE
        if at_destination is not None and declaration.status != DeclarationStatus.APPROVED:
            return at_destination, CustodyKind.ARRIVAL
        passing = set(declaration.route_checkpoint_ids)
        post = next((p for p in posts if p.id in passing), None)
        if post is not None:
            return post, CustodyKind.INSPECTION
    return (posts[0] if posts else None), CustodyKind.INSPECTION


def check_here(session: Session, officer: User, container: Container | None, declaration: Declaration | None,
               now: datetime, window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE
               ) -> tuple[CustodyKind, Checkpoint, CustodyAnswer] | None:
    """Answer for the event the officer would record now at their post (None: posted nowhere)."""
    post, kind = propose_kind(officer, declaration)
    if post is None:
        return None
    event = ProposedEvent(officer, kind, post, container, declaration, now, window_tolerance=window_tolerance)
    return kind, post, check_custody(session, event)


def enforce(answer: CustodyAnswer) -> None:
    """Raise Forbidden when the recorder is not posted here, CustodyRefused when another rule refuses."""
    forbidden = [f.message for f in answer.refusals if f.forbidden]
    if forbidden:
        raise Forbidden(joined(forbidden))
    if answer.refusals:
        raise CustodyRefused(answer)
