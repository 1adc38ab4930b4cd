"""Audit reports (read only): what moves now, route compliance of a declaration, flows.

Every role may read them through its access filters: auditors and the licensing authority
everything, customs officers every submitted declaration, traders their own dealer's.
Each figure carries the ids and API links of the records it came from.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request, url_for
from flask_login import login_required

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.audit import FLOW_GROUPS, FlowFilter, compliance, flow_declarations, flows
from tracker.domain.audit.compliance import Compliance, Coverage, CustodyStep, Episode, Passage, ReceiptLine
from tracker.domain.audit.flows import FlowRow, totals
from tracker.domain.audit.now import (
    AGE_BANDS,
    InTransit,
    OpenAlert,
    in_transit,
    open_alert_of,
    open_alert_summary,
    open_alerts,
)
from tracker.domain.errors import ValidationFailed
from tracker.models import AlertSeverity, Declaration, DeclarationKind, utcnow
from tracker.web.api import bp
from tracker.web.api.openapi import PAGING, PATHS, ROW_ID, SCHEMAS, error_responses, json_response, op, page_of, ref
from tracker.web.api.requests import enum_arg, page_args, paginate
from tracker.web.api.serialize import iso
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.guards import row_id


def _declaration_url(declaration_id: int | None) -> str | None:
    return None if declaration_id is None else url_for("api.get_declaration", declaration_id=declaration_id)


def _alert_json(alert: OpenAlert) -> dict[str, Any]:
    return {"id": alert.id, "declaration_id": alert.declaration_id, "kind": alert.kind,
            "severity": alert.severity.value, "status": alert.status.value, "opened_at": iso(alert.opened_at),
            "age_s": round(alert.age_s), "url": url_for("api.get_alert", alert_id=alert.id),
            "declaration_url": _declaration_url(alert.declaration_id)}


def _in_transit_json(row: InTransit) -> dict[str, Any]:
    position = None if row.position_id is None else {
        "id": row.position_id, "fix_time": iso(row.fix_time), "lat": row.lat, "lon": row.lon,
        "age_s": round(row.age_s or 0)}
    return {"declaration_id": row.declaration_id, "reference": row.reference, "kind": row.kind,
            "url": _declaration_url(row.declaration_id),
            "compliance_url": url_for("api.audit_compliance", declaration_id=row.declaration_id),
            "last_position": position, "open_alerts": [_alert_json(a) for a in row.open_alerts]}


@bp.get("/audit/now")
@login_required
def audit_now():  # type: ignore[no-untyped-def]
    """Declarations in transit (stalest last position first) and the open alerts by severity and age."""
    user, db, now = acting_user(), get_session(), utcnow()
    page, per_page = page_args()
    rows, total = in_transit(db, user, now, limit=per_page, offset=(page - 1) * per_page)
    summary = [{"severity": s.severity.value, "count": s.count, "oldest_opened_at": iso(s.oldest_opened_at),
                "by_age": s.by_age, "url": url_for("api.audit_open_alerts", severity=s.severity.value)}
               for s in open_alert_summary(db, user, now)]
    return jsonify({"at": iso(now), "in_transit": {"items": [_in_transit_json(r) for r in rows], "page": page,
                                                   "per_page": per_page, "total": total},
                    "open_alerts": summary, "open_alerts_url": url_for("api.audit_open_alerts")})


@bp.get("/audit/now/alerts")
@login_required
def audit_open_alerts():  # type: ignore[no-untyped-def]
    """Open alerts (until closed), most severe first and oldest first, optionally of one severity."""
    now = utcnow()
    query = open_alerts(acting_user(), enum_arg("severity", AlertSeverity))
    return jsonify(paginate(query, lambda alert: _alert_json(open_alert_of(alert, now))))


# ---------------------------------------------------------------- route compliance
def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _coverage_json(c: Coverage | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"positions": c.positions, "located": c.located, "first_fix": iso(c.first_fix), "last_fix": iso(c.last_fix),
            "distance_m": round(c.distance_m, 1), "inside_distance_m": round(c.inside_distance_m, 1),
            "distance_share": _share(c.distance_share), "time_s": round(c.time_s, 1),
            "inside_time_s": round(c.inside_time_s, 1), "time_share": _share(c.time_share)}


def _episode_json(e: Episode) -> dict[str, Any]:
    data = {"alert_id": e.alert_id, "url": url_for("api.get_alert", alert_id=e.alert_id), "status": e.status.value,
            "start": iso(e.start), "end": iso(e.end), "duration_s": e.duration_s, "lat": e.lat, "lon": e.lon}
    if e.kind == AlertKind.OFF_ROUTE:
        data["max_distance_m"] = e.max_distance_m
    return data


def _passage_json(p: Passage, late: tuple[int, ...]) -> dict[str, Any]:
    status = "out_of_order" if p.checkpoint_id in late else p.status
    return {"role": p.role, "seq": p.seq, "checkpoint": p.code, "kind": p.kind, "status": status,
            "first_seen": iso(p.first_seen), "custody_event_ids": list(p.event_ids),
            "custody_event_urls": [url_for("api.get_custody_event", event_id=i) for i in p.event_ids]}


def _custody_json(s: CustodyStep) -> dict[str, Any]:
    return {"id": s.id, "url": url_for("api.get_custody_event", event_id=s.id), "kind": s.kind,
            "checkpoint": s.code, "event_time": iso(s.event_time), "container_id": s.container_id,
            "seal_intact": s.seal_intact, "measured_net_g": s.measured_net_g}


def _receipt_json(line: ReceiptLine) -> dict[str, Any]:
    return {"sscc": line.sscc, "url": url_for("api.get_container", sscc=line.sscc),
            "declared_g": line.declared_g, "received_g": line.received_g, "difference_g": line.difference_g,
            "tolerance_g": line.tolerance_g, "beyond_tolerance": line.beyond_tolerance,
            "seal_intact": line.seal_intact}


def compliance_json(report: Compliance) -> dict[str, Any]:
    """Return the route-compliance report as the API documents it."""
    received = report.received_g
    return {
        "declaration_id": report.declaration_id, "reference": report.reference, "status": report.status,
        "url": _declaration_url(report.declaration_id), "corridor_m": report.corridor_m,
        "coverage": _coverage_json(report.coverage),
        "excursions": [_episode_json(e) for e in report.excursions],
        "stops": [_episode_json(e) for e in report.stops],
        "signal_gaps": [_episode_json(e) for e in report.signal_gaps],
        "checkpoints": [_passage_json(p, report.out_of_order) for p in report.passages],
        "custody_events": [_custody_json(s) for s in report.custody],
        "receipt": {"received_at": iso(report.received_at), "declared_g": report.declared_g,
                    "received_g": received, "difference_g": None if received is None else received - report.declared_g,
                    "containers": [_receipt_json(line) for line in report.receipt],
                    "alert_ids": list(report.receipt_alert_ids),
                    "alert_urls": [url_for("api.get_alert", alert_id=i) for i in report.receipt_alert_ids]},
    }


@bp.get("/audit/declarations/<int:declaration_id>/compliance")
@login_required
def audit_compliance(declaration_id: int):  # type: ignore[no-untyped-def]
    """Route compliance of one declaration: corridor shares, excursions, stops, gaps, custody, receipt."""
    return jsonify(compliance_json(compliance(get_session(), acting_user(), declaration_id)))


# ---------------------------------------------------------------- flows
def _flow_filter() -> FlowFilter:
    """Read ``from``, ``to`` (YYYY-MM-DD, inclusive), ``kind`` and ``dealer_id``; report every bad one."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = request.args.get(name)
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = "a date (YYYY-MM-DD)"
    start, end = days.get("from"), days.get("to")
    if start and end and end < start:
        errors["to"] = "the period ends before it starts"
    dealer = request.args.get("dealer_id")
    try:
        dealer_id = None if dealer is None else row_id(dealer)
    except ValueError:
        errors["dealer_id"] = "a dealer id"
    try:
        kind = enum_arg("kind", DeclarationKind)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        kind = None
    if errors:
        raise ValidationFailed(errors)
    return FlowFilter(start, end, kind, dealer_id)


