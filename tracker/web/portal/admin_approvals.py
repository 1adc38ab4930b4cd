"""Import approvals and export consents (Minamata Art. 3), and the decision on a submitted declaration."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from sqlalchemy import select

from tracker.domain import approvals as consents
from tracker.domain import lifecycle
from tracker.domain.access import Action, may
from tracker.domain.declarations import find_declaration
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.domain.submission import declared_against
from tracker.models import Declaration, ExportConsent, ImportApproval
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.portal.admin_forms import (
    date_field,
    domestic_dealers,
    int_field,
    kg_field,
    readers_only,
    text_field,
)
from tracker.web.portal.blueprint import bp


def _approvals_page(errors: dict[str, str] | None = None, failed: str = ""):  # type: ignore[no-untyped-def]
    db = get_session()
    imports = list(db.scalars(select(ImportApproval).order_by(ImportApproval.issued_at.desc())))
    exports = list(db.scalars(select(ExportConsent).order_by(ExportConsent.issued_at.desc())))
    declared = {("import", a.id): declared_against(db, Declaration.import_approval_id, a.id, None)
                for a in imports}
    declared.update({("export", c.id): declared_against(db, Declaration.export_consent_id, c.id, None)
                     for c in exports})
    return render_template(
        "admin/approvals.html", imports=imports, exports=exports, declared=declared,
        dealer_options=domestic_dealers(db), errors=errors or {}, failed=failed, can_record=may(acting_user(), Action.MANAGE_LICENSES))


@bp.get("/approvals")
@readers_only
def approvals():  # type: ignore[no-untyped-def]
    """List import approvals and export consents with the quantity still available."""
    return _approvals_page()


def _refused(exc: ValidationFailed, failed: str):  # type: ignore[no-untyped-def]
    get_session().rollback()
    shown = {("quantity_kg" if k == "quantity_g" else k): v for k, v in exc.errors.items()}
    return _approvals_page(shown, failed), 400


@bp.post("/approvals/import")
@requires(Action.MANAGE_LICENSES)
def record_import_approval():  # type: ignore[no-untyped-def]
    """Record a written import consent with every Art. 3 fact."""
    errors: dict[str, str] = {}
    data = consents.ApprovalInput(
        number=text_field("number"), importer_id=int_field("importer_id", errors) or 0,
        exporter_name=text_field("exporter_name"), exporter_country=text_field("exporter_country").upper(),
        quantity_g=kg_field("quantity_kg", errors), intended_use=text_field("intended_use"),
        source_not_primary_mining=text_field("source_not_primary_mining") == "yes",
        source_statement=text_field("source_statement"), valid_until=date_field("valid_until", errors))
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        approval = consents.record_import_approval(db, acting_user(), data)
    except ValidationFailed as exc:
        return _refused(exc, "import")
    db.commit()
    flash(gettext("Import approval %(number)s recorded.", number=approval.number), "success")
    return redirect(url_for("portal.approvals"))


@bp.post("/approvals/export")
@requires(Action.MANAGE_LICENSES)
def record_export_consent():  # type: ignore[no-untyped-def]
    """Record the importing country's written consent to an export."""
    errors: dict[str, str] = {}
    data = consents.ExportConsentInput(
        number=text_field("number"), exporter_id=int_field("exporter_id", errors) or 0,
        importer_name=text_field("importer_name"), importer_country=text_field("importer_country").upper(),
        quantity_g=kg_field("quantity_kg", errors), intended_use=text_field("intended_use"),
        valid_until=date_field("valid_until", errors))
    db = get_session()
    try:
        if errors:
            raise ValidationFailed(errors)
        consent = consents.record_export_consent(db, acting_user(), data)
    except ValidationFailed as exc:
        return _refused(exc, "export")
    db.commit()
    flash(gettext("Export consent %(number)s recorded.", number=consent.number), "success")
    return redirect(url_for("portal.approvals"))


CONSENT_MODELS = {"import": ImportApproval, "export": ExportConsent}


@bp.post("/approvals/<kind>/<int:record_id>/revoke")
@requires(Action.MANAGE_LICENSES)
def revoke_consent(kind: str, record_id: int):  # type: ignore[no-untyped-def]
    """Revoke an import approval or export consent, saying why; its open declarations get an alert."""
    if kind not in CONSENT_MODELS:
        abort(404)
    db = get_session()
    try:
        record = consents.revoke_consent(db, acting_user(), CONSENT_MODELS[kind], record_id, text_field("reason"))
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        shown = exc.errors.get("reason", exc.message) if isinstance(exc, ValidationFailed) else exc.message
        return _approvals_page({"reason": shown}, f"revoke-{kind}-{record_id}"), (
            400 if isinstance(exc, ValidationFailed) else 409)
    db.commit()
    flash(gettext("%(number)s revoked.", number=record.number), "success")
    return redirect(url_for("portal.approvals"))


@bp.post("/declarations/<int:declaration_id>/decision")
@requires(Action.DECIDE_DECLARATION)
def decide(declaration_id: int):  # type: ignore[no-untyped-def]
    """Approve or reject a submitted declaration; a refusal shows why beside the decision form."""
    db, user = get_session(), acting_user()
    decision, reason = text_field("decision"), text_field("reason")
    try:
        if decision == "approve":
            record = lifecycle.approve(db, user, declaration_id, reason)
            message = gettext("Declaration approved: reference %(reference)s.", reference=record.reference)
        elif decision == "reject":
            if not reason:
                raise ValidationFailed({"reason": gettext("Say why the declaration is rejected.")})
            record = lifecycle.reject(db, user, declaration_id, reason)
            message = gettext("Declaration rejected.")
        else:
            raise ValidationFailed({"decision": gettext("Choose Approve or Reject.")})
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"decision": exc.message}
        record = find_declaration(db, user, declaration_id)
        return render_template("admin/decision.html", d=record, decision_errors=errors,
                               decision=decision), 400 if isinstance(exc, ValidationFailed) else 409
    db.commit()
    flash(message, "success")
    return redirect(url_for("portal.declaration", declaration_id=record.id))
