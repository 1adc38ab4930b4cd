"""The declaration's life over HTTP: edit, route, submit, decide, cancel, receipt; alert handling."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, jsonify, request
from flask_login import login_required

from tracker.domain import alerts, lifecycle
from tracker.domain.access import Action
from tracker.domain.declarations import MAX_CORRIDOR_M, editable_declaration, set_route, update_draft
from tracker.domain.errors import ValidationFailed
from tracker.domain.receipts import ReceiptInput, ReceivedContainer, Tolerance, report_receipt
from tracker.domain.route_files import MAX_GPX_BYTES, RouteFileError, parse_gpx, route_from_waypoints
from tracker.models import Declaration, DeclarationKind
from tracker.web.api import RAW_FILE_ENDPOINTS, bp
from tracker.web.api.openapi import PATHS, ROW_ID, SCHEMAS, error_responses, json_response, op, ref
from tracker.web.api.requests import (
    draft_input,
    int_arg,
    json_body,
    list_field,
    parse_time,
    parse_waypoint,
    whole_number,
)
from tracker.web.api.serialize import alert_with_history_json, declaration_json, iso
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.errors import error_response

#: Content types a GPX route file may be sent as (the API lets these through for upload_route only).
GPX_MEDIA_TYPES = RAW_FILE_ENDPOINTS["api.upload_route"]


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ValidationFailed({name: "text"})
    return value


def _as_input(declaration: Declaration) -> dict[str, Any]:
    """Return a declaration as the JSON a trader would send to create it (route left out)."""
    foreign_consignor = declaration.kind in (DeclarationKind.IMPORT, DeclarationKind.TRANSIT)
    return {
        "kind": declaration.kind.value, "consignee_id": declaration.consignee_id,
        "consignor_id": declaration.consignor_id if foreign_consignor else None,
        "origin": declaration.origin.code, "destination": declaration.destination.code,
        "items": [{"sscc": i.container.sscc, "declared_net_g": i.declared_net_g} for i in declaration.items],
        "expected_checkpoints": [e.checkpoint.code for e in declaration.expected_checkpoints],
        "corridor_m": declaration.corridor_m, "vehicle": declaration.vehicle,
        "planned_departure": iso(declaration.planned_departure),
        "planned_arrival": iso(declaration.planned_arrival),
        "import_approval_id": declaration.import_approval_id,
        "export_consent_id": declaration.export_consent_id,
    }


def _merged(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**current, **changes}
    for role in ("consignee", "consignor"):
        if role in changes and f"{role}_id" not in changes:
            merged[f"{role}_id"] = None  # a newly named foreign party replaces the chosen one
    return merged


@bp.patch("/declarations/<int:declaration_id>")
@requires(Action.DECLARE)
def patch_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Change fields of a draft or rejected declaration (a rejected one becomes a draft again)."""
    db, actor = get_session(), acting_user()
    changes = json_body()
    current = editable_declaration(db, actor, declaration_id)
    record = update_draft(db, actor, declaration_id, draft_input(_merged(_as_input(current), changes)))
    db.commit()
    return jsonify(declaration_json(record, full=True))


def _route_from_request():  # type: ignore[no-untyped-def]
    """Return (route, corridor) from a raw GPX body or JSON waypoints."""
    if request.mimetype in GPX_MEDIA_TYPES:
        data = request.stream.read(MAX_GPX_BYTES + 1)
        corridor = int_arg("corridor_m", 1, MAX_CORRIDOR_M)
        return parse_gpx(data), corridor
    data = json_body()
    errors: dict[str, str] = {}
    waypoints = list_field(data, "waypoints", parse_waypoint, "a list of [lat, lon] pairs", errors)
    corridor = data.get("corridor_m")
    if corridor is not None and not whole_number(corridor):
        errors["corridor_m"] = "whole metres"
    if errors:
        raise ValidationFailed(errors)
    return route_from_waypoints(waypoints), corridor


@bp.post("/declarations/<int:declaration_id>/route")
@requires(Action.DECLARE)
def upload_route(declaration_id: int):  # type: ignore[no-untyped-def]
    """Set the planned route from a GPX file (raw body) or from JSON waypoints."""
    if (request.content_length or 0) > MAX_GPX_BYTES:
        return error_response(413, "request_entity_too_large", f"a route file may be at most {MAX_GPX_BYTES} bytes")
    try:
        route, corridor = _route_from_request()
    except RouteFileError as exc:
        raise ValidationFailed({"route": str(exc)}) from None
    db = get_session()
    record = set_route(db, acting_user(), declaration_id, route, corridor)
    db.commit()
    return jsonify(declaration_json(record, full=True))


