"""Helpers every portal page shares: pagination and reading a page number."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tracker.web.guards import MAX_PAGE, row_id

T = TypeVar("T")
PAGE_SIZE = 25


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a long list: its rows, where it is, and how many rows there are in all."""

    rows: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        """Tell whether a page comes before this one."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """Tell whether a page comes after this one."""
        return self.number < self.pages

    @property
    def first_row(self) -> int:
        """The 1-based position of this page's first row (0 when the list is empty)."""
        return 0 if not self.rows else (self.number - 1) * self.size + 1

    @property
    def last_row(self) -> int:
        """The 1-based position of this page's last row."""
        return self.first_row + len(self.rows) - 1 if self.rows else 0


def page_number(arg: str = "page") -> int:
    """Read the requested page from the query string (1 when absent or not a positive number)."""
    try:
        return min(row_id(request.args.get(arg, "1")), MAX_PAGE)
    except ValueError:
        return 1


def paginate(session: Session, statement: Select[Any], number: int | None = None,
             size: int = PAGE_SIZE) -> Page[Any]:
    """Run ``statement`` (an ordered select of one entity) for one page, counting all its rows."""
    number = page_number() if number is None else number
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = list(session.scalars(statement.limit(size).offset((number - 1) * size)))
    return Page(rows=rows, number=number, size=size, total=total)
