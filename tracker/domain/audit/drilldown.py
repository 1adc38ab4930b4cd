"""The records behind each figure of a mass balance, so that an auditor can check the sum.

Every figure of :mod:`tracker.domain.balance` is a sum of records; :func:`breakdown` lists
them with the signed amount each one adds to the figure:

- opening: every movement before the period (outflows negative);
- production, imports, purchases, sales, exports, use: the movements of that category in
  the period (a reversal of a sale is negative);
- closing: every movement up to the end of the period (outflows negative);
- physical: the containers the dealer holds in stock or has on the road under its own
  declarations (a dealer's balance only, when the period reaches today);
- difference: physical minus closing, i.e. those containers and the closing records negated.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.balance import CATEGORIES, Balance, Movement, balances, dealer_balance, movements
from tracker.models import (
    Container,
    ContainerStatus,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
)

#: Every figure of a balance row, in the order of the report.
FIGURES = ("opening", *CATEGORIES, "closing", "physical", "difference")


@dataclass(frozen=True)
class Entry:
    """One record's share of a figure: a movement of the books, or a container held."""

    mass_g: int
    source: object          # StockEntry, Transaction, Declaration or Container
    category: str           # the movement's category, or "container"
    dealer_id: int
    on: date | None = None  # None for a container (it is held now)


@dataclass(frozen=True)
class Breakdown:
    """A figure of one balance and the records that add up to it."""

    figure: str
    balance: Balance
    entries: list[Entry]

    @property
    def figure_g(self) -> int | None:
        """Return the figure as the balance states it."""
        return figure_of(self.balance, self.figure)

    @property
    def total_g(self) -> int:
        """Return the sum of the records (equal to the figure)."""
        return sum(e.mass_g for e in self.entries)


def figure_of(balance: Balance, figure: str) -> int | None:
    """Return one figure of ``balance`` in grams (None: physical stock not compared in this period)."""
    if figure == "opening":
        return balance.opening_g
    if figure in CATEGORIES:
        return balance.flows[figure]
    if figure == "closing":
        return balance.closing_g
    if balance.physical_g is None:
        return None
    return balance.physical_g if figure == "physical" else balance.physical_g - balance.closing_g


def held_containers(session: Session, dealer_id: int) -> list[Container]:
    """Return the containers that make the dealer's physical stock (see ``balance.physical_stock``)."""
    held = select(Container).where(Container.custodian_id == dealer_id,
                                   Container.status == ContainerStatus.IN_STOCK)
    on_the_road = (
        select(Container).join(DeclarationItem, DeclarationItem.container_id == Container.id)
        .join(Declaration, Declaration.id == DeclarationItem.declaration_id)
        .where(Declaration.consignor_id == dealer_id, Declaration.status == DeclarationStatus.IN_TRANSIT,
               Container.status == ContainerStatus.IN_TRANSIT))
    return [*session.scalars(held.order_by(Container.sscc)), *session.scalars(on_the_road.order_by(Container.sscc))]


def _movement_entry(movement: Movement, signed: bool) -> Entry:
    mass = movement.delta_g if signed else movement.mass_g
    return Entry(mass, movement.source, movement.category, movement.dealer_id, movement.on)


def _book_entries(found: list[Movement], figure: str, start: date) -> list[Entry]:
    if figure == "opening":
        return [_movement_entry(m, True) for m in found if m.on < start]
    if figure in CATEGORIES:
        return [_movement_entry(m, False) for m in found if m.category == figure and m.on >= start]
    return [_movement_entry(m, True) for m in found]


def _container_entries(session: Session, dealer_id: int) -> list[Entry]:
    return [Entry(c.net_g, c, "container", dealer_id) for c in held_containers(session, dealer_id)]


def breakdown(session: Session, figure: str, start: date, end: date, dealer: Dealer | None = None,
              today: date | None = None) -> Breakdown:
    """List the records behind one figure of the dealer's balance (None: the national total).

    Raises ValueError for an unknown figure, a period that ends before it starts, or a
    physical figure the balance does not compare (national, or a period before today).
    """
    if figure not in FIGURES:
        raise ValueError(f"no figure {figure!r}")
    if dealer is not None:
        balance = dealer_balance(session, dealer, start, end, today)
        counted = {dealer.id}
    else:
        balance = balances(session, start, end, today)[-1]
        counted = _domestic_with_records(session, end)
    if figure_of(balance, figure) is None:
        raise ValueError(f"no {figure} figure for this balance")
    found = [m for m in movements(session, end) if m.dealer_id in counted]
    if figure == "physical":
        entries = _container_entries(session, dealer.id)  # type: ignore[union-attr]
    elif figure == "difference":
        entries = [*_container_entries(session, dealer.id),  # type: ignore[union-attr]
                   *(Entry(-e.mass_g, e.source, e.category, e.dealer_id, e.on)
                     for e in _book_entries(found, "closing", start))]
    else:
        entries = _book_entries(found, figure, start)
    return Breakdown(figure, balance, entries)


def _domestic_with_records(session: Session, end: date) -> set[int]:
    """Return the domestic dealers with any record up to ``end`` (those the national total adds up)."""
    ids = {m.dealer_id for m in movements(session, end)}
    return {d.id for d in session.scalars(select(Dealer).where(Dealer.id.in_(ids))) if d.is_domestic}
