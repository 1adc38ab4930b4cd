"""The consignee's report of receipt: the mass found in each container, its seal, remarks.

Filing closes the declaration for good, so it takes two steps: the form (every seal an explicit
choice, never pre-ticked), then a review of what will be filed, with the differences and the
alerts they open, and a second button that files it.
"""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from tracker.domain.access import may_report_receipt
from tracker.domain.declarations import find_declaration
from tracker.domain.errors import ValidationFailed
from tracker.domain.lifecycle import S, require_move
from tracker.domain.receipts import ReceiptInput, ReceivedContainer, Tolerance, receipt_problems, report_receipt
from tracker.domain.tolerance import mass_discrepancy_g
from tracker.models import Alert, Declaration
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.labels import label
from tracker.web.portal.navigation import has_view
from tracker.web.portal.blueprint import bp
from tracker.web.portal.mass_fields import kg_value, read_kg_field
from tracker.web.portal.trader_forms import FormValues

RECEIPT_ALERTS = ("receipt_shortage", "receipt_excess", "seal_broken")
#: The two answers to "was the seal intact?" (the form has no default: someone must look).
SEAL_INTACT, SEAL_BROKEN = "intact", "broken"


def _receivable(declaration_id: int) -> Declaration:
    """Return the arrived declaration the user may report (403 for others, 409 before arrival)."""
    record = find_declaration(get_session(), acting_user(), declaration_id)
    if not may_report_receipt(acting_user(), record):
        abort(403, description=_("Only the consignee (or customs) reports the receipt."))
    require_move(record, S.CLOSED)
    return record


def _page(record: Declaration, form: Any, errors: dict[str, Any], status: int = 200):  # type: ignore[no-untyped-def]
    declared_kg = {i.container.sscc: kg_value(i.declared_net_g) for i in record.items}
    return render_template("trader/receipt.html", d=record, form=FormValues(form), errors=errors,
                           declared_kg=declared_kg), status


def _read(record: Declaration, form: Any) -> ReceiptInput:
    """Read the form into a report of receipt, or raise with every bad field."""
    errors: dict[str, Any] = {}
    containers = []
    for item in record.items:
        sscc = item.container.sscc
        mass = read_kg_field(form.get(f"received-{sscc}", ""), f"received-{sscc}", errors, allow_zero=True)
        seal = form.get(f"seal-{sscc}", "")
        if seal not in (SEAL_INTACT, SEAL_BROKEN):
            errors[f"seal-{sscc}"] = _("Say whether the seal of %(sscc)s was intact or broken.", sscc=sscc)
        containers.append(ReceivedContainer(sscc, mass if mass is not None else 0, seal == SEAL_INTACT))
    if errors:
        raise ValidationFailed(errors)
    return ReceiptInput(containers, form.get("remarks", ""))


def _tolerance() -> Tolerance:
    settings = current_app.config["SETTINGS"]
    return Tolerance(settings.receipt_tolerance_permille, settings.receipt_tolerance_min_g)


def _review(record: Declaration, report: ReceiptInput):  # type: ignore[no-untyped-def]
    """Show what will be filed: each container's difference, whether it opens an alert, the remarks."""
    tolerance = _tolerance()
    received = {c.sscc: c for c in report.containers}
    rows = [(item, received[item.container.sscc], mass_discrepancy_g(
        item.declared_net_g, received[item.container.sscc].received_net_g, tolerance.permille, tolerance.min_g))
        for item in record.items]
    return render_template("trader/receipt_review.html", d=record, rows=rows, remarks=report.remarks.strip(),
                           form=FormValues(request.form))


def _by_container(record: Declaration, errors: dict[str, Any]) -> dict[str, Any]:
    """Name the domain's ``containers[i].…`` errors by the SSCC of the i-th container."""
    named: dict[str, Any] = {}
    for key, message in errors.items():
        if key.startswith("containers[") and key[11:key.index("]")].isdigit():
            index = int(key[11:key.index("]")])
            key = f"received-{record.items[index].container.sscc}" if index < len(record.items) else "containers"
        named[key] = message
    return named


def _announce(alert: Alert) -> None:
    """Flash that the receipt opened ``alert``, with a link to it where the alert page exists."""
    message = _("The receipt opened an alert: %(kind)s.", kind=label(alert.kind))
    if has_view("portal.alert"):
        link = Markup('<a href="{}">{}</a>').format(url_for("portal.alert", alert_id=alert.id),
                                                    _("Open the alert to explain it"))
        flash(Markup("{} {}").format(message, link), "warning")
    else:
        flash(message, "warning")


@bp.route("/declarations/<int:declaration_id>/receipt", methods=["GET", "POST"])
@login_required
def receipt(declaration_id: int):  # type: ignore[no-untyped-def]
    """Show the report of receipt of an arrived declaration, review it, then file it (it closes the declaration).

    A post without ``confirmed=yes`` (or with ``change``) only shows the review (or the form again).
    """
    record = _receivable(declaration_id)
    if request.method == "GET":
        return _page(record, {}, {})
    if "change" in request.form:
        return _page(record, request.form, {})
    try:
        report = _read(record, request.form)
    except ValidationFailed as exc:
        return _page(record, request.form, exc.errors, 400)
    problems = receipt_problems(record, report)
    if problems:
        return _page(record, request.form, _by_container(record, problems), 400)
    if request.form.get("confirmed") != "yes":
        return _review(record, report)
    return _file(record, report)


def _file(record: Declaration, report: ReceiptInput):  # type: ignore[no-untyped-def]
    """File the reviewed report, announce the alerts it opened, and go back to the declaration."""
    db = get_session()
    try:
        closed = report_receipt(db, acting_user(), record.id, report, _tolerance())
    except ValidationFailed as exc:
        db.rollback()
        return _page(_receivable(record.id), request.form, _by_container(record, exc.errors), 400)
    db.commit()
    flash(_("Receipt of %(label)s recorded; the declaration is closed.", label=closed.label), "success")
    for alert in db.scalars(select(Alert).where(Alert.declaration_id == closed.id, Alert.kind.in_(RECEIPT_ALERTS))
                            .order_by(Alert.id)):
        _announce(alert)
    return redirect(url_for("portal.declaration", declaration_id=closed.id))