@bp.post("/declarations/<int:declaration_id>/submit")
@requires(Action.DECLARE)
def submit_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Submit a draft: every rule is checked and every failure reported at once (422)."""
    db = get_session()
    record = lifecycle.submit(db, acting_user(), declaration_id)
    db.commit()
    return jsonify(declaration_json(record, full=True))


@bp.post("/declarations/<int:declaration_id>/approve")
@requires(Action.DECIDE_DECLARATION)
def approve_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Approve a submitted declaration; it gets its reference number."""
    data = json_body() if request.content_length else {}
    db = get_session()
    record = lifecycle.approve(db, acting_user(), declaration_id, _text(data, "reason"))
    db.commit()
    return jsonify(declaration_json(record, full=True))


@bp.post("/declarations/<int:declaration_id>/reject")
@requires(Action.DECIDE_DECLARATION)
def reject_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Reject a submitted declaration with a reason."""
    db = get_session()
    record = lifecycle.reject(db, acting_user(), declaration_id, _text(json_body(), "reason"))
    db.commit()
    return jsonify(declaration_json(record, full=True))


@bp.post("/declarations/<int:declaration_id>/cancel")
@login_required
def cancel_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Cancel a declaration before departure (its trader or the licensing authority)."""
    data = json_body() if request.content_length else {}
    db = get_session()
    record = lifecycle.cancel(db, acting_user(), declaration_id, _text(data, "reason"))
    db.commit()
    return jsonify(declaration_json(record, full=True))


def _received(element: Any) -> ReceivedContainer:
    return ReceivedContainer(sscc=str(element["sscc"]), received_net_g=element["received_net_g"],
                             seal_intact=element["seal_intact"])


@bp.post("/declarations/<int:declaration_id>/receipt")
@login_required
def post_receipt(declaration_id: int):  # type: ignore[no-untyped-def]
    """File the report of receipt of an arrived declaration, closing it."""
    data, errors = json_body(), {}
    containers = list_field(data, "containers", _received, "a list of {sscc, received_net_g, seal_intact}", errors)
    received_at: datetime | None = parse_time(data, "received_at", errors)
    if errors:
        raise ValidationFailed(errors)
    settings = current_app.config["SETTINGS"]
    tolerance = Tolerance(settings.receipt_tolerance_permille, settings.receipt_tolerance_min_g)
    db = get_session()
    record = report_receipt(db, acting_user(), declaration_id,
                            ReceiptInput(containers, _text(data, "remarks"), received_at), tolerance)
    db.commit()
    return jsonify(declaration_json(record, full=True))


@bp.get("/alerts/<int:alert_id>")
@login_required
def get_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Return one alert with its history (opened, acknowledged, explained, closed; who and when)."""
    return jsonify(alert_with_history_json(alerts.find_alert(get_session(), acting_user(), alert_id)))


def _alert_step(step: Any, alert_id: int, field: str):  # type: ignore[no-untyped-def]
    data = json_body() if request.content_length or field != "note" else {}
    db = get_session()
    alert = step(db, acting_user(), alert_id, _text(data, field))
    db.commit()
    return jsonify(alert_with_history_json(alert))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@requires(Action.HANDLE_ALERT)
def acknowledge_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Acknowledge an alert (customs or licensing admin), with an optional note."""
    return _alert_step(alerts.acknowledge, alert_id, "note")


@bp.post("/alerts/<int:alert_id>/explain")
@requires(Action.EXPLAIN_ALERT)
def explain_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """File a trader's explanation of a delay or shortage."""
    return _alert_step(alerts.explain, alert_id, "explanation")


@bp.post("/alerts/<int:alert_id>/close")
@requires(Action.HANDLE_ALERT)
def close_alert(alert_id: int):  # type: ignore[no-untyped-def]
    """Close an alert with its resolution (customs or licensing admin)."""
    return _alert_step(alerts.close, alert_id, "resolution")


