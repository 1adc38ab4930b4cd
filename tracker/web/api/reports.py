"""Mass balance and reconciliation reports; customs dataset import."""
from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from flask import abort, jsonify, request
from flask_login import login_required
from sqlalchemy import select

from tracker.domain.access import Action, may_read_balance, may_read_reconciliation
from tracker.domain.balance import Balance, balances, dealer_balance
from tracker.domain.customs_import import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, import_customs_csv
from tracker.domain.errors import NotFound, ValidationFailed
from tracker.domain.reconcile import KINDS, reconcile
from tracker.models import CrossingDirection, CustomsRecord, Dealer, Role
from tracker.web.api import bp
from tracker.web.api.openapi import PAGING, PATHS, ROW_ID, SCHEMAS, error_responses, json_response, op, page_of, ref
from tracker.web.api.requests import id_arg, paginate
from tracker.web.api.serialize import iso
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session


def _period() -> tuple[date, date]:
    """Read ``from`` and ``to`` (YYYY-MM-DD, inclusive); default: this year so far."""
    today = date.today()
    errors: dict[str, str] = {}
    found = {}
    for name, default in (("from", date(today.year, 1, 1)), ("to", today)):
        raw = request.args.get(name)
        try:
            found[name] = date.fromisoformat(raw) if raw else default
        except ValueError:
            errors[name] = "a date (YYYY-MM-DD)"
    if not errors and found["to"] < found["from"]:
        errors["to"] = "the period ends before it starts"
    if errors:
        raise ValidationFailed(errors)
    return found["from"], found["to"]


def _balance_json(balance: Balance) -> dict[str, Any]:
    data = balance.as_dict()
    del data["from"], data["to"]
    return data


@bp.get("/reports/balance")
@login_required
def balance_report():  # type: ignore[no-untyped-def]
    """Mass balance per dealer over a period (a trader: their own), and the national totals."""
    user, db = acting_user(), get_session()
    start, end = _period()
    dealer_id = id_arg("dealer")
    if dealer_id is None and user.role == Role.TRADER:
        dealer_id = user.dealer_id
    if dealer_id is not None:
        dealer = db.get(Dealer, dealer_id)
        if dealer is None or not may_read_balance(user, dealer_id):
            raise NotFound(f"no dealer {dealer_id}")
        return jsonify({"from": start.isoformat(), "to": end.isoformat(),
                        "dealers": [_balance_json(dealer_balance(db, dealer, start, end))], "national": None})
    *dealers, national = balances(db, start, end)
    return jsonify({"from": start.isoformat(), "to": end.isoformat(),
                    "dealers": [_balance_json(b) for b in dealers], "national": _balance_json(national)})


@bp.get("/reports/reconciliation")
@login_required
def reconciliation_report():  # type: ignore[no-untyped-def]
    """Every mismatch between declarations, custody events, the register and customs records."""
    if not may_read_reconciliation(acting_user()):
        abort(403, description="the reconciliation is for customs, auditors and the licensing authority")
    start, end = _period()
    mismatches = reconcile(get_session(), start, end)
    counts = Counter(m.kind for m in mismatches)
    return jsonify({"from": start.isoformat(), "to": end.isoformat(),
                    "counts": {kind: counts.get(kind, 0) for kind in KINDS},
                    "mismatches": [m.as_dict() for m in mismatches]})


@bp.post("/customs-records")
@requires(Action.IMPORT_CUSTOMS_DATA)
def import_customs_records():  # type: ignore[no-untyped-def]
    """Import a customs CSV (body text/csv): good rows kept, bad rows reported by line, no duplicates."""
    db = get_session()
    source = request.args.get("source") or "API upload"
    result = import_customs_csv(db, acting_user(), request.get_data(), source)
    db.commit()
    return jsonify({"added": result.added, "duplicates": result.duplicates,
                    "errors": [{"line": e.line, "message": e.message} for e in result.errors]})


def customs_record_json(record: CustomsRecord) -> dict[str, Any]:
    """Return an imported customs record."""
    return {
        "id": record.id, "date": record.crossing_date.isoformat(), "reference": record.reference,
        "sscc": record.sscc, "direction": record.direction.value, "mass_g": record.mass_g,
        "checkpoint": record.checkpoint_code, "source": record.source_name, "line": record.line_number,
        "imported_at": iso(record.imported_at),
    }


