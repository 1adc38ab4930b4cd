"""The life of a declaration: which status may follow which, and the moves themselves.

draft → submitted → approved | rejected → in_transit → arrived → closed;
cancelled from draft, submitted or approved (before departure). A rejected draft may
be edited and submitted again (it goes back to draft).

Submitting checks every rule of ``submission``; approving (licensing admin or customs)
assigns a reference number with a check character, rejecting records the reason.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.domain.access import Action, may, may_cancel, owns_declaration
from tracker.domain.approvals import recount
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.references import make_reference
from tracker.domain.seals import seal_declaration_items
from tracker.domain.submission import check_submission, rule_parties_licensed
from tracker.domain.text import listed, text
from tracker.models import Declaration, DeclarationStatus, User, utcnow

S = DeclarationStatus
REFERENCE_ATTEMPTS = 3

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


def require_move(declaration: Declaration, to: DeclarationStatus) -> None:
    """Raise Conflict naming the illegal transition unless the declaration may become ``to``."""
    current = DeclarationStatus(declaration.status)
    if to not in TRANSITIONS[current]:
        allowed = listed(sorted(TRANSITIONS[current])) if TRANSITIONS[current] else text("nothing (final)")
        raise Conflict(text("declaration {declaration} is {status}; it cannot become {to} (allowed: {allowed})",
                            declaration=declaration.label, status=current, to=to, allowed=allowed))


def move(declaration: Declaration, to: DeclarationStatus) -> None:
    """Change the status, or raise Conflict naming the illegal transition."""
    require_move(declaration, to)
    declaration.status = to


def depart(declaration: Declaration, at: datetime | None = None) -> None:
    """Mark the departure at the origin (approved → in_transit)."""
    move(declaration, S.IN_TRANSIT)
    declaration.departed_at = at or utcnow()


def arrive(declaration: Declaration, at: datetime | None = None) -> None:
    """Mark the arrival at the destination (in_transit → arrived)."""
    move(declaration, S.ARRIVED)
    declaration.arrived_at = at or utcnow()


def _find(session: Session, actor: User, declaration_id: int) -> Declaration:
    from tracker.domain.declarations import find_declaration  # declarations imports this module

    return find_declaration(session, actor, declaration_id)


def _own(session: Session, actor: User, declaration_id: int) -> Declaration:
    declaration = _find(session, actor, declaration_id)
    if not owns_declaration(actor, declaration):
        raise Forbidden(text("only a trader of the declaring dealer may do this"))
    return declaration


def submit(session: Session, actor: User, declaration_id: int, now: datetime | None = None) -> Declaration:
    """Submit a draft after checking every rule; all failures are reported at once."""
    declaration = _own(session, actor, declaration_id)
    require_move(declaration, S.SUBMITTED)
    now = now or utcnow()
    errors = check_submission(session, declaration, now)
    if errors:
        raise ValidationFailed(errors)
    move(declaration, S.SUBMITTED)
    declaration.submitted_at = now
    seal_declaration_items(session, declaration)
    recount(session, declaration)
    return declaration


def _decidable(session: Session, actor: User, declaration_id: int) -> Declaration:
    if not may(actor, Action.DECIDE_DECLARATION):
        raise Forbidden(text("only the licensing authority or customs decides on declarations"))
    return _find(session, actor, declaration_id)


def next_reference(session: Session, year: int) -> str:
    """Return the next free reference number of ``year`` (serials count up per year)."""
    prefix = f"{year % 100:02d}KGHG"
    taken = session.scalars(select(Declaration.reference).where(Declaration.reference.like(prefix + "%")))
    serial = max((int(ref[6:16]) for ref in taken if ref), default=0) + 1
    return make_reference(year, serial)


def approve(session: Session, actor: User, declaration_id: int, reason: str = "",
            now: datetime | None = None) -> Declaration:
    """Approve a submitted declaration and give it a reference with a check character.

    The parties' licences are checked again: one suspended since submission blocks it.
    """
    declaration = _decidable(session, actor, declaration_id)
    require_move(declaration, S.APPROVED)
    now = now or utcnow()
    errors = check_submission(session, declaration, now, rules=(rule_parties_licensed,))
    if errors:
        raise ValidationFailed(errors)
    for _attempt in range(REFERENCE_ATTEMPTS):
        try:
            with session.begin_nested():  # two approvals at once may pick the same serial: retry
                reference = next_reference(session, now.year)  # queried before the move: an
                move(declaration, S.APPROVED)                    # approved row carries its reference
                declaration.reference = reference
                _decided(declaration, actor, reason.strip(), now)
                session.flush()
            return declaration
        except IntegrityError:
            continue
    raise Conflict(text("no free reference number for {declaration}; try again", declaration=declaration.label))


def reject(session: Session, actor: User, declaration_id: int, reason: str,
           now: datetime | None = None) -> Declaration:
    """Reject a submitted declaration, saying why; the trader may edit and resubmit it."""
    declaration = _decidable(session, actor, declaration_id)
    if not reason.strip():
        raise ValidationFailed({"reason": text("say why the declaration is rejected")})
    move(declaration, S.REJECTED)
    _decided(declaration, actor, reason.strip(), now or utcnow())
    session.flush()
    recount(session, declaration)
    return declaration


def _decided(declaration: Declaration, actor: User, reason: str, at: datetime) -> None:
    declaration.decided_by = actor
    declaration.decided_at = at
    declaration.decision_reason = reason


def cancel(session: Session, actor: User, declaration_id: int, reason: str = "") -> Declaration:
    """Cancel a declaration before departure (its trader, or the licensing authority)."""
    declaration = _find(session, actor, declaration_id)
    if not may_cancel(actor, declaration):
        raise Forbidden(text("only the declaring trader or the licensing authority cancels a declaration"))
    move(declaration, S.CANCELLED)
    if reason.strip():
        declaration.decision_reason = reason.strip()
    session.flush()
    recount(session, declaration)
    return declaration
