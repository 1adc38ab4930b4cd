"""Sealing what was stored without a seal, for ``flask --app tracker evidence seal`` (cron).

Declarations are sealed when submitted and alert history whenever a step is committed;
this catches the rest: data from before sealing existed and demo data entered past the
submission step, plus finished hours of positions (``position_seals``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.declarations import EDITABLE_STATUSES
from tracker.domain.position_seals import seal_positions
from tracker.domain.seals import (
    ALERT_HISTORY,
    DECLARATION_ITEMS,
    declaration_subject,
    seal_alert_history,
    seal_declaration_items,
)
from tracker.models import Alert, AlertEvent, Declaration, DeclarationStatus, EvidenceSeal


def seal_unsealed(session: Session) -> int:
    """Seal declarations past editing that have no seal and alerts with steps not sealed yet."""
    sealed = {row.subject: row.row_count for row in session.scalars(
        select(EvidenceSeal).where(EvidenceSeal.kind.in_([DECLARATION_ITEMS.kind, ALERT_HISTORY.kind]))
        .order_by(EvidenceSeal.id))}
    appended = 0
    settled = [*EDITABLE_STATUSES, DeclarationStatus.CANCELLED]
    for declaration in session.scalars(select(Declaration).where(Declaration.status.not_in(settled))
                                       .order_by(Declaration.id)):
        if declaration_subject(declaration.id) not in sealed and declaration.items:
            seal_declaration_items(session, declaration)
            appended += 1
    counts = session.execute(select(AlertEvent.alert_id, func.count()).group_by(AlertEvent.alert_id)
                             .order_by(AlertEvent.alert_id))
    for alert_id, steps in counts.all():
        if sealed.get(f"alert:{alert_id}") != steps and seal_alert_history(session, session.get(Alert, alert_id)):
            appended += 1
    return appended


def seal_everything(session: Session, now: datetime, all_positions: bool = False) -> int:
    """Seal finished hours of positions and everything stored without a seal; return the seals appended."""
    return seal_positions(session, now, everything=all_positions) + seal_unsealed(session)
