"""The declaration page: its facts, containers, custody events and alerts."""
from __future__ import annotations

from flask import render_template
from flask_login import login_required
from sqlalchemy import select

from tracker.domain.declarations import find_declaration
from tracker.models import Alert, CustodyEvent
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp


@bp.get("/declarations/<int:declaration_id>")
@login_required
def declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Show one declaration the user may see (404 otherwise)."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    alerts = db.scalars(
        select(Alert).where(Alert.declaration_id == record.id).order_by(Alert.opened_at)
    ).all()
    events = db.scalars(
        select(CustodyEvent).where(CustodyEvent.declaration_id == record.id)
        .order_by(CustodyEvent.event_time, CustodyEvent.id)
    ).all()
    return render_template("declaration.html", d=record, alerts=alerts, events=events)
