"""The transaction register and the stock book: append-only, chained evidence of who owns mercury.

A sale names seller, buyer, mass, place, date and optionally a declaration; both
parties hold a licence for domestic trade on that date, and the seller's book stock
may not go below zero. Only a trader of the seller enters a sale or corrects it; the
buyer then confirms or disputes it (``tracker.domain.sale_answers``), and until
confirmed it counts in neither book. Nothing is updated or deleted: a mistake is
corrected by a *reversal* (the original's figures, undoing it) plus a *correction*
carrying the new full figures, both referring to the original; the correction waits
for the buyer's confirmation again. Production and declared use enter the
stock book the same way (``StockEntry``).

Every write takes the transactions chain lock first, so two sales cannot both spend
the same stock.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, may, transaction_filter
from tracker.domain.balance import lowest_book_stock_from
from tracker.domain.chain import append_to_chain, lock_chain
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.plausibility import day_problem, mass_problem
from tracker.domain.sale_state import counts_in_books
from tracker.domain.text import text
from tracker.models import (
    Activity,
    Dealer,
    Declaration,
    StockEntry,
    StockEntryKind,
    Transaction,
    TransactionKind,
    User,
)

#: Dates in the register are Kyrgyz calendar days (UTC+6).
KG_TIME = timezone(timedelta(hours=6))


def today_kg() -> date:
    """Return today's date in Kyrgyzstan."""
    return datetime.now(KG_TIME).date()


@dataclass(frozen=True)
class SaleInput:
    """What a trader declares about one sale."""

    seller_id: int
    buyer_id: int
    mass_g: int
    place: str
    transaction_date: date
    declaration_id: int | None = None
    remarks: str = ""


def _licensed(dealer: Dealer, activity: Activity, on: date) -> bool:
    return any(licence.covers(activity, on) for licence in dealer.licenses)


def _check_party(session: Session, field: str, dealer_id: int, on: date | None,
                 errors: dict[str, str]) -> Dealer | None:
    dealer = session.get(Dealer, dealer_id) if isinstance(dealer_id, int) else None
    if dealer is None:
        errors[field] = text("no dealer {dealer_id}", dealer_id=dealer_id)
    elif on is not None and not _licensed(dealer, Activity.DOMESTIC_TRADE, on):
        errors[field] = text("{dealer} holds no licence for domestic trade on {on}",
                             dealer=dealer.legal_name, on=on.isoformat())
    return dealer


def _check_common(mass_g: object, place: object, on: object, errors: dict[str, str]) -> date | None:
    if (problem := mass_problem(mass_g)) is not None:
        errors["mass_g"] = problem
    if not isinstance(place, str) or not place.strip() or len(place) > 200:
        errors["place"] = text("say where it happened (at most 200 characters)")
    if not isinstance(on, date) or isinstance(on, datetime):
        errors["transaction_date"] = text("a date (YYYY-MM-DD)")
        return None
    if on > today_kg():
        errors["transaction_date"] = text("{on} is in the future", on=on.isoformat())
        return None
    return on


def _check_stock(session: Session, field: str, dealer: Dealer, on: date, needed_g: int,
                 errors: dict[str, str]) -> None:
    """Refuse when taking ``needed_g`` would leave the dealer's book stock below zero."""
    available = lowest_book_stock_from(session, dealer.id, on)
    if needed_g > available:
        errors[field] = text("{dealer}'s book stock is {available} g; {needed} g would take it below zero",
                              dealer=dealer.legal_name, available=available, needed=needed_g)


