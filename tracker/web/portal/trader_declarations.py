"""The declarations list: every declaration the user may see, by status, kind, reference or SSCC.

Traders also see their drafts to finish and a button to start a new declaration.
"""
from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import login_required
from sqlalchemy import or_, select

from tracker.domain.access import Action, alert_filter, declaration_filter, may
from tracker.domain.declarations import EDITABLE_STATUSES
from tracker.domain.lookup import normalise_query
from tracker.models import (
    Alert,
    AlertStatus,
    Container,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
)
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.guards import optional_row_id
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

OPEN_ALERTS_SHOWN = 10
DRAFTS_SHOWN = 20


def _search(query: Any, text: str) -> Any:
    """Narrow ``query`` to declarations whose reference, number or container SSCC contains ``text``."""
    needle = normalise_query(text)
    if not needle:
        return query
    by_sscc = (select(DeclarationItem.declaration_id).join(Container)
               .where(Container.sscc.like(f"%{needle}%")))
    conditions = [Declaration.reference.ilike(f"%{needle}%"), Declaration.id.in_(by_sscc)]
    if optional_row_id(needle.lstrip("#")):
        conditions.append(Declaration.id == int(needle.lstrip("#")))
    return query.where(or_(*conditions))


def _choice(name: str, enum_cls: Any) -> Any:
    value = request.args.get(name, "")
    return enum_cls(value) if value in {e.value for e in enum_cls} else None


def _drafts_to_finish(user: Any) -> list[Declaration]:
    """Return the trader's drafts and rejected declarations, newest first."""
    return list(get_session().scalars(select(Declaration).where(
        Declaration.declarant_id == user.dealer_id,
        Declaration.status.in_(EDITABLE_STATUSES))
        .order_by(Declaration.created_at.desc()).limit(DRAFTS_SHOWN)))


@bp.get("/declarations")
@login_required
def declarations():  # type: ignore[no-untyped-def]
    """List the declarations the user may see, newest first, by status, kind and reference or SSCC."""
    user, db = acting_user(), get_session()
    query = select(Declaration).where(declaration_filter(user))
    status, kind = _choice("status", DeclarationStatus), _choice("kind", DeclarationKind)
    if status is not None:
        query = query.where(Declaration.status == status)
    if kind is not None:
        query = query.where(Declaration.kind == kind)
    text = request.args.get("q", "")
    filtered = bool(status or kind or text.strip())
    page = paginate(db, _search(query, text).order_by(Declaration.created_at.desc(), Declaration.id.desc()))
    alerts = db.scalars(select(Alert).where(alert_filter(user), Alert.status != AlertStatus.CLOSED)
                        .order_by(Alert.opened_at.desc()).limit(OPEN_ALERTS_SHOWN)).all()
    may_declare = may(user, Action.DECLARE)
    return render_template(
        "trader/declarations.html", page=page, alerts=alerts, status=status, kind=kind, text=text,
        statuses=list(DeclarationStatus), kinds=list(DeclarationKind), filtered=filtered,
        may_declare=may_declare, drafts=_drafts_to_finish(user) if may_declare and not filtered else [],
    )
