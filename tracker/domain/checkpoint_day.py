"""A customs post's day: what departs from it, what arrives at or passes it, and what was recorded there.

Each list is an ordered query of one entity, paged by the caller (the portal's ``paginate``).
The rows come with everything the officer's page shows already chosen for loading (items and
their containers, parties, places), so the page costs the same few statements however many
declarations and events a busy post has. Custody events are grouped by declaration: the declaration with the latest event
first, its events newest first, so one page shows each declaration once with its events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from tracker.models import (
    CustodyEvent,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    ExpectedCheckpoint,
)

#: What a movement row shows of a declaration: its parties and places (joined to the page's own
#: statement), its flasks (one more statement for the page).
_MOVEMENT_ROWS = (
    joinedload(Declaration.consignor), joinedload(Declaration.consignee),
    joinedload(Declaration.origin), joinedload(Declaration.destination),
    selectinload(Declaration.items).joinedload(DeclarationItem.container),
)
#: What an event row shows: the container's SSCC, the post, the declaration (joined to the page's statement).
_EVENT_ROWS = (joinedload(CustodyEvent.container), joinedload(CustodyEvent.checkpoint),
               joinedload(CustodyEvent.declaration))


def departing(posts: list[int]) -> Select[tuple[Declaration]]:
    """Approved declarations that start at one of the posts, soonest first."""
    return (select(Declaration)
            .where(Declaration.status == DeclarationStatus.APPROVED, Declaration.origin_id.in_(posts))
            .order_by(Declaration.planned_departure, Declaration.id).options(*_MOVEMENT_ROWS))


def arriving(posts: list[int]) -> Select[tuple[Declaration]]:
    """Declarations in transit that end at, or pass, one of the posts, soonest first."""
    passing = select(ExpectedCheckpoint.declaration_id).where(ExpectedCheckpoint.checkpoint_id.in_(posts))
    return (select(Declaration)
            .where(Declaration.status == DeclarationStatus.IN_TRANSIT,
                   or_(Declaration.destination_id.in_(posts), Declaration.id.in_(passing)))
            .order_by(Declaration.planned_arrival, Declaration.id).options(*_MOVEMENT_ROWS))


def _declaration_key():  # type: ignore[no-untyped-def]
    """Group key of an event: its declaration, or 0 for the events on no declaration."""
    return func.coalesce(CustodyEvent.declaration_id, 0)


def recorded_since(posts: list[int], since: datetime) -> Select[tuple[CustodyEvent]]:
    """Custody events recorded at the posts since ``since``, grouped by declaration.

    The declaration whose latest event is newest comes first; within it, newest event first.
    """
    key = _declaration_key()
    latest = func.max(CustodyEvent.event_time).over(partition_by=key)
    return (select(CustodyEvent)
            .where(CustodyEvent.checkpoint_id.in_(posts), CustodyEvent.event_time >= since)
            .order_by(latest.desc(), key.desc(), CustodyEvent.event_time.desc(), CustodyEvent.id.desc())
            .options(*_EVENT_ROWS))


@dataclass
class DeclarationEvents:
    """The events of one declaration on a page (``declaration`` None: the events on no declaration)."""

    declaration: Declaration | None
    events: list[CustodyEvent] = field(default_factory=list)


def by_declaration(events: list[CustodyEvent]) -> list[DeclarationEvents]:
    """Group events ordered by :func:`recorded_since` under their declarations, keeping that order."""
    groups: list[DeclarationEvents] = []
    for event in events:
        if not groups or groups[-1].declaration is not event.declaration:
            groups.append(DeclarationEvents(event.declaration))
        groups[-1].events.append(event)
    return groups