def _group() -> str:
    group = request.args.get("group", "route")
    if group not in FLOW_GROUPS:
        raise ValidationFailed({"group": f"one of {', '.join(FLOW_GROUPS)}"})
    return group


def _filter_args(f: FlowFilter) -> dict[str, Any]:
    args = {"from": f.start and f.start.isoformat(), "to": f.end and f.end.isoformat(),
            "kind": f.kind and f.kind.value, "dealer_id": f.dealer_id}
    return {name: value for name, value in args.items() if value is not None}


def _row_json(row: FlowRow, group: str, f: FlowFilter) -> dict[str, Any]:
    return {"key": row.key, **row.names, "declarations": row.declarations, "declared_g": row.declared_g,
            "received_g": row.received_g, **row.extra,
            "declarations_url": url_for("api.audit_flow_declarations", group=group, key=row.key, **_filter_args(f))}


@bp.get("/audit/flows")
@login_required
def audit_flows():  # type: ignore[no-untyped-def]
    """Grams moved by route, border crossing and direction, dealer, or month, over the filtered declarations."""
    user, db = acting_user(), get_session()
    group, f = _group(), _flow_filter()
    page, per_page = page_args()
    rows = flows(db, user, group, f)
    count, declared, received = totals(db, user, f)
    return jsonify({"group": group, **_filter_args(f),
                    "totals": {"declarations": count, "declared_g": declared, "received_g": received},
                    "items": [_row_json(r, group, f) for r in rows[(page - 1) * per_page:page * per_page]],
                    "page": page, "per_page": per_page, "total": len(rows)})