# ---------------------------------------------------------------- OpenAPI
_DECLARATION = [{"name": "declaration_id", "in": "path", "required": True, "schema": ROW_ID}]
_ALERT = [{"name": "alert_id", "in": "path", "required": True, "schema": ROW_ID}]
_FOREIGN = {"type": "object", "required": ["name", "country"], "properties": {
    "name": {"type": "string"}, "country": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    "description": "a foreign party by name and country, recorded on first use"}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _text_body(name: str) -> dict[str, Any]:
    return {"type": "object", "required": [name], "properties": {name: {"type": "string"}}}


SCHEMAS["NewDeclaration"]["required"] = ["kind", "origin", "destination"]
SCHEMAS["NewDeclaration"]["properties"].update({
    "consignee_id": {"type": "integer", "description": "a dealer id (or give consignee)"},
    "consignee": _FOREIGN,
    "consignor_id": {"type": "integer", "description": "import or transit only: the foreign consignor's id"},
    "consignor": _FOREIGN,
    "import_approval_id": {"type": "integer", "description": "import only"},
    "export_consent_id": {"type": "integer", "description": "export only"},
})
_MOMENT = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS["DeclarationFull"]["allOf"][1]["properties"].update({
    "import_approval": {"type": ["string", "null"], "description": "import approval number"},
    "export_consent": {"type": ["string", "null"], "description": "export consent number"},
    "submitted_at": _MOMENT, "decided_at": _MOMENT, "departed_at": _MOMENT, "arrived_at": _MOMENT,
    "received_at": _MOMENT, "closed_at": _MOMENT, "receipt_remarks": {"type": ["string", "null"]},
})
SCHEMAS["DeclarationFull"]["allOf"][1]["properties"]["items"]["items"]["properties"]["seal_intact"] = {
    "type": ["boolean", "null"], "description": "seal found intact on receipt (null before)"}
SCHEMAS["Receipt"] = {"type": "object", "required": ["containers"], "properties": {
    "containers": {"type": "array", "items": {"type": "object", "required": ["sscc", "received_net_g", "seal_intact"],
                                              "properties": {"sscc": {"type": "string"},
                                                             "received_net_g": {"type": "integer", "minimum": 0},
                                                             "seal_intact": {"type": "boolean"}}}},
    "remarks": {"type": "string"}, "received_at": {"type": "string", "format": "date-time", "description": (
        "after the arrival; within the last 30 days and at most 5 minutes ahead")}}}
SCHEMAS["AlertWithHistory"] = {"allOf": [ref("Alert"), {"type": "object", "properties": {
    "history": {"type": "array", "items": {"type": "object", "properties": {
        "action": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
        "by": {"type": "string"}, "note": {"type": "string"}}}}}}]}


def _declaration_step(summary: str, body: dict[str, Any] | None, *errors: int) -> dict[str, Any]:
    extra = {"requestBody": body} if body else {}
    return {"post": op(summary, {"200": json_response(ref("DeclarationFull"), "The declaration"),
                                 **error_responses(401, 403, 404, 409, *errors)},
                       parameters=_DECLARATION, **extra)}


def _alert_step_doc(summary: str, field: str, required: bool) -> dict[str, Any]:
    return {"post": op(summary, {"200": json_response(ref("AlertWithHistory"), "The alert"),
                                 **error_responses(401, 403, 404, 409, 415, 422)},
                       parameters=_ALERT, requestBody=_json_body(_text_body(field), required))}


PATHS["/declarations/{declaration_id}"]["patch"] = op(
    "Change fields of a draft or rejected declaration (trader; a rejected one becomes a draft)",
    {"200": json_response(ref("DeclarationFull"), "The declaration"),
     **error_responses(401, 403, 404, 409, 415, 422)},
    parameters=_DECLARATION, requestBody=_json_body(ref("NewDeclaration")))
PATHS.update({
    "/declarations/{declaration_id}/route": {"post": op(
        "Set the planned route (trader): a GPX file as the raw body (application/gpx+xml or "
        "application/xml; track, else route; no DTD or entities; at most 5 MiB; ?corridor_m=) "
        "or JSON {waypoints: [[lat, lon], ...], corridor_m}",
        {"200": json_response(ref("DeclarationFull"), "The declaration with its route"),
         **error_responses(401, 403, 404, 409, 413, 415, 422)},
        parameters=_DECLARATION + [{"name": "corridor_m", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_CORRIDOR_M}}],
        requestBody={"required": True, "content": {
            "application/gpx+xml": {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "required": ["waypoints"], "properties": {
                "waypoints": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "corridor_m": {"type": "integer"}}}}}})},
    "/declarations/{declaration_id}/submit": _declaration_step(
        "Submit a draft (trader); 422 lists every failing rule by field", None, 422),
    "/declarations/{declaration_id}/approve": _declaration_step(
        "Approve (licensing admin or customs): assigns the reference number",
        _json_body({"type": "object", "properties": {"reason": {"type": "string"}}}, False), 415, 422),
    "/declarations/{declaration_id}/reject": _declaration_step(
        "Reject with a reason (licensing admin or customs)", _json_body(_text_body("reason")), 415, 422),
    "/declarations/{declaration_id}/cancel": _declaration_step(
        "Cancel before departure (its trader or the licensing admin)",
        _json_body({"type": "object", "properties": {"reason": {"type": "string"}}}, False), 415),
    "/declarations/{declaration_id}/receipt": _declaration_step(
        "Report of receipt of an arrived declaration (consignee or customs); closes it and opens "
        "receipt_shortage / receipt_excess / seal_broken alerts", _json_body(ref("Receipt")), 415, 422),
    "/alerts/{alert_id}": {"get": op("One alert with its history", {
        "200": json_response(ref("AlertWithHistory"), "The alert"), **error_responses(401, 404)},
        parameters=_ALERT)},
    "/alerts/{alert_id}/acknowledge": _alert_step_doc("Acknowledge (customs or licensing admin)", "note", False),
    "/alerts/{alert_id}/explain": _alert_step_doc(
        "Explain a delay or shortage (trader party to the declaration)", "explanation", True),
    "/alerts/{alert_id}/close": _alert_step_doc("Close with a resolution (customs or licensing admin)",
                                                "resolution", True),
})
