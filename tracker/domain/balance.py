"""Book stock and the mass balance: every gram in and out of each dealer's books, from the records.

    opening + production + imports + purchases − sales − exports − declared use = closing

Where each figure comes from:

- production, use: the stock book (``StockEntry``), on its entry date;
- purchases, sales: the transaction register, once the buyer has confirmed the entry
  (``tracker.domain.sale_state.in_books``); a reversal counts negative (it undoes the
  sale it reverses), a correction counts like a sale;
- imports: import declarations that have arrived or are closed, for the consignee,
  on the arrival date (UTC), at the received mass where the receipt gives it and
  the declared mass otherwise;
- exports: export declarations that have arrived at their destination (the border
  or the foreign consignee) or are closed, for the consignor, on the arrival date,
  at the declared mass (what left the country).

Domestic and transit declarations move custody, not ownership: they change no books.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timezone
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain.sale_state import in_books
from tracker.models import (
    Container,
    ContainerStatus,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    StockEntry,
    StockEntryKind,
    Transaction,
    TransactionKind,
)

CATEGORIES = ("production", "imports", "purchases", "sales", "exports", "use")
#: The columns of a balance report, in order.
COLUMNS = ("dealer_id", "dealer", "from", "to", "opening_g", *(f"{c}_g" for c in CATEGORIES),
           "closing_g", "physical_g", "flags")
INFLOWS = ("production", "imports", "purchases")
OUTFLOWS = ("sales", "exports", "use")
#: Declarations whose containers have reached the other side: they count in the books.
COMPLETED = (DeclarationStatus.ARRIVED, DeclarationStatus.CLOSED)


@dataclass(frozen=True)
class Movement:
    """One change to one dealer's books: a category and a mass in grams on a day."""

    dealer_id: int
    on: date
    category: str
    mass_g: int
    #: The record it comes from (stock entry, transaction or declaration), for drill-down.
    source: object = field(default=None, compare=False, repr=False)

    @property
    def delta_g(self) -> int:
        """Return the signed effect on the book stock."""
        return self.mass_g if self.category in INFLOWS else -self.mass_g


def _stock_entry_movements(session: Session, until: date | None) -> Iterable[Movement]:
    query = select(StockEntry)
    if until is not None:
        query = query.where(StockEntry.entry_date <= until)
    for entry in session.scalars(query):
        category = "production" if entry.kind == StockEntryKind.PRODUCTION else "use"
        yield Movement(entry.dealer_id, entry.entry_date, category, entry.mass_g, entry)


def _transaction_movements(session: Session, until: date | None) -> Iterable[Movement]:
    query = select(Transaction).where(in_books())
    if until is not None:
        query = query.where(Transaction.transaction_date <= until)
    for row in session.scalars(query):
        signed = -row.mass_g if row.kind == TransactionKind.REVERSAL else row.mass_g
        yield Movement(row.seller_id, row.transaction_date, "sales", signed, row)
        yield Movement(row.buyer_id, row.transaction_date, "purchases", signed, row)


def _declaration_movements(session: Session, until: date | None) -> Iterable[Movement]:
    query = (select(Declaration)
             .where(Declaration.kind.in_([DeclarationKind.IMPORT, DeclarationKind.EXPORT]),
                    Declaration.status.in_(COMPLETED), Declaration.arrived_at.is_not(None))
             .options(selectinload(Declaration.items)))
    for declaration in session.scalars(query):
        on = declaration.arrived_at.astimezone(timezone.utc).date()
        if until is not None and on > until:
            continue
        if declaration.kind == DeclarationKind.IMPORT:
            mass = sum(i.received_net_g if i.received_net_g is not None else i.declared_net_g
                       for i in declaration.items)
            yield Movement(declaration.consignee_id, on, "imports", mass, declaration)
        else:
            yield Movement(declaration.consignor_id, on, "exports", declaration.declared_net_g, declaration)


def movements(session: Session, until: date | None = None) -> list[Movement]:
    """Return every book movement of every dealer up to ``until`` (inclusive), oldest first."""
    found = [*_stock_entry_movements(session, until), *_transaction_movements(session, until),
             *_declaration_movements(session, until)]
    return sorted(found, key=lambda m: (m.on, m.dealer_id, m.category))


def book_stock(session: Session, dealer_id: int, on: date | None = None) -> int:
    """Return the dealer's book stock in grams at the end of day ``on`` (default: everything)."""
    return sum(m.delta_g for m in movements(session, on) if m.dealer_id == dealer_id)


def lowest_book_stock_from(session: Session, dealer_id: int, on: date) -> int:
    """Return the lowest end-of-day book stock of the dealer on day ``on`` or any later day.

    A back-dated sale must leave every later day non-negative, not only its own day.
    """
    day_totals: dict[date, int] = defaultdict(int)
    for movement in movements(session):
        if movement.dealer_id == dealer_id:
            day_totals[movement.on] += movement.delta_g
    running = sum(total for day, total in day_totals.items() if day <= on)
    lowest = running
    for day in sorted(day for day in day_totals if day > on):
        running += day_totals[day]
        lowest = min(lowest, running)
    return lowest