def _flow_declaration_json(declaration: Declaration) -> dict[str, Any]:
    return {"id": declaration.id, "reference": declaration.reference, "kind": declaration.kind.value,
            "status": declaration.status.value, "departed_at": iso(declaration.departed_at),
            "declared_g": declaration.declared_net_g,
            "received_g": sum(i.received_net_g or 0 for i in declaration.items),
            "url": _declaration_url(declaration.id),
            "compliance_url": url_for("api.audit_compliance", declaration_id=declaration.id)}


@bp.get("/audit/flows/declarations")
@login_required
def audit_flow_declarations():  # type: ignore[no-untyped-def]
    """The declarations behind one row of a flow table (its group and key, with the same filters)."""
    query = flow_declarations(acting_user(), _group(), request.args.get("key", ""), _flow_filter())
    return jsonify(paginate(query, _flow_declaration_json))


# ---------------------------------------------------------------- OpenAPI
_INT, _NUM, _STR, _URL = {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "string",
                                                                                     "format": "uri-reference"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_OPT_INT, _OPT_NUM = {"type": ["integer", "null"]}, {"type": ["number", "null"]}
_PLACE = {"type": "object", "properties": {"id": _INT, "code": _STR, "name": _STR, "country": _STR}}
SCHEMAS.update({
    "AuditAlert": {"type": "object", "properties": {
        "id": _INT, "declaration_id": _OPT_INT, "kind": _STR, "severity": {"enum": [s.value for s in AlertSeverity]},
        "status": _STR, "opened_at": _TIME, "age_s": _INT, "url": _URL,
        "declaration_url": {"type": ["string", "null"]}}},
    "InTransit": {"type": "object", "properties": {
        "declaration_id": _INT, "reference": {"type": ["string", "null"]}, "kind": _STR, "url": _URL,
        "compliance_url": _URL,
        "last_position": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "id": _INT, "fix_time": _TIME, "lat": _NUM, "lon": _NUM, "age_s": _INT}}]},
        "open_alerts": {"type": "array", "items": ref("AuditAlert")}}},
    "AuditNow": {"type": "object", "properties": {
        "at": _TIME, "in_transit": page_of("InTransit"), "open_alerts_url": _URL,
        "open_alerts": {"type": "array", "items": {"type": "object", "properties": {
            "severity": _STR, "count": _INT, "oldest_opened_at": _TIME, "url": _URL,
            "by_age": {"type": "object", "properties": {name: _INT for name, _ in AGE_BANDS}}}}}}},
    "AuditEpisode": {"type": "object", "description": "an excursion, stop or signal gap found by the gateway's "
                                                      "route evaluation, by its alert", "properties": {
        "alert_id": _INT, "url": _URL, "status": _STR, "start": _TIME, "end": _TIME, "duration_s": _OPT_NUM,
        "lat": _OPT_NUM, "lon": _OPT_NUM, "max_distance_m": {"type": ["number", "null"],
                                                            "description": "excursions only"}}},
    "Compliance": {"type": "object", "properties": {
        "declaration_id": _INT, "reference": {"type": ["string", "null"]}, "status": _STR, "url": _URL,
        "corridor_m": _INT,
        "coverage": {"oneOf": [{"type": "null"}, {"type": "object", "description": "a hop between consecutive "
                     "located fixes counts inside when both lie in the corridor", "properties": {
            "positions": _INT, "located": _INT, "first_fix": _TIME, "last_fix": _TIME, "distance_m": _NUM,
            "inside_distance_m": _NUM, "distance_share": _OPT_NUM, "time_s": _NUM, "inside_time_s": _NUM,
            "time_share": _OPT_NUM}}]},
        "excursions": {"type": "array", "items": ref("AuditEpisode")},
        "stops": {"type": "array", "items": ref("AuditEpisode")},
        "signal_gaps": {"type": "array", "items": ref("AuditEpisode")},
        "checkpoints": {"type": "array", "items": {"type": "object", "properties": {
            "role": {"enum": ["origin", "checkpoint", "destination", "unexpected"]}, "seq": _OPT_INT,
            "checkpoint": _STR, "kind": _STR, "status": {"enum": ["seen", "missing", "out_of_order", "unexpected"]},
            "first_seen": _TIME, "custody_event_ids": {"type": "array", "items": _INT},
            "custody_event_urls": {"type": "array", "items": _URL}}}},
        "custody_events": {"type": "array", "items": {"type": "object", "properties": {
            "id": _INT, "url": _URL, "kind": _STR, "checkpoint": _STR, "event_time": _TIME,
            "container_id": _OPT_INT, "seal_intact": {"type": "boolean"}, "measured_net_g": _OPT_INT}}},
        "receipt": {"type": "object", "properties": {
            "received_at": _TIME, "declared_g": _INT, "received_g": _OPT_INT, "difference_g": _OPT_INT,
            "alert_ids": {"type": "array", "items": _INT}, "alert_urls": {"type": "array", "items": _URL},
            "containers": {"type": "array", "items": {"type": "object", "properties": {
                "sscc": _STR, "url": _URL, "declared_g": _INT, "received_g": _OPT_INT, "difference_g": _OPT_INT,
                "tolerance_g": _INT, "beyond_tolerance": {"type": "boolean"},
                "seal_intact": {"type": ["boolean", "null"]}}}}}}}},
    "FlowRow": {"type": "object", "description": "one row; besides these, route rows name origin and destination, "
                                                 "crossing rows crossing and direction (with crossed_declarations "
                                                 "and crossed_g: seen by a custody event there), dealer rows dealer "
                                                 "and role, month rows month (YYYY-MM, UTC)", "properties": {
        "key": _STR, "declarations": _INT, "declared_g": _INT, "received_g": _INT, "declarations_url": _URL,
        "origin": _PLACE, "destination": _PLACE, "crossing": _PLACE,
        "direction": {"enum": ["import", "export"]}, "crossed_declarations": _INT, "crossed_g": _INT,
        "dealer": {"type": "object"}, "role": {"enum": ["consignor", "consignee"]}, "month": _STR}},
    "FlowTable": {"allOf": [page_of("FlowRow"), {"type": "object", "properties": {
        "group": {"enum": list(FLOW_GROUPS)}, "totals": {"type": "object", "properties": {
            "declarations": _INT, "declared_g": _INT, "received_g": _INT}}}}]},
    "FlowDeclaration": {"type": "object", "properties": {
        "id": _INT, "reference": {"type": ["string", "null"]}, "kind": _STR, "status": _STR, "departed_at": _TIME,
        "declared_g": _INT, "received_g": _INT, "url": _URL, "compliance_url": _URL}},
})
_FLOW_FILTERS = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "first day of departure (UTC), inclusive"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "last day of departure (UTC), inclusive"},
    {"name": "kind", "in": "query", "schema": {"enum": [k.value for k in DeclarationKind]}},
    {"name": "dealer_id", "in": "query", "schema": ROW_ID,
     "description": "as declarant, consignor or consignee (a trader: only their own)"}]
