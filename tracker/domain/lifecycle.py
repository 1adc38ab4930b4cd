"""The life of a declaration: which status may follow which, and the moves themselves.

draft → submitted → approved | rejected → in_transit → arrived → closed;
cancelled from draft, submitted or approved (before departure). A rejected draft may
be edited and submitted again (it goes back to draft).
"""
from __future__ import annotations

from datetime import datetime

from tracker.domain.errors import Conflict
from tracker.models import Declaration, DeclarationStatus, utcnow

S = DeclarationStatus

#: status -> statuses it may move to
TRANSITIONS: dict[DeclarationStatus, frozenset[DeclarationStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.REJECTED: frozenset({S.DRAFT}),
    S.APPROVED: frozenset({S.IN_TRANSIT, S.CANCELLED}),
    S.IN_TRANSIT: frozenset({S.ARRIVED}),
    S.ARRIVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


def may_move(declaration: Declaration, to: DeclarationStatus) -> bool:
    """Tell whether the declaration may move from its status to ``to``."""
    return to in TRANSITIONS[DeclarationStatus(declaration.status)]


def move(declaration: Declaration, to: DeclarationStatus) -> None:
    """Change the status, or raise Conflict naming the illegal transition."""
    current = DeclarationStatus(declaration.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (final)"
        raise Conflict(f"declaration {declaration.label} is {current.value}; it cannot become "
                       f"{to.value} (allowed: {allowed})")
    declaration.status = to


def depart(declaration: Declaration, at: datetime | None = None) -> None:
    """Mark the departure at the origin (approved → in_transit)."""
    move(declaration, S.IN_TRANSIT)
    declaration.departed_at = at or utcnow()


def arrive(declaration: Declaration, at: datetime | None = None) -> None:
    """Mark the arrival at the destination (in_transit → arrived)."""
    move(declaration, S.ARRIVED)
    declaration.arrived_at = at or utcnow()
