"""Alert pages for every role: the list, one alert with its history, and answering it.

A trader explains a delay or a shortage on its declaration; customs officers and the
licensing authority acknowledge and close; auditors read. Each answer calls the same
domain function as the API (tracker.domain.alerts) and is kept in the alert's history.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import case, select

from tracker.domain import alerts as domain
from tracker.domain.access import Action, alert_filter, may
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.models import Alert, AlertSeverity, AlertStatus, User
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

#: The steps of an alert's history, in words.
STEPS = {"opened": _l("opened"), "acknowledged": _l("acknowledged"), "explained": _l("explained"),
         "closed": _l("closed"), "reopened": _l("reopened"), "updated": _l("updated")}
#: Words for the details rules most often attach to an alert; others show their own name.
DETAILS = {
    "sscc": _l("Container (SSCC)"), "checkpoint": _l("Checkpoint"), "custody_event_id": _l("Custody event"),
    "client_event_id": _l("Event id"), "declared_net_g": _l("Declared net mass"),
    "measured_net_g": _l("Measured net mass"), "received_net_g": _l("Received net mass"),
    "shortage_g": _l("Shortage"), "excess_g": _l("Excess"), "seal_number": _l("Seal number"),
    "planned_arrival": _l("Planned arrival"), "delay_s": _l("Delay, seconds"), "detected_at": _l("Detected at"),
    "zone": _l("Zone"), "destination": _l("Destination"), "licence": _l("Licence"), "dealer": _l("Dealer"),
    "last_fix_at": _l("Last position at"), "allowance_s": _l("Allowance, seconds"), "departed_at": _l("Departed at"),
    "declared_g": _l("Declared net mass"), "received_g": _l("Received net mass"),
    "difference_g": _l("Difference"), "tolerance_g": _l("Tolerance"), "observed_g": _l("Observed mass"),
    "mass_g": _l("Mass"), "crossed_g": _l("Mass crossed"), "missed_reports": _l("Missed reports"),
    "max_distance_m": _l("Largest distance from the route"), "duration_s": _l("Duration"),
    "corridor_m": _l("Corridor"), "width_m": _l("Corridor"), "radius_m": _l("Radius"),
    "fixes": _l("Positions"), "speed_kmh": _l("Speed"), "dead_zone": _l("Dead zone"), "note": _l("Note"),
    "declaration": _l("Declaration"), "accuracy_m": _l("Accuracy"), "signs": _l("Signs"),
    "approval": _l("Import approval"), "consent": _l("Export consent"), "valid_until": _l("Valid until"),
    "since": _l("Since"), "by": _l("By"), "reason": _l("Reason"),
    "remarks": _l("Remarks on receipt"),
}
#: A custody event's alerts carry the officer's remarks at the checkpoint, not the consignee's on receipt.
CUSTODY_DETAILS = {**DETAILS, "remarks": _l("Remarks")}


def detail_value(key: str, value: Any) -> str:
    """Show one detail of an alert by its unit: grams as kilograms, metres, durations, speeds."""
    from tracker.web.i18n import kg, number

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if key.endswith("_g"):
        return kg(int(value))
    if key.endswith("_m"):
        return gettext("%(value)s m", value=number(value))
    if key.endswith("_kmh"):
        return gettext("%(value)s km/h", value=number(value))
    if key.endswith("_s"):
        minutes, seconds = divmod(int(value), 60)
        hours, minutes = divmod(minutes, 60)
        return gettext("%(h)s h %(m)02d min", h=hours, m=minutes) if hours else \
            gettext("%(m)s min %(s)02d s", m=minutes, s=seconds)
    return number(value)


def _choice(name: str, allowed: set[str]) -> str:
    value = request.args.get(name, "")
    return value if value in allowed else ""


@bp.get("/alerts")
@login_required
def alerts():  # type: ignore[no-untyped-def]
    """List the alerts the user may see, open ones first, filtered by status, severity and kind."""
    user, db = acting_user(), get_session()
    kinds = list(db.scalars(select(Alert.kind).where(alert_filter(user)).distinct().order_by(Alert.kind)))
    chosen = {"status": _choice("status", {s.value for s in AlertStatus}),
              "severity": _choice("severity", {s.value for s in AlertSeverity}),
              "kind": _choice("kind", set(kinds))}
    query = select(Alert).where(alert_filter(user))
    if chosen["status"]:
        query = query.where(Alert.status == AlertStatus(chosen["status"]))
    if chosen["severity"]:
        query = query.where(Alert.severity == AlertSeverity(chosen["severity"]))
    if chosen["kind"]:
        query = query.where(Alert.kind == chosen["kind"])
    closed_last = case((Alert.status == AlertStatus.CLOSED, 1), else_=0)
    page = paginate(db, query.order_by(closed_last, Alert.opened_at.desc(), Alert.id.desc()))
    return render_template("alerts/list.html", page=page, chosen=chosen, kinds=kinds,
                           statuses=list(AlertStatus), severities=list(AlertSeverity))


def answers(user: User, alert: Alert) -> dict[str, bool]:
    """Which answers the user may give to the alert now: explain, acknowledge, close."""
    live = alert.status != AlertStatus.CLOSED
    handles = live and may(user, Action.HANDLE_ALERT)
    return {"explain": live and may(user, Action.EXPLAIN_ALERT),
            "acknowledge": handles and alert.status != AlertStatus.ACKNOWLEDGED,
            "close": handles}


def _alert_page(alert: Alert, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                status: int = 200):  # type: ignore[no-untyped-def]
    user = acting_user()
    return render_template("alerts/alert.html", a=alert, may=answers(user, alert), steps=STEPS,
                           details=CUSTODY_DETAILS if "custody_event_id" in alert.details else DETAILS,
                           detail_value=detail_value, form=form or {}, errors=errors or {}), status


@bp.get("/alerts/<int:alert_id>")
@login_required
def alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Show one alert: what, where, its declaration, its history, and the answers the user may give."""
    return _alert_page(domain.find_alert(get_session(), acting_user(), alert_id))


def _answer(alert_id: int, step: Callable[..., Alert], field: str, done: Any):  # type: ignore[no-untyped-def]
    """Give one answer through the domain; a refusal shows the alert again with the reason beside the field."""
    db, user = get_session(), acting_user()
    text = request.form.get(field, "")
    try:
        step(db, user, alert_id, text)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}
        record = domain.find_alert(db, user, alert_id)
        return _alert_page(record, {field: text}, errors, 400 if isinstance(exc, ValidationFailed) else 409)
    db.commit()
    flash(str(done), "success")
    return redirect(url_for("portal.alert", alert_id=alert_id))


@bp.post("/alerts/<int:alert_id>/explain")
@requires(Action.EXPLAIN_ALERT)
def explain_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """File the trader's explanation of a delay or a shortage."""
    return _answer(alert_id, domain.explain, "explanation", _l("Your explanation was filed."))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@requires(Action.HANDLE_ALERT)
def acknowledge_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Acknowledge the alert, with an optional note."""
    return _answer(alert_id, domain.acknowledge, "note", _l("Alert acknowledged."))


@bp.post("/alerts/<int:alert_id>/close")
@requires(Action.HANDLE_ALERT)
def close_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Close the alert with how it was resolved."""
    return _answer(alert_id, domain.close, "resolution", _l("Alert closed."))
