"""Reading and writing the declarations' watches (``declaration_watch``), a batch at a time."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from beacon_gateway.evaluation.declared import PLAN_KEY_COLUMNS
from beacon_gateway.evaluation.watch import Watch
from tracker.models import Declaration, DeclarationStatus, DeclarationWatch
from tracker.models import utcnow

#: Declarations whose beacon is judged against the route.
EVALUATED = (DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT, DeclarationStatus.ARRIVED)
_COLUMNS = (*PLAN_KEY_COLUMNS, "arrived_at")
SQLITE_ROWS = 250

#: PostgreSQL: one constant statement for any number of declarations, locking them in id
#: order (the lock every evaluation of a declaration takes, so processes take turns).
_LOCK = text(
    "SELECT " + ", ".join(f"d.{c}" for c in _COLUMNS) + ", w.state FROM declarations d"
    " LEFT JOIN declaration_watch w ON w.declaration_id = d.id"
    " WHERE d.id = ANY(CAST(:ids AS integer[])) AND d.status = ANY(CAST(:statuses AS text[]))"
    " AND d.route IS NOT NULL ORDER BY d.id FOR UPDATE OF d")
#: One JSON document for the whole batch ([[id, state], ...]): a single parameter to send, whatever the size.
_UPSERT = text(
    "INSERT INTO declaration_watch (declaration_id, state, updated_at)"
    " SELECT CAST(w->>0 AS integer), w->1, :now FROM jsonb_array_elements(CAST(:watches AS jsonb)) AS w"
    " ON CONFLICT (declaration_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at")
_FORGET = text("DELETE FROM declaration_watch WHERE declaration_id = ANY(CAST(:ids AS integer[]))")


def lock_watched(session: Session, ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Lock the declarations still watched (in id order) and return each one's plan key, arrival and watch."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_LOCK, {"ids": list(ids), "statuses": [s.value for s in EVALUATED]}).all()
    else:
        rows = session.execute(
            select(*(getattr(Declaration, c) for c in _COLUMNS), DeclarationWatch.state)
            .outerjoin(DeclarationWatch, DeclarationWatch.declaration_id == Declaration.id)
            .where(Declaration.id.in_(list(ids)), Declaration.status.in_(EVALUATED), Declaration.route.is_not(None))
            .order_by(Declaration.id)).all()
    return {row.id: row for row in rows}


def save_watches(session: Session, watches: Mapping[int, Watch | None], now: datetime | None = None) -> None:
    """Write each declaration's watch; ``None`` removes it (the next fix is judged by every rule)."""
    kept = {i: w for i, w in watches.items() if w is not None}
    gone = sorted(i for i, w in watches.items() if w is None)
    postgresql = session.get_bind().dialect.name == "postgresql"
    if gone and postgresql:
        session.execute(_FORGET, {"ids": gone})
    elif gone:
        session.execute(delete(DeclarationWatch).where(DeclarationWatch.declaration_id.in_(gone)))
    if not kept:
        return
    now = now or utcnow()
    ids = sorted(kept)
    if postgresql:
        session.execute(_UPSERT, {"watches": json.dumps([[i, kept[i].to_json()] for i in ids]), "now": now})
        return
    for start in range(0, len(ids), SQLITE_ROWS):      # SQLite takes a few hundred parameters a statement
        statement = sqlite.insert(DeclarationWatch).values(
            [{"declaration_id": i, "state": kept[i].to_json(), "updated_at": now} for i in ids[start:start + SQLITE_ROWS]])
        session.execute(statement.on_conflict_do_update(
            index_elements=["declaration_id"], set_={"state": statement.excluded.state,
                                                     "updated_at": statement.excluded.updated_at}))


def forget_watch(session: Session, declaration_id: int) -> None:
    """Remove a declaration's watch (after a failed evaluation: its next fixes get every rule)."""
    session.execute(delete(DeclarationWatch).where(DeclarationWatch.declaration_id == declaration_id))