@bp.get("/customs-records")
@login_required
def list_customs_records():  # type: ignore[no-untyped-def]
    """List imported customs records, newest crossing first (not for traders)."""
    if not may_read_reconciliation(acting_user()):
        abort(403, description="customs records are for customs, auditors and the licensing authority")
    query = select(CustomsRecord).order_by(CustomsRecord.crossing_date.desc(), CustomsRecord.id.desc())
    return jsonify(paginate(query, customs_record_json))


_G = {"type": "integer"}
SCHEMAS.update({
    "Balance": {"type": "object", "description": "opening + production + imports + purchases − sales − exports "
                                                "− use = closing, in grams", "properties": {
        "dealer_id": {"type": ["integer", "null"]}, "dealer": {"type": "string"},
        **{name: _G for name in ("opening_g", "production_g", "imports_g", "purchases_g", "sales_g",
                                 "exports_g", "use_g", "closing_g")},
        "physical_g": {"type": ["integer", "null"], "description": "net mass in the containers the dealer "
                                                                  "holds now (when the period reaches today)"},
        "flags": {"type": "array", "items": {"enum": ["negative_stock", "unexplained_stock"]}}}},
    "BalanceReport": {"type": "object", "properties": {
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "dealers": {"type": "array", "items": ref("Balance")},
        "national": {"oneOf": [ref("Balance"), {"type": "null"}]}}},
    "Mismatch": {"type": "object", "properties": {
        "kind": {"enum": list(KINDS)}, "source": {"type": "string"}, "on": {"type": "string", "format": "date"},
        "message": {"type": "string"}, "reference": {"type": ["string", "null"]}, "sscc": {"type": ["string", "null"]},
        **{name: {"type": ["integer", "null"]} for name in (
            "declaration_id", "transaction_id", "custody_event_id", "customs_record_id", "declared_g", "observed_g")}}},
    "ReconciliationReport": {"type": "object", "properties": {
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "mismatches": {"type": "array", "items": ref("Mismatch")}}},
    "CustomsImport": {"type": "object", "properties": {
        "added": _G, "duplicates": _G, "errors": {"type": "array", "items": {"type": "object", "properties": {
            "line": _G, "message": {"type": "string"}}}}}},
    "CustomsRecord": {"type": "object", "properties": {
        "id": _G, "date": {"type": "string", "format": "date"}, "reference": {"type": ["string", "null"]},
        "sscc": {"type": ["string", "null"]}, "direction": {"enum": [d.value for d in CrossingDirection]},
        "mass_g": _G, "checkpoint": {"type": ["string", "null"]}, "source": {"type": "string"}, "line": _G,
        "imported_at": {"type": "string", "format": "date-time"}}},
})
_PERIOD = [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
            "description": "first day (default: 1 January of this year)"},
           {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
            "description": "last day, inclusive (default: today)"}]
PATHS["/reports/balance"] = {"get": op(
    "Mass balance per dealer and national totals over a period (a trader: their own dealer)",
    {"200": json_response(ref("BalanceReport"), "Balances"), **error_responses(401, 404, 422)},
    parameters=_PERIOD + [{"name": "dealer", "in": "query", "schema": ROW_ID}])}
PATHS["/reports/reconciliation"] = {"get": op(
    "Mismatches between declarations, custody events, the register and customs records",
    {"200": json_response(ref("ReconciliationReport"), "Mismatches"), **error_responses(401, 403, 422)},
    parameters=_PERIOD)}
PATHS["/customs-records"] = {
    "post": op(f"Import a customs border-crossing CSV (header: date, reference and/or sscc, direction, "
               f"mass_g or mass_kg, optional checkpoint); at most {MAX_UPLOAD_BYTES // 1024} KiB and "
               f"{MAX_UPLOAD_ROWS} rows (larger: 413, more rows: 422)",
               {"200": json_response(ref("CustomsImport"), "Rows added, duplicates skipped, bad rows by line"),
                **error_responses(401, 403, 415, 422)},
               parameters=[{"name": "source", "in": "query", "schema": {"type": "string"},
                            "description": "name of the dataset (default: API upload)"}],
               requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}),
    "get": op("Imported customs records", {"200": json_response(page_of("CustomsRecord"), "A page"),
                                           **error_responses(401, 403)}, parameters=PAGING),
}
