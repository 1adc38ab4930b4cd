"""Where a sale stands with its buyer (pending, confirmed, disputed), and which entries count in the books.

The rules are told in ``tracker.domain.sale_answers``; this module only reads them from
the register and the buyers' answers, so the books (``tracker.domain.balance``) can ask.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from tracker.models import Role, SaleAnswer, SaleAnswerKind, SaleState, Transaction, TransactionKind, User


def _confirmed(entry: type[Transaction]) -> ColumnElement[bool]:
    """Return the condition: the entry needs no answer, or its buyer has confirmed it."""
    return or_(entry.needs_confirmation.is_(False), exists().where(
        SaleAnswer.transaction_id == entry.id, SaleAnswer.answer == SaleAnswerKind.CONFIRMED))


def in_books() -> ColumnElement[bool]:
    """Return the condition selecting the register entries that count in the books.

    Sales and corrections count once confirmed; a reversal counts when the entry it
    reverses does.
    """
    original = aliased(Transaction)
    return or_(
        and_(Transaction.kind != TransactionKind.REVERSAL, _confirmed(Transaction)),
        and_(Transaction.kind == TransactionKind.REVERSAL,
             exists().where(original.id == Transaction.corrects_id, _confirmed(original))))


def in_state(state: SaleState) -> ColumnElement[bool]:
    """Return the condition selecting the sales and corrections in ``state`` (never a reversal)."""
    answered = exists().where(SaleAnswer.transaction_id == Transaction.id)
    disputed = exists().where(SaleAnswer.transaction_id == Transaction.id,
                              SaleAnswer.answer == SaleAnswerKind.DISPUTED)
    awaiting = and_(Transaction.kind != TransactionKind.REVERSAL, ~_confirmed(Transaction))
    if state == SaleState.CONFIRMED:
        return and_(Transaction.kind != TransactionKind.REVERSAL, _confirmed(Transaction))
    return and_(awaiting, disputed) if state == SaleState.DISPUTED else and_(awaiting, ~answered)


def counts_in_books(session: Session, entry: Transaction) -> bool:
    """Tell whether ``entry`` counts in the books now."""
    return bool(session.scalar(select(in_books()).select_from(Transaction).where(Transaction.id == entry.id)))


@dataclass(frozen=True)
class Standing:
    """Where one entry stands: its state and the buyer's answer that set it (None while pending)."""

    state: SaleState | None
    answer: SaleAnswer | None = None


def standings(session: Session, entries: list[Transaction]) -> dict[int, Standing]:
    """Return each entry's standing by id (state None for a reversal: it needs no answer)."""
    answers: dict[int, list[SaleAnswer]] = {}
    ids = [e.id for e in entries if e.needs_confirmation]
    for answer in session.scalars(select(SaleAnswer).where(SaleAnswer.transaction_id.in_(ids))
                                  .order_by(SaleAnswer.id)):
        answers.setdefault(answer.transaction_id, []).append(answer)
    return {e.id: _standing(e, answers.get(e.id, [])) for e in entries}


def _standing(entry: Transaction, answers: list[SaleAnswer]) -> Standing:
    if entry.kind == TransactionKind.REVERSAL:
        return Standing(None)
    if not entry.needs_confirmation:
        return Standing(SaleState.CONFIRMED)
    confirmed = [a for a in answers if a.answer == SaleAnswerKind.CONFIRMED]
    if confirmed:
        return Standing(SaleState.CONFIRMED, confirmed[0])
    return Standing(SaleState.DISPUTED, answers[-1]) if answers else Standing(SaleState.PENDING)


def state_of(session: Session, entry: Transaction) -> SaleState | None:
    """Return where ``entry`` stands with its buyer (None for a reversal)."""
    return standings(session, [entry])[entry.id].state


def dispute_of(session: Session, entry: Transaction) -> SaleAnswer | None:
    """Return the buyer's dispute of ``entry``, if any."""
    return session.scalars(select(SaleAnswer).where(
        SaleAnswer.transaction_id == entry.id, SaleAnswer.answer == SaleAnswerKind.DISPUTED)
        .order_by(SaleAnswer.id.desc()).limit(1)).one_or_none()


def disputed_sales(session: Session) -> list[Transaction]:
    """Return every sale or correction disputed and neither confirmed nor corrected since, oldest first."""
    reversal = aliased(Transaction)
    corrected_since = exists().where(reversal.corrects_id == Transaction.id,
                                     reversal.kind == TransactionKind.REVERSAL)
    return list(session.scalars(select(Transaction).where(in_state(SaleState.DISPUTED), ~corrected_since)
                                .order_by(Transaction.id)))


def corrected(session: Session, entries: list[Transaction]) -> set[int]:
    """Return the ids among ``entries`` that the seller has reversed (corrected): no longer answered."""
    ids = [e.id for e in entries]
    return set(session.scalars(select(Transaction.corrects_id).where(
        Transaction.corrects_id.in_(ids), Transaction.kind == TransactionKind.REVERSAL)))


def awaits_answer_from(user: User, entry: Transaction, standing: Standing, reversed_ids: set[int]) -> bool:
    """Tell whether ``user`` is a trader of the buyer and ``entry`` still waits for their answer."""
    return (user.active and user.role == Role.TRADER and user.dealer_id == entry.buyer_id
            and standing.state in (SaleState.PENDING, SaleState.DISPUTED) and entry.id not in reversed_ids)
