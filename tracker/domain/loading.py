"""Loading progress: which containers of a declaration have departed from its origin.

A declaration moves to in transit when every container has departed (or when the officer
confirms a partial departure); the officer's page and the declaration page show
"3 of 10 containers scanned" and the ones still missing. One query answers a whole page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from tracker.models import Container, CustodyEvent, CustodyKind, Declaration, DeclarationItem


@dataclass(frozen=True)
class Loading:
    """The containers of one declaration that have departed from its origin, and those missing."""

    departed: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def scanned(self) -> int:
        """Return how many containers have departed."""
        return len(self.departed)

    @property
    def total(self) -> int:
        """Return how many containers the declaration carries."""
        return len(self.departed) + len(self.missing)

    @property
    def complete(self) -> bool:
        """Tell whether every container has departed."""
        return not self.missing


def loading_of(session: Session, declaration_ids: Iterable[int]) -> dict[int, Loading]:
    """Return the loading progress of each declaration, in one query (SSCCs in container order)."""
    ids = sorted(set(declaration_ids))
    if not ids:
        return {}
    departed = exists().where(and_(
        CustodyEvent.declaration_id == DeclarationItem.declaration_id,
        CustodyEvent.container_id == DeclarationItem.container_id,
        CustodyEvent.checkpoint_id == Declaration.origin_id, CustodyEvent.kind == CustodyKind.DEPARTURE))
    rows = session.execute(
        select(DeclarationItem.declaration_id, Container.sscc, departed)
        .join(Container, Container.id == DeclarationItem.container_id)
        .join(Declaration, Declaration.id == DeclarationItem.declaration_id)
        .where(DeclarationItem.declaration_id.in_(ids))
        .order_by(DeclarationItem.declaration_id, DeclarationItem.container_id))
    found: dict[int, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
    for declaration_id, sscc, gone in rows:
        found[declaration_id][0 if gone else 1].append(sscc)
    return {i: Loading(tuple(gone), tuple(left)) for i, (gone, left) in found.items()}


def loading(session: Session, declaration: Declaration) -> Loading:
    """Return one declaration's loading progress."""
    return loading_of(session, [declaration.id])[declaration.id]
