"""Where a sale stands with its buyer (pending, confirmed, disputed), and which entries count in the books.

The rules are told in ``tracker.domain.sale_answers``; this module only reads them from
the register and the buyers' answers, so the books (``tracker.domain.balance``) can ask.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from tracker.models import SaleAnswer, SaleAnswerKind, SaleState, Transaction, TransactionKind


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


def counts_in_books(session: Session, entry: Transaction) -> bool:
    """Tell whether ``entry`` counts in the books now."""
    return bool(session.scalar(select(in_books()).select_from(Transaction).where(Transaction.id == entry.id)))


def states(session: Session, entries: list[Transaction]) -> dict[int, SaleState | None]:
    """Return each entry's state by id (None for a reversal: it needs no answer)."""
    answers: dict[int, set[SaleAnswerKind]] = {}
    ids = [e.id for e in entries if e.needs_confirmation]
    for transaction_id, answer in session.execute(select(SaleAnswer.transaction_id, SaleAnswer.answer)
                                                  .where(SaleAnswer.transaction_id.in_(ids))):
        answers.setdefault(transaction_id, set()).add(answer)
    return {e.id: _state(e, answers.get(e.id, set())) for e in entries}


def _state(entry: Transaction, answers: set[SaleAnswerKind]) -> SaleState | None:
    if entry.kind == TransactionKind.REVERSAL:
        return None
    if not entry.needs_confirmation or SaleAnswerKind.CONFIRMED in answers:
        return SaleState.CONFIRMED
    return SaleState.DISPUTED if SaleAnswerKind.DISPUTED in answers else SaleState.PENDING


def state_of(session: Session, entry: Transaction) -> SaleState | None:
    """Return where ``entry`` stands with its buyer (None for a reversal)."""
    return states(session, [entry])[entry.id]


def dispute_of(session: Session, entry: Transaction) -> SaleAnswer | None:
    """Return the buyer's dispute of ``entry``, if any."""
    return session.scalars(select(SaleAnswer).where(
        SaleAnswer.transaction_id == entry.id, SaleAnswer.answer == SaleAnswerKind.DISPUTED)
        .order_by(SaleAnswer.id.desc()).limit(1)).one_or_none()


def disputed_sales(session: Session) -> list[Transaction]:
    """Return every sale or correction disputed and not confirmed since, oldest first."""
    disputed = select(SaleAnswer.transaction_id).where(SaleAnswer.answer == SaleAnswerKind.DISPUTED)
    return list(session.scalars(select(Transaction).where(
        Transaction.id.in_(disputed), ~_confirmed(Transaction)).order_by(Transaction.id)))