def physical_stock(session: Session, dealer_id: int) -> int:
    """Return the net mass the dealer holds now: its containers in stock, plus those on the road
    under its own declarations (they leave its books only when an export arrives or a sale is entered)."""
    held = session.scalars(select(Container.net_g).where(
        Container.custodian_id == dealer_id, Container.status == ContainerStatus.IN_STOCK))
    on_the_road = session.scalars(
        select(Container.net_g).join(DeclarationItem, DeclarationItem.container_id == Container.id)
        .join(Declaration, Declaration.id == DeclarationItem.declaration_id)
        .where(Declaration.consignor_id == dealer_id, Declaration.status == DeclarationStatus.IN_TRANSIT,
               Container.status == ContainerStatus.IN_TRANSIT))
    return sum(held) + sum(on_the_road)


@dataclass
class Balance:
    """One mass balance over a period (a dealer's, or the national totals)."""

    start: date
    end: date
    dealer_id: int | None = None
    dealer_name: str = "national total"
    opening_g: int = 0
    flows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    #: The lowest end-of-day stock in the period.
    lowest_g: int = 0
    physical_g: int | None = None

    @property
    def closing_g(self) -> int:
        """Return opening + inflows − outflows."""
        return (self.opening_g + sum(self.flows[c] for c in INFLOWS)
                - sum(self.flows[c] for c in OUTFLOWS))

    @property
    def flags(self) -> list[str]:
        """Name what needs explaining: stock below zero, or containers held that the books do not show."""
        found = []
        if min(self.lowest_g, self.opening_g, self.closing_g) < 0:
            found.append("negative_stock")
        if self.physical_g is not None and self.physical_g != self.closing_g:
            found.append("unexplained_stock")
        return found

    def as_dict(self) -> dict[str, object]:
        """Return the balance as plain values, one key per report column."""
        return {
            "dealer_id": self.dealer_id, "dealer": self.dealer_name, "from": self.start.isoformat(),
            "to": self.end.isoformat(), "opening_g": self.opening_g,
            **{f"{c}_g": self.flows[c] for c in CATEGORIES}, "closing_g": self.closing_g,
            "physical_g": self.physical_g, "flags": self.flags,
        }

    def add(self, movement: Movement) -> None:
        """Count one movement of the period."""
        self.flows[movement.category] += movement.mass_g


def _balance_of(found: list[Movement], start: date, end: date, balance: Balance) -> Balance:
    balance.opening_g = sum(m.delta_g for m in found if m.on < start)
    balance.lowest_g = balance.opening_g
    period = [m for m in found if start <= m.on <= end]
    for n, movement in enumerate(period):
        balance.add(movement)
        if n + 1 == len(period) or period[n + 1].on != movement.on:
            # Stock is judged at the end of each day: the order of one day's records is not known.
            balance.lowest_g = min(balance.lowest_g, balance.closing_g)
    return balance


def dealer_balance(session: Session, dealer: Dealer, start: date, end: date,
                   today: date | None = None) -> Balance:
    """Return the dealer's balance over ``start``..``end`` (inclusive).

    When the period reaches today, the containers the dealer holds are compared with
    the closing book stock ("unexplained_stock" when they differ).
    """
    if end < start:
        raise ValueError("the period ends before it starts")
    found = [m for m in movements(session, end) if m.dealer_id == dealer.id]
    balance = _balance_of(found, start, end, Balance(start, end, dealer.id, dealer.legal_name))
    if end >= (today or date.today()):
        balance.physical_g = physical_stock(session, dealer.id)
    return balance


def balances(session: Session, start: date, end: date, today: date | None = None) -> list[Balance]:
    """Return every domestic dealer's balance that has any record, then the national total last.

    The national total adds the dealers up: purchases and sales between domestic dealers
    cancel, so its closing stock is production + imports − exports − use.
    """
    if end < start:
        raise ValueError("the period ends before it starts")
    found = movements(session, end)
    by_dealer: dict[int, list[Movement]] = defaultdict(list)
    for movement in found:
        by_dealer[movement.dealer_id].append(movement)
    dealers = session.scalars(select(Dealer).where(Dealer.id.in_(by_dealer)).order_by(Dealer.legal_name))
    result = [dealer_balance_from(by_dealer[d.id], d, start, end) for d in dealers if d.is_domestic]
    if end >= (today or date.today()):
        for balance in result:
            balance.physical_g = physical_stock(session, balance.dealer_id or 0)
    national = Balance(start, end)
    domestic = {b.dealer_id for b in result}
    _balance_of([m for m in found if m.dealer_id in domestic], start, end, national)
    return result + [national]


def dealer_balance_from(found: list[Movement], dealer: Dealer, start: date, end: date) -> Balance:
    """Return the dealer's balance from movements already loaded."""
    return _balance_of(found, start, end, Balance(start, end, dealer.id, dealer.legal_name))
