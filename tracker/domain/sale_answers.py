"""The buyer's answer to a sale: confirmed, it counts in both books; disputed, it waits, with a reason.

Only the seller enters a sale or its correction (``tracker.domain.register``); the
buyer's traders then confirm it or dispute it. Until confirmed a sale counts in
neither book: not in the balance, the reconciliation, the audit books, nor the stock
that limits what either dealer can sell or use. Register entries are hashed and
append-only, so an answer is its own chained row (``SaleAnswer``), never a change to
the entry.

- A sale is *pending* with no answer, *disputed* once the buyer disputes it (with a
  reason, seen by both parties and the auditors), *confirmed* once the buyer confirms it.
- Confirmed is final. A disputed sale may still be confirmed (the parties agreed after
  all), or the seller corrects it.
- A correction withdraws the original at once (its reversal counts exactly when the
  original did) and carries the new figures, which wait for the buyer's confirmation
  again, like a new sale.
- Confirming checks the seller's book stock again: pending sales do not reserve stock,
  so the sale must still fit when it enters the books.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, may
from tracker.domain.balance import lowest_book_stock_from
from tracker.domain.chain import append_to_chain, lock_chain
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.sale_state import state_of
from tracker.domain.text import text
from tracker.models import SaleAnswer, SaleAnswerKind, SaleState, Transaction, TransactionKind, User

#: Longest dispute reason kept.
MAX_REASON = 2000


def _require_buyer(actor: User, entry: Transaction) -> None:
    if not may(actor, Action.RECORD_TRANSACTION):
        raise Forbidden(text("only a trader of the buying dealer confirms or disputes a sale"))
    if actor.dealer_id == entry.seller_id:
        raise Forbidden(text("the seller does not answer its own sale: a trader of the buyer confirms or "
                             "disputes it"))
    if actor.dealer_id != entry.buyer_id:
        raise Forbidden(text("only a trader of the buying dealer confirms or disputes a sale"))


def _require_open(session: Session, entry: Transaction) -> SaleState:
    state = state_of(session, entry)
    if state is None:
        raise Conflict(text("entry {transaction_id} is a reversal: it needs no answer", transaction_id=entry.id))
    if state == SaleState.CONFIRMED:
        raise Conflict(text("sale {transaction_id} is already confirmed; the seller corrects it if it is wrong",
                            transaction_id=entry.id))
    if session.scalar(select(Transaction.id).where(Transaction.corrects_id == entry.id,
                                                   Transaction.kind == TransactionKind.REVERSAL)):
        raise Conflict(text("sale {transaction_id} has been corrected by the seller; answer its correction",
                            transaction_id=entry.id))
    return state


def _answer(session: Session, actor: User, entry: Transaction, answer: SaleAnswerKind,
            reason: str = "") -> SaleAnswer:
    row = SaleAnswer(transaction_id=entry.id, answer=answer, reason=reason, answered_by_id=actor.id)
    append_to_chain(session, row)
    return row


def _check_seller_stock(session: Session, entry: Transaction) -> None:
    available = lowest_book_stock_from(session, entry.seller_id, entry.transaction_date)
    if entry.mass_g > available:
        raise Conflict(text("the seller's book stock is {available} g; this sale of {needed} g would take it "
                            "below zero: the seller corrects it first", available=available, needed=entry.mass_g))


def confirm_sale(session: Session, actor: User, entry: Transaction) -> SaleAnswer:
    """Confirm ``entry`` as its buyer: from now on it counts in both dealers' books."""
    _require_buyer(actor, entry)
    lock_chain(session, Transaction)  # the book-stock lock, shared with sales and stock entries
    lock_chain(session, SaleAnswer)
    _require_open(session, entry)
    _check_seller_stock(session, entry)
    return _answer(session, actor, entry, SaleAnswerKind.CONFIRMED)


def dispute_sale(session: Session, actor: User, entry: Transaction, reason: str) -> SaleAnswer:
    """Dispute ``entry`` as its buyer, saying why; it stays out of both books."""
    _require_buyer(actor, entry)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": text("say what is wrong with the sale (at most {limit} characters)",
                                               limit=MAX_REASON)})
    lock_chain(session, SaleAnswer)
    if _require_open(session, entry) == SaleState.DISPUTED:
        raise Conflict(text("sale {transaction_id} is already disputed", transaction_id=entry.id))
    return _answer(session, actor, entry, SaleAnswerKind.DISPUTED, reason)
