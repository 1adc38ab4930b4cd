"""A declaration's timeline: every dated thing that happened to it, in time order, with who did it.

Entries keep domain values (a kind, the row it is about, figures); the portal puts
them into words. Beacon positions are summarised (first fix, last fix) rather than
listed: a trip reports thousands of them. Signal gaps are the ones the gateway raised
(``tracker.domain.track_episodes``, as the route-compliance report reads them): a silence
inside a configured dead zone is no gap here either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain.track_episodes import Episode, signal_gaps
from tracker.models import (
    Alert,
    AlertEvent,
    CustodyEvent,
    Declaration,
    DeclarationStatus,
    Position,
    User,
)


@dataclass(frozen=True)
class Entry:
    """One thing that happened: when, what (``kind``), who, and what it is about."""

    at: datetime
    kind: str
    who: str | None = None
    subject: Any = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalGaps:
    """The beacon's finished signal gaps: how many, the longest, and their total."""

    count: int
    longest_start: datetime
    longest: timedelta
    total: timedelta


def _name(user: User | None) -> str | None:
    return user.name if user is not None else None


def summarise_gaps(gaps: Sequence[Episode]) -> SignalGaps | None:
    """Summarise the finished signal gaps (None: none has ended yet)."""
    finished = [(g.start, timedelta(seconds=g.duration_s)) for g in gaps
                if g.end is not None and g.duration_s is not None]
    if not finished:
        return None
    start, longest = max(finished, key=lambda gap: gap[1])
    return SignalGaps(len(finished), start, longest, sum((g for _, g in finished), timedelta()))


def filing_entries(declaration: Declaration) -> Iterator[Entry]:
    """Created, submitted, approved or rejected."""
    d = declaration
    yield Entry(d.created_at, "created", _name(d.created_by))
    if d.submitted_at is not None:
        yield Entry(d.submitted_at, "submitted")
    if d.decided_at is not None:
        kind = "rejected" if d.status == DeclarationStatus.REJECTED or d.reference is None else "approved"
        yield Entry(d.decided_at, kind, _name(d.decided_by), details={"reason": d.decision_reason,
                                                                      "reference": d.reference})


def movement_entries(declaration: Declaration) -> Iterator[Entry]:
    """Departed, arrived, the report of receipt (with its discrepancy) and closing."""
    d = declaration
    if d.departed_at is not None:
        yield Entry(d.departed_at, "departed")
    if d.arrived_at is not None:
        yield Entry(d.arrived_at, "arrived")
    if d.received_at is not None:
        declared = d.declared_net_g
        received = sum(item.received_net_g or 0 for item in d.items)
        broken = [item.container.sscc for item in d.items if item.seal_intact is False]
        yield Entry(d.received_at, "received", _name(d.received_by), details={
            "declared_g": declared, "received_g": received, "difference_g": received - declared,
            "broken_seals": broken, "remarks": d.receipt_remarks})
    if d.closed_at is not None:
        yield Entry(d.closed_at, "closed")


def custody_entries(session: Session, declaration: Declaration) -> Iterator[Entry]:
    """Containers seen at a checkpoint, with the officer (or the station's device).

    Consecutive scans of the same kind at the same checkpoint by the same recorder (the
    flasks of one truck at one gate) make one entry whose subject lists the events.
    """
    events = session.scalars(
        select(CustodyEvent).where(CustodyEvent.declaration_id == declaration.id)
        .options(selectinload(CustodyEvent.container), selectinload(CustodyEvent.checkpoint))
        .order_by(CustodyEvent.event_time, CustodyEvent.id)
    ).all()
    officers = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_({e.officer_id for e in events if e.officer_id is not None})))}

    def recorder(event: CustodyEvent) -> str | None:
        who = _name(officers.get(event.officer_id)) if event.officer_id is not None else None
        return who or event.device or None

    for (_kind, _checkpoint, who), run in groupby(events, key=lambda e: (e.kind, e.checkpoint_id, recorder(e))):
        scans = tuple(run)
        yield Entry(scans[0].event_time, "custody", who, subject=scans)


def alert_entries(session: Session, declaration: Declaration) -> Iterator[Entry]:
    """Each step of each alert: opened, acknowledged, explained, closed (and reopened, updated)."""
    steps = session.scalars(
        select(AlertEvent).join(Alert).where(Alert.declaration_id == declaration.id)
        .options(selectinload(AlertEvent.actor), selectinload(AlertEvent.alert))
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    for step in steps:
        who = _name(step.actor) or (None if step.actor_name == "system" else step.actor_name)
        yield Entry(step.at, f"alert_{step.action}", who, subject=step.alert, details={"note": step.note})


def track_entries(session: Session, declaration: Declaration) -> Iterator[Entry]:
    """The first and last fix of the beacon on this declaration, and the signal gaps the gateway raised.

    Gaps that have ended make one summary entry at the longest one; a silence still going
    on is an entry of its own, at the last fix heard.
    """
    times = list(session.scalars(
        select(Position.fix_time).where(Position.declaration_id == declaration.id).order_by(Position.fix_time)))
    if times:
        yield Entry(times[0], "first_position", details={"fixes": len(times)})
    gaps = signal_gaps(session, declaration.id)
    summary = summarise_gaps(gaps)
    if summary is not None:
        yield Entry(summary.longest_start, "signal_gaps", subject=summary)
    for gap in gaps:
        if gap.end is None:
            yield Entry(gap.start, "signal_silent", subject=gap)
    if len(times) > 1:
        yield Entry(times[-1], "last_position", details={"fixes": len(times)})


def in_time_order(entries: Iterable[Entry]) -> list[Entry]:
    """Sort entries by time; entries at the same moment keep the order they were produced in."""
    return sorted(entries, key=lambda entry: entry.at)


def timeline(session: Session, declaration: Declaration) -> list[Entry]:
    """Return everything that happened to ``declaration``, oldest first."""
    return in_time_order([
        *filing_entries(declaration),
        *movement_entries(declaration),
        *custody_entries(session, declaration),
        *track_entries(session, declaration),
        *alert_entries(session, declaration),
    ])