_GROUP = {"name": "group", "in": "query", "schema": {"enum": list(FLOW_GROUPS), "default": "route"}}
PATHS["/audit/now"] = {"get": op(
    "Declarations in transit with last position, its age and open alerts; open alerts by severity and age",
    {"200": json_response(ref("AuditNow"), "The situation now"), **error_responses(401, 422)}, parameters=PAGING)}
PATHS["/audit/now/alerts"] = {"get": op(
    "Open alerts (acknowledged and explained too), most severe first, oldest first",
    {"200": json_response(page_of("AuditAlert"), "A page"), **error_responses(401, 422)},
    parameters=PAGING + [{"name": "severity", "in": "query", "schema": {"enum": [s.value for s in AlertSeverity]}}])}
PATHS["/audit/declarations/{declaration_id}/compliance"] = {"get": op(
    "Route compliance of a declaration: corridor shares, excursions, stops, signal gaps, custody, receipt",
    {"200": json_response(ref("Compliance"), "The report"), **error_responses(401, 404)},
    parameters=[{"name": "declaration_id", "in": "path", "required": True, "schema": ROW_ID}])}
PATHS["/audit/flows"] = {"get": op(
    "Grams moved by route, border crossing and direction, dealer or month (departed declarations)",
    {"200": json_response(ref("FlowTable"), "A page of the table"), **error_responses(401, 403, 422)},
    parameters=[_GROUP, *_FLOW_FILTERS, *PAGING])}
PATHS["/audit/flows/declarations"] = {"get": op(
    "The declarations behind one row of a flow table",
    {"200": json_response(page_of("FlowDeclaration"), "A page"), **error_responses(401, 403, 422)},
    parameters=[_GROUP, {"name": "key", "in": "query", "required": True, "schema": {"type": "string"},
                         "description": "the row's key"}, *_FLOW_FILTERS, *PAGING])}