def _validate_sale(session: Session, sale: SaleInput, credit: dict[int, int]) -> None:
    """Check every rule of a sale at once; ``credit`` is stock a reversal gives back per dealer."""
    errors: dict[str, str] = {}
    on = _check_common(sale.mass_g, sale.place, sale.transaction_date, errors)
    seller = _check_party(session, "seller_id", sale.seller_id, on, errors)
    buyer = _check_party(session, "buyer_id", sale.buyer_id, on, errors)
    if seller is not None and buyer is not None and seller.id == buyer.id:
        errors["buyer_id"] = text("seller and buyer are the same dealer")
    if sale.declaration_id is not None and session.get(Declaration, sale.declaration_id) is None:
        errors["declaration_id"] = text("no declaration {declaration_id}", declaration_id=sale.declaration_id)
    if seller is not None and on is not None and "mass_g" not in errors and "seller_id" not in errors:
        _check_stock(session, "mass_g", seller, on, sale.mass_g - credit.get(seller.id, 0), errors)
    if errors:
        raise ValidationFailed(errors)


def _require_seller(actor: User, seller_id: object) -> None:
    """Refuse anyone but a trader of the selling dealer: a buyer or a stranger cannot enter a sale."""
    if not may(actor, Action.RECORD_TRANSACTION):
        raise Forbidden(text("only a licensed trader records transactions"))
    if actor.dealer_id is None or actor.dealer_id != seller_id:
        raise Forbidden(text("only the seller enters a sale or corrects it: a trader of the selling dealer; "
                             "the buyer confirms or disputes it"))


def _entry(kind: TransactionKind, sale: SaleInput, actor: User, corrects: int | None) -> Transaction:
    return Transaction(
        kind=kind, seller_id=sale.seller_id, buyer_id=sale.buyer_id, mass_g=sale.mass_g,
        place=sale.place.strip(), transaction_date=sale.transaction_date,
        declaration_id=sale.declaration_id, corrects_id=corrects, remarks=sale.remarks.strip(),
        recorded_by_id=actor.id, needs_confirmation=kind != TransactionKind.REVERSAL,
    )


def record_sale(session: Session, actor: User, sale: SaleInput) -> Transaction:
    """Enter a sale of the actor's dealer after checking every rule (all failures reported at once).

    The sale waits for the buyer's confirmation before it counts in either book.
    """
    _require_seller(actor, sale.seller_id)
    lock_chain(session, Transaction)
    _validate_sale(session, sale, credit={})
    entry = _entry(TransactionKind.SALE, sale, actor, None)
    append_to_chain(session, entry)
    return entry


def find_transaction(session: Session, user: User, transaction_id: int) -> Transaction:
    """Return the register entry if ``user`` may read it, else raise NotFound."""
    entry = session.scalars(select(Transaction).where(
        Transaction.id == transaction_id, transaction_filter(user))).one_or_none()
    if entry is None:
        raise NotFound(text("no transaction {transaction_id}", transaction_id=transaction_id))
    return entry


def _as_input(entry: Transaction) -> SaleInput:
    return SaleInput(entry.seller_id, entry.buyer_id, entry.mass_g, entry.place,
                     entry.transaction_date, entry.declaration_id, entry.remarks)


def correct_transaction(session: Session, actor: User, original_id: int, reason: str,
                        **changes: object) -> tuple[Transaction, Transaction]:
    """Reverse an entry and enter the corrected one; both refer to the original.

    Only the seller corrects. ``changes`` are SaleInput fields to change (``mass_g``,
    ``buyer_id``, ``place``, ``transaction_date``, ``declaration_id``; the seller stays);
    the correction carries the new full figures, not a difference, and waits for the
    buyer's confirmation. The reversal withdraws the original at once (it counts when
    the original did). Returns (reversal, correction).
    """
    lock_chain(session, Transaction)
    original = find_transaction(session, actor, original_id)
    _require_seller(actor, original.seller_id)
    if original.kind == TransactionKind.REVERSAL:
        raise Conflict(text("transaction {transaction_id} is a reversal; correct the entry it reverses",
                            transaction_id=original_id))
    if session.scalar(select(Transaction.id).where(
            Transaction.corrects_id == original.id, Transaction.kind == TransactionKind.REVERSAL)):
        raise Conflict(text("transaction {transaction_id} has already been reversed; correct its correction",
                            transaction_id=original_id))
    unknown = set(changes) - {"mass_g", "buyer_id", "place", "transaction_date", "declaration_id"}
    if unknown or not reason.strip():
        raise ValidationFailed({**{f: text("cannot be changed") for f in unknown},
                                **({} if reason.strip() else {"reason": text("say what was wrong")})})
    corrected = replace(_as_input(original), remarks=reason, **changes)  # type: ignore[arg-type]
    _require_seller(actor, corrected.seller_id)
    _validate_correction(session, original, corrected)
    reversal = _entry(TransactionKind.REVERSAL, replace(_as_input(original), remarks=f"reversed: {reason}"),
                      actor, original.id)
    append_to_chain(session, reversal)
    correction = _entry(TransactionKind.CORRECTION, corrected, actor, original.id)
    append_to_chain(session, correction)
    return reversal, correction


