"""The overview page of each role."""
from __future__ import annotations

from flask import render_template
from flask_login import login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.access import (
    alert_filter,
    declaration_filter,
)
from tracker.models import (
    Alert,
    AlertStatus,
    Declaration,
    DeclarationStatus,
    ExpectedCheckpoint,
    Role,
)
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp

PAGE_SIZE = 10


def _expected_here(user_checkpoint_ids: list[int]):  # type: ignore[no-untyped-def]
    """Declarations moving now that start, end or pass at one of the officer's posts."""
    passing = select(ExpectedCheckpoint.declaration_id).where(
        ExpectedCheckpoint.checkpoint_id.in_(user_checkpoint_ids)
    )
    return (
        Declaration.status.in_([DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT])
        & (
            Declaration.origin_id.in_(user_checkpoint_ids)
            | Declaration.destination_id.in_(user_checkpoint_ids)
            | Declaration.id.in_(passing)
        )
    )


def _awaiting_decision(db: Session) -> list[Declaration]:
    """Submitted declarations, oldest first: the licensing authority's queue."""
    return list(db.scalars(
        select(Declaration).where(Declaration.status == DeclarationStatus.SUBMITTED)
        .order_by(Declaration.submitted_at).limit(PAGE_SIZE * 5)
    ))


@bp.get("/")
@login_required
def home():  # type: ignore[no-untyped-def]
    """Show the signed-in user's day: what waits for them, recent declarations, open alerts."""
    user, db = acting_user(), get_session()
    declarations = db.scalars(
        select(Declaration).where(declaration_filter(user))
        .order_by(Declaration.created_at.desc()).limit(PAGE_SIZE)
    ).all()
    status_counts = dict(db.execute(
        select(Declaration.status, func.count()).where(declaration_filter(user))
        .group_by(Declaration.status)
    ).all())
    alerts = db.scalars(
        select(Alert).where(alert_filter(user), Alert.status != AlertStatus.CLOSED)
        .order_by(Alert.opened_at.desc()).limit(PAGE_SIZE)
    ).all()
    open_alerts = db.scalar(select(func.count()).select_from(Alert).where(
        alert_filter(user), Alert.status != AlertStatus.CLOSED))
    expected = []
    if user.role == Role.CUSTOMS_OFFICER:
        ids = [c.id for c in user.checkpoints]
        expected = db.scalars(
            select(Declaration).where(_expected_here(ids)).order_by(Declaration.planned_departure)
        ).all()
    return render_template(
        "home.html", user=user, declarations=declarations, status_counts=status_counts,
        alerts=alerts, open_alerts=open_alerts, expected=expected, statuses=list(DeclarationStatus),
        awaiting=_awaiting_decision(db) if user.role == Role.LICENSING_ADMIN else [],
    )
