"""Find records by what a person types: a declaration's reference or a container's SSCC."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import container_filter, declaration_filter
from tracker.models import Container, Declaration, User

MAX_MATCHES = 50
_SSCC_AI = re.compile(r"^\(?00\)?")


@dataclass(frozen=True)
class Matches:
    """What a search found among the records the user may see."""

    query: str
    declarations: list[Declaration]
    containers: list[Container]

    @property
    def only(self) -> Declaration | Container | None:
        """The single record found, when exactly one was."""
        found = [*self.declarations, *self.containers]
        return found[0] if len(found) == 1 else None


def normalise_query(text: str) -> str:
    """Strip spaces, and the "(00)" application identifier an SSCC is often printed with."""
    compact = re.sub(r"\s+", "", text).upper()
    if _SSCC_AI.match(compact) and len(re.sub(r"\D", "", compact)) == 20:
        compact = _SSCC_AI.sub("", compact)
    return compact


def find_records(session: Session, user: User, text: str) -> Matches:
    """Find declarations whose reference, and containers whose SSCC, contain ``text``.

    Only records the user may see are returned; an exact match comes first.
    """
    query = normalise_query(text)
    if not query:
        return Matches(query, [], [])
    pattern = f"%{query}%"
    declarations = list(session.scalars(
        select(Declaration).where(declaration_filter(user), Declaration.reference.ilike(pattern))
        .order_by((Declaration.reference != query), Declaration.reference).limit(MAX_MATCHES)
    ))
    containers: list[Container] = []
    if query.isdigit():
        containers = list(session.scalars(
            select(Container).where(container_filter(user), Container.sscc.like(pattern))
            .order_by((Container.sscc != query), Container.sscc).limit(MAX_MATCHES)
        ))
    return Matches(query, declarations, containers)
