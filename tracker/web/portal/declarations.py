"""The declaration page: its facts, containers, map, timeline, custody events and alerts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from tracker.domain import mapdata
from tracker.domain.access import Action, may, may_report_receipt, owns_declaration
from tracker.domain.declarations import EDITABLE_STATUSES, find_declaration
from tracker.domain.loading import loading
from tracker.domain.timeline import timeline
from tracker.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationStatus,
    User,
)
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.i18n import kg, when
from tracker.web.labels import label, place
from tracker.web.portal.blueprint import bp
from tracker.web.portal.navigation import has_view


#: Statuses in which the declaration page shows how many containers have departed.
LOADING = (DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT)


@bp.get("/declarations/<int:declaration_id>")
@login_required
def declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Show one declaration the user may see (404 otherwise)."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    alerts = db.scalars(
        select(Alert).where(Alert.declaration_id == record.id).order_by(Alert.opened_at, Alert.id)
    ).all()
    events = db.scalars(
        select(CustodyEvent).where(CustodyEvent.declaration_id == record.id)
        .order_by(CustodyEvent.event_time, CustodyEvent.id)
    ).all()
    return render_template("declaration/page.html", d=record, alerts=alerts, events=events,
                           timeline=timeline(db, record), actions=actions(user, record, alerts),
                           loading=loading(db, record) if record.status in LOADING else None)


@bp.get("/declarations/<int:declaration_id>/map.geojson")
@login_required
def declaration_map(declaration_id: int):  # type: ignore[no-untyped-def]
    """Return the declaration's map as GeoJSON, with words for its popups in the user's language."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    collection = mapdata.declaration_map(db, record)
    for feature in collection["features"]:
        feature["properties"].update(popup(feature["properties"]))
    response = jsonify(collection)
    response.mimetype = "application/geo+json"
    return response


def actions(user: User, record: Declaration, alerts: list[Alert]) -> dict[str, Any]:
    """Say which of the other pages' actions apply to this user and declaration now."""
    status = record.status
    return {
        "edit": has_view("portal.edit_declaration") and owns_declaration(user, record)
        and status in EDITABLE_STATUSES,
        "receipt": has_view("portal.receipt") and status == DeclarationStatus.ARRIVED
        and may_report_receipt(user, record),
        "alerts": has_view("portal.alert") and bool(alerts),
        "decide": has_view("portal.decide") and may(user, Action.DECIDE_DECLARATION)
        and status == DeclarationStatus.SUBMITTED,
    }


def _time(value: str | None) -> str:
    return when(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else "—"


def popup(p: dict[str, Any]) -> dict[str, Any]:
    """Return the words a feature's popup shows: a title (``label``) and lines (``text``)."""
    layer = p["layer"]
    if layer == "corridor":
        return {"label": _("Corridor, %(width)s m each side of the route", width=p["width_m"]), "text": []}
    if layer == "route":
        return {"label": _("Planned route"), "text": []}
    if layer == "track":
        return {"label": _("Beacon track"), "text": [
            _("%(count)s fixes from %(first)s to %(last)s", count=p["fixes"], first=_time(p["first_fix"]),
              last=_time(p["last_fix"]))]}
    if layer == "alert":
        return {"label": _("Alert: %(kind)s", kind=label(p["kind"])),
                "text": [_("Opened %(time)s", time=_time(p["opened_at"])),
                         f"{label_of('severity', p['severity'])}, {label_of('alert_status', p['status'])}"],
                "url": url_for("portal.alert", alert_id=p["alert_id"]) if has_view("portal.alert") else None,
                "link_text": _("Open the alert")}
    if layer == "custody":
        return {"label": _("%(kind)s at %(checkpoint)s", kind=label_of("custody", p["kind"]).capitalize(),
                           checkpoint=place({"name": p["checkpoint_name"], "names": p.get("checkpoint_names")})),
                "text": [_time(p["event_time"]), *map(scanned_container, p["containers"])]}
    if layer == "checkpoint":
        roles = {"origin": _("Origin"), "destination": _("Destination"), "expected": _("Expected checkpoint")}
        return {"label": place(p), "text": [f"{roles.get(p['role'], '')} · {p['code']}"]}
    if layer == "authorised_stop":
        return {"label": p["name"], "text": [_("Authorised stop")]}
    if layer == "zone":
        kinds = {"dead_zone": _("Dead zone (no signal expected)"), "prohibited": _("Prohibited zone")}
        return {"label": p["name"], "text": [kinds.get(p["kind"], p["kind"])]}
    return {"label": layer, "text": []}


def scanned_container(scan: dict[str, Any]) -> str:
    """Say what a checkpoint found on one container: SSCC, seal, measured mass."""
    seal = _("seal intact") if scan["seal_intact"] else _("seal broken")
    if scan["measured_net_g"] is None:
        return _("SSCC %(sscc)s: %(seal)s", sscc=scan["sscc"], seal=seal)
    return _("SSCC %(sscc)s: %(seal)s, %(mass)s net", sscc=scan["sscc"], seal=seal, mass=kg(scan["measured_net_g"]))


#: The enums whose values map properties carry as plain strings.
ENUMS = {"severity": AlertSeverity, "alert_status": AlertStatus, "custody": CustodyKind}


def label_of(enum: str, value: str) -> str:
    """Name a domain value carried in a map property."""
    return label(ENUMS[enum](value))
