"""Evaluation of positions against the declared route corridor, raising alerts.

``reevaluate`` is what the ingestion pipeline calls after storing positions.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def reevaluate(session: Session, declaration_id: int, since: datetime | None = None,
               now: datetime | None = None) -> None:
    """Re-evaluate the declaration's track from ``since`` (fix time) and sync its alerts.

    Placeholder until the evaluation lands: stores nothing, raises nothing.
    """
    return None