def _validate_correction(session: Session, original: Transaction, corrected: SaleInput) -> None:
    """Check the corrected sale, counting the stock the reversal gives back and takes away.

    A reversal moves stock only when the original counts in the books; the correction
    itself moves none until the buyer confirms it.
    """
    counted = counts_in_books(session, original)
    _validate_sale(session, corrected, credit={original.seller_id: original.mass_g} if counted else {})
    buyer = session.get(Dealer, original.buyer_id)
    errors: dict[str, str] = {}
    if buyer is not None and counted:
        _check_stock(session, "mass_g", buyer, original.transaction_date, original.mass_g, errors)
    if errors:
        raise ValidationFailed({"mass_g": text("the buyer has already passed on mercury of this sale: {problem}",
                                               problem=errors["mass_g"])})


@dataclass(frozen=True)
class StockEntryInput:
    """A production or declared-use record."""

    kind: str
    mass_g: int
    entry_date: date
    place: str
    remarks: str = ""


def record_stock_entry(session: Session, actor: User, entry: StockEntryInput,
                       today: date | None = None) -> StockEntry:
    """Enter production or declared use for the acting trader's dealer.

    Production needs a licence covering production on that day; use needs one covering
    use, and enough book stock. The day lies within the plausible window before ``today``
    (Kyrgyz today unless given, as the demo's history does).
    """
    if not may(actor, Action.RECORD_TRANSACTION) or actor.dealer is None:
        raise Forbidden(text("only a licensed trader records production and use for their dealer"))
    lock_chain(session, Transaction)  # the book-stock lock, shared with sales
    lock_chain(session, StockEntry)
    errors: dict[str, str] = {}
    on = _check_common(entry.mass_g, entry.place, entry.entry_date, errors)
    errors = {("entry_date" if k == "transaction_date" else k): v for k, v in errors.items()}
    if on is not None and (problem := day_problem(on, today or today_kg())) is not None:
        errors["entry_date"], on = problem, None
    if entry.kind not in {k.value for k in StockEntryKind}:
        errors["kind"] = text("production or use")
    elif on is not None:
        activity = Activity.PRODUCTION if entry.kind == StockEntryKind.PRODUCTION else Activity.USE
        if not _licensed(actor.dealer, activity, on):
            errors["kind"] = text("{dealer} holds no licence for {activity} on {on}",
                                  dealer=actor.dealer.legal_name, activity=activity, on=on.isoformat())
        elif activity == Activity.USE and "mass_g" not in errors:
            _check_stock(session, "mass_g", actor.dealer, on, entry.mass_g, errors)
    if errors:
        raise ValidationFailed(errors)
    row = StockEntry(kind=StockEntryKind(entry.kind), dealer_id=actor.dealer_id, mass_g=entry.mass_g,
                     entry_date=entry.entry_date, place=entry.place.strip(), remarks=entry.remarks.strip(),
                     recorded_by_id=actor.id)
    append_to_chain(session, row)
    return row
