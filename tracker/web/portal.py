"""The portal's pages: a home page per role and read-only record pages."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, Flask, render_template
from flask_login import login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.access import (
    alert_filter,
    container_filter,
    declaration_filter,
    license_filter,
)
from tracker.domain.containers import find_container
from tracker.domain.declarations import find_declaration
from tracker.models import (
    Alert,
    AlertStatus,
    Container,
    CustodyEvent,
    Declaration,
    DeclarationStatus,
    ExpectedCheckpoint,
    License,
    Role,
)
from tracker.web.auth import acting_user
from tracker.web.database import get_session

bp = Blueprint("portal", __name__)
PAGE_SIZE = 50
ROLE_TITLES = {
    Role.TRADER: "Trader",
    Role.CUSTOMS_OFFICER: "Customs officer",
    Role.AUDITOR: "Auditor, Ministry of Finance",
    Role.LICENSING_ADMIN: "Licensing authority",
}


def init_app(app: Flask) -> None:
    """Register the portal pages and template helpers."""
    app.register_blueprint(bp)

    @app.template_filter("kg")
    def kg(grams: int | None) -> str:
        """Show grams as kilograms with gram precision (34.500 kg)."""
        return "—" if grams is None else f"{grams / 1000:,.3f} kg"

    @app.template_filter("utc")
    def utc(moment) -> str:  # type: ignore[no-untyped-def]
        """Show a timestamp in UTC (the portal issue localises it)."""
        return "—" if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    @app.context_processor
    def role_titles() -> dict[str, object]:
        return {"ROLE_TITLES": ROLE_TITLES}


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
        .order_by(Declaration.submitted_at).limit(PAGE_SIZE)
    ))


@bp.get("/")
@login_required
def home():  # type: ignore[no-untyped-def]
    """Show what the signed-in user's role can see: declarations, containers, alerts."""
    user, db = acting_user(), get_session()
    declarations = db.scalars(
        select(Declaration).where(declaration_filter(user))
        .order_by(Declaration.created_at.desc()).limit(PAGE_SIZE)
    ).all()
    status_counts = dict(db.execute(
        select(Declaration.status, func.count()).where(declaration_filter(user))
        .group_by(Declaration.status)
    ).all())
    containers = db.scalars(
        select(Container).where(container_filter(user)).order_by(Container.sscc).limit(PAGE_SIZE)
    ).all()
    container_count = db.scalar(select(func.count()).select_from(Container).where(container_filter(user)))
    alerts = db.scalars(
        select(Alert).where(alert_filter(user), Alert.status != AlertStatus.CLOSED)
        .order_by(Alert.opened_at.desc()).limit(PAGE_SIZE)
    ).all()
    licenses = []
    if user.role != Role.CUSTOMS_OFFICER:
        licenses = db.scalars(
            select(License).where(license_filter(user)).order_by(License.number).limit(PAGE_SIZE)
        ).all()
    expected = []
    if user.role == Role.CUSTOMS_OFFICER:
        ids = [c.id for c in user.checkpoints]
        expected = db.scalars(
            select(Declaration).where(_expected_here(ids)).order_by(Declaration.planned_departure)
        ).all()
    return render_template(
        "home.html", user=user, declarations=declarations, status_counts=status_counts,
        containers=containers, container_count=container_count, alerts=alerts,
        expected=expected, statuses=list(DeclarationStatus), licenses=licenses,
        awaiting=_awaiting_decision(db) if user.role == Role.LICENSING_ADMIN else [],
    )


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


@bp.get("/containers/<sscc>")
@login_required
def container(sscc: str):  # type: ignore[no-untyped-def]
    """Show one container the user may see (404 otherwise)."""
    record = find_container(get_session(), acting_user(), sscc)
    return render_template("container.html", c=record)
