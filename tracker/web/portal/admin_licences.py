"""Licences: the list (a trader: its own), issuing one, and its page with suspend, reinstate, revoke."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from tracker.domain import licensing
from tracker.domain.access import Action, license_filter, may
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.models import Activity, License, LicenseStatus, Role
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.guards import row_id
from tracker.web.labels import label
from tracker.web.portal.admin_forms import date_field, domestic_dealers, int_field, kg_field, text_field
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

#: What each entry of a licence's history says happened.
HISTORY: dict[str, Any] = {
    "issued": _l("issued the licence"), "suspended": _l("suspended the licence"),
    "reinstated": _l("reinstated the licence"), "revoked": _l("revoked the licence"),
    "expired": _l("validity ended"),
}
#: The changes the licensing authority may make on a licence's page, and the statuses each applies to.
CHANGES: dict[str, tuple[Any, frozenset[LicenseStatus]]] = {
    "suspend": (licensing.suspend_licence, frozenset({LicenseStatus.ACTIVE})),
    "reinstate": (licensing.reinstate_licence, frozenset({LicenseStatus.SUSPENDED})),
    "revoke": (licensing.revoke_licence, frozenset({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED})),
}
DONE = {"suspend": lambda n: gettext("Licence %(number)s suspended.", number=n),
        "reinstate": lambda n: gettext("Licence %(number)s reinstated.", number=n),
        "revoke": lambda n: gettext("Licence %(number)s revoked.", number=n)}


def _licences_page(errors: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    user, db = acting_user(), get_session()
    query = select(License).where(license_filter(user))
    status = request.args.get("status", "")
    if status in {s.value for s in LicenseStatus}:
        query = query.where(License.status == LicenseStatus(status))
    dealer = request.args.get("dealer", type=row_id)
    if dealer is not None:
        query = query.where(License.dealer_id == dealer)
    page = paginate(db, query.order_by(License.valid_to.desc(), License.id.desc()))
    dealers = [] if user.role == Role.TRADER else domestic_dealers(db)
    return render_template(
        "admin/licences.html", page=page, activities=list(Activity), status=status, dealer=dealer,
        status_options=[(s.value, label(s)) for s in LicenseStatus], dealer_options=dealers, errors=errors or {},
        can_issue=may(user, Action.MANAGE_LICENSES))


@bp.get("/licences")
@login_required
def licences():  # type: ignore[no-untyped-def]
    """List the licences the user may see (a trader: its own), by status and dealer, a page at a time."""
    return _licences_page()


@bp.post("/licences")
@requires(Action.MANAGE_LICENSES)
def issue_licence():  # type: ignore[no-untyped-def]
    """Issue a licence to a domestic dealer."""
    errors: dict[str, str] = {}
    data = licensing.LicenceInput(
        dealer_id=int_field("dealer_id", errors) or 0, number=text_field("number"),
        valid_from=date_field("valid_from", errors), valid_to=date_field("valid_to", errors),
        annual_quota_g=kg_field("annual_quota_kg", errors), activities=request.form.getlist("activities"),
        reason=text_field("reason"))
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        licence = licensing.issue_licence(db, acting_user(), data)
    except ValidationFailed as exc:
        db.rollback()
        shown = {("annual_quota_kg" if k == "annual_quota_g" else k): v for k, v in exc.errors.items()}
        return _licences_page(shown), 400
    db.commit()
    flash(gettext("Licence %(number)s issued to %(dealer)s.", number=licence.number,
                  dealer=licence.dealer.legal_name), "success")
    return redirect(url_for("portal.licence", licence_id=licence.id))


def _licence_page(licence: License, errors: dict[str, str] | None = None,
                  failed: str = ""):  # type: ignore[no-untyped-def]
    user = acting_user()
    changes = [name for name, (_change, applies) in CHANGES.items() if licence.status in applies]
    return render_template(
        "admin/licence.html", licence=licence, history=HISTORY, errors=errors or {}, failed=failed,
        changes=changes if may(user, Action.MANAGE_LICENSES) else [])


@bp.get("/licences/<int:licence_id>")
@login_required
def licence(licence_id: int):  # type: ignore[no-untyped-def]
    """Show one licence with its history (who, when, why) and, for the authority, its changes."""
    return _licence_page(licensing.find_licence(get_session(), acting_user(), licence_id))


@bp.post("/licences/<int:licence_id>/<action>")
@requires(Action.MANAGE_LICENSES)
def licence_action(licence_id: int, action: str):  # type: ignore[no-untyped-def]
    """Suspend, reinstate or revoke a licence, saying why."""
    if action not in CHANGES:
        abort(404)
    db, user = get_session(), acting_user()
    change, _applies = CHANGES[action]
    reason = text_field("reason")
    try:
        if not reason:
            raise ValidationFailed({"reason": gettext("Say why.")})
        record = change(db, user, licence_id, reason)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"reason": exc.message}
        status = 400 if isinstance(exc, ValidationFailed) else 409
        return _licence_page(licensing.find_licence(db, user, licence_id), errors, action), status
    db.commit()
    flash(DONE[action](record.number), "success")
    return redirect(url_for("portal.licence", licence_id=record.id))
