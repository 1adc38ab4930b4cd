"""Licences, import approvals and export consents (the licensing authority writes; traders read their own)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from flask_login import login_required
from sqlalchemy import select

from tracker.domain import approvals, dealers, licensing
from tracker.domain.access import Action, approval_filter, consent_filter, license_filter
from tracker.domain.errors import ValidationFailed
from tracker.domain.register import today_kg
from tracker.domain.submission import declared_against
from tracker.models import Activity, Declaration, ExportConsent, ImportApproval, License, LicenseStatus
from tracker.web.api import bp
from tracker.web.api.openapi import (
    GRAMS,
    PAGING,
    PATHS,
    ROW_ID,
    SCHEMAS,
    error_responses,
    json_response,
    op,
    page_of,
    ref,
)
from tracker.web.api.requests import enum_arg, id_arg, json_body, paginate, whole_number
from tracker.web.api.serialize import approval_json, consent_json, dealer_json, licence_json
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session


DEALER_FIELDS = ("legal_name", "taxpayer_number", "address")


def _date(data: dict[str, Any], name: str, errors: dict[str, str]) -> date:
    try:
        return date.fromisoformat(str(data[name]))
    except KeyError:
        errors[name] = "required"
    except ValueError:
        errors[name] = "a date, e.g. 2027-01-31"
    return date.min


def _reason(data: dict[str, Any]) -> str:
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed({"reason": "text"})
    return reason


@bp.get("/licences")
@login_required
def list_licences():  # type: ignore[no-untyped-def]
    """List the licences the user may see, optionally by status or dealer."""
    query = select(License).where(license_filter(acting_user()))
    if (status := enum_arg("status", LicenseStatus)) is not None:
        query = query.where(License.status == status)
    if (dealer := id_arg("dealer_id")) is not None:
        query = query.where(License.dealer_id == dealer)
    return jsonify(paginate(query.order_by(License.id), licence_json))


@bp.get("/licences/<int:licence_id>")
@login_required
def get_licence(licence_id: int):  # type: ignore[no-untyped-def]
    """Return one licence with its history."""
    return jsonify(licence_json(licensing.find_licence(get_session(), acting_user(), licence_id)))


@bp.post("/licences")
@requires(Action.MANAGE_LICENSES)
def post_licence():  # type: ignore[no-untyped-def]
    """Issue a licence to a domestic dealer."""
    data, errors = json_body(), {}
    if not isinstance(data.get("dealer_id"), int) or isinstance(data.get("dealer_id"), bool):
        errors["dealer_id"] = "a whole number"
    licence = _licence_input(data, errors)
    if errors:
        raise ValidationFailed(errors)
    db = get_session()
    record = licensing.issue_licence(db, acting_user(), licence)
    db.commit()
    return jsonify(licence_json(record)), 201


def _licence_input(data: dict[str, Any], errors: dict[str, str]) -> licensing.LicenceInput:
    """Read a licence's terms from a JSON object, noting each field of the wrong type in ``errors``."""
    valid_from, valid_to = _date(data, "valid_from", errors), _date(data, "valid_to", errors)
    activities = data.get("activities")
    if not isinstance(activities, list) or not all(isinstance(a, str) for a in activities):
        errors["activities"] = "a list of activities"
    if not isinstance(data.get("annual_quota_g"), int) or isinstance(data.get("annual_quota_g"), bool):
        errors["annual_quota_g"] = "a whole number"
    if not isinstance(data.get("number"), str):
        errors["number"] = "required"
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        errors["reason"] = "text"
    if errors:
        return licensing.LicenceInput(0, "", date.min, date.min, 0)
    return licensing.LicenceInput(
        dealer_id=data.get("dealer_id", 0), number=data["number"], valid_from=valid_from, valid_to=valid_to,
        annual_quota_g=data["annual_quota_g"], activities=activities, reason=reason)


def _in_licence(errors: dict[str, str]) -> dict[str, str]:
    """Name the errors of the licence's terms as the body nests them ("licence.number")."""
    return {(name if name in DEALER_FIELDS else f"licence.{name}"): message for name, message in errors.items()}


@bp.post("/dealers")
@requires(Action.MANAGE_LICENSES)
def post_dealer():  # type: ignore[no-untyped-def]
    """Register a domestic dealer with its first licence."""
    data, errors = json_body(), {}
    for name in DEALER_FIELDS:
        if not isinstance(data.get(name), str):
            errors[name] = "required text"
    terms, terms_errors = data.get("licence"), {}
    licence = _licence_input(terms if isinstance(terms, dict) else {}, terms_errors)
    errors |= _in_licence(terms_errors)
    if errors:
        raise ValidationFailed(errors)
    db = get_session()
    try:
        record = dealers.register_dealer(db, acting_user(), dealers.DealerInput(
            legal_name=data["legal_name"], taxpayer_number=data["taxpayer_number"], address=data["address"]),
            licence, today_kg())
    except ValidationFailed as exc:
        raise ValidationFailed(_in_licence(exc.errors)) from None
    db.commit()
    return jsonify(dealer_json(record.dealer)), 201


def _change(change: Any, licence_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    licence = change(db, acting_user(), licence_id, _reason(json_body()))
    db.commit()
    return jsonify(licence_json(licence))


@bp.post("/licences/<int:licence_id>/suspend")
@requires(Action.MANAGE_LICENSES)
def suspend_licence(licence_id: int):  # type: ignore[no-untyped-def]
    """Suspend a licence; its dealer's shipments in transit get an alert."""
    return _change(licensing.suspend_licence, licence_id)


@bp.post("/licences/<int:licence_id>/reinstate")
@requires(Action.MANAGE_LICENSES)
def reinstate_licence(licence_id: int):  # type: ignore[no-untyped-def]
    """Reinstate a suspended licence."""
    return _change(licensing.reinstate_licence, licence_id)


@bp.post("/licences/<int:licence_id>/revoke")
@requires(Action.MANAGE_LICENSES)
def revoke_licence(licence_id: int):  # type: ignore[no-untyped-def]
    """Revoke a licence for good; its dealer's shipments in transit get an alert."""
    return _change(licensing.revoke_licence, licence_id)


def _approval_with_balance(approval: ImportApproval) -> dict[str, Any]:
    used = declared_against(get_session(), Declaration.import_approval_id, approval.id, None)
    return approval_json(approval, used)


def _consent_with_balance(consent: ExportConsent) -> dict[str, Any]:
    used = declared_against(get_session(), Declaration.export_consent_id, consent.id, None)
    return consent_json(consent, used)


def _required(data: dict[str, Any], texts: tuple[str, ...], numbers: tuple[str, ...],
              errors: dict[str, str]) -> None:
    """Note each of ``texts`` that is not text and each of ``numbers`` that is not a whole number."""
    errors.update({name: "required text" for name in texts if not isinstance(data.get(name), str)})
    errors.update({name: "a whole number" for name in numbers if not whole_number(data.get(name))})


@bp.get("/import-approvals")
@login_required
def list_approvals():  # type: ignore[no-untyped-def]
    """List the import approvals the user may see, with the quantity still available."""
    query = select(ImportApproval).where(approval_filter(acting_user())).order_by(ImportApproval.id)
    return jsonify(paginate(query, _approval_with_balance))


@bp.post("/import-approvals")
@requires(Action.MANAGE_LICENSES)
def post_approval():  # type: ignore[no-untyped-def]
    """Record a written import consent (Minamata Convention Art. 3)."""
    data, errors = json_body(), {}
    valid_until = _date(data, "valid_until", errors)
    _required(data, ("number", "exporter_name", "exporter_country", "intended_use", "source_statement"),
              ("importer_id", "quantity_g"), errors)
    if errors:
        raise ValidationFailed(errors)
    db = get_session()
    approval = approvals.record_import_approval(db, acting_user(), approvals.ApprovalInput(
        number=data["number"], importer_id=data["importer_id"], exporter_name=data["exporter_name"],
        exporter_country=data["exporter_country"], quantity_g=data["quantity_g"],
        intended_use=data["intended_use"], source_not_primary_mining=data.get("source_not_primary_mining") is True,
        source_statement=data["source_statement"], valid_until=valid_until))
    db.commit()
    return jsonify(_approval_with_balance(approval)), 201


@bp.get("/export-consents")
@login_required
def list_consents():  # type: ignore[no-untyped-def]
    """List the export consents the user may see, with the quantity still available."""
    query = select(ExportConsent).where(consent_filter(acting_user())).order_by(ExportConsent.id)
    return jsonify(paginate(query, _consent_with_balance))


@bp.post("/export-consents")
@requires(Action.MANAGE_LICENSES)
def post_consent():  # type: ignore[no-untyped-def]
    """Record the importing country's written consent to an export (Minamata Art. 3(6))."""
    data, errors = json_body(), {}
    valid_until = _date(data, "valid_until", errors)
    _required(data, ("number", "importer_name", "importer_country", "intended_use"),
              ("exporter_id", "quantity_g"), errors)
    if errors:
        raise ValidationFailed(errors)
    db = get_session()
    consent = approvals.record_export_consent(db, acting_user(), approvals.ExportConsentInput(
        number=data["number"], exporter_id=data["exporter_id"], importer_name=data["importer_name"],
        importer_country=data["importer_country"], quantity_g=data["quantity_g"],
        intended_use=data["intended_use"], valid_until=valid_until))
    db.commit()
    return jsonify(_consent_with_balance(consent)), 201


# ---------------------------------------------------------------- OpenAPI
_ID = [{"name": "licence_id", "in": "path", "required": True, "schema": ROW_ID}]
_DAY = {"type": "string", "format": "date"}
_REASON_BODY = {"required": True, "content": {"application/json": {"schema": ref("Reason")}}}

SCHEMAS.update({
    "Licence": {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "dealer": {"type": "object"},
        "valid_from": _DAY, "valid_to": _DAY, "annual_quota_g": GRAMS,
        "activities": {"type": "array", "items": {"type": "string"}},
        "status": {"enum": [s.value for s in LicenseStatus]}, "status_reason": {"type": ["string", "null"]},
        "issued_at": {"type": "string", "format": "date-time"},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "action": {"enum": ["issued", "suspended", "reinstated", "revoked", "expired"]},
            "at": {"type": "string", "format": "date-time"}, "by": {"type": "string"},
            "reason": {"type": "string"}}}}}},
    "NewLicence": {"type": "object", "required": ["dealer_id", "number", "valid_from", "valid_to",
                                                  "annual_quota_g", "activities"], "properties": {
        "dealer_id": {"type": "integer"}, "number": {"type": "string", "maxLength": 40},
        "valid_from": _DAY, "valid_to": _DAY, "annual_quota_g": GRAMS,
        "activities": {"type": "array", "items": {"enum": ["production", "import", "export", "domestic_trade",
                                                           "transit", "storage", "use"]}},
        "reason": {"type": "string"}}},
    "Dealer": {"type": "object", "properties": {
        "id": {"type": "integer"}, "legal_name": {"type": "string"}, "country": {"type": "string"},
        "taxpayer_number": {"type": "string"}, "address": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "licences": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "status": {"enum": [s.value for s in LicenseStatus]}, "valid_from": _DAY, "valid_to": _DAY}}}}},
    "NewDealer": {"type": "object", "required": ["legal_name", "taxpayer_number", "address", "licence"],
                  "description": "a domestic dealer (country KG) and its first licence, registered together",
                  "properties": {
        "legal_name": {"type": "string", "maxLength": 200},
        "taxpayer_number": {"type": "string", "pattern": "^[012][0-9]{13}$",
                            "description": "the 14-digit INN: 0 (legal person) or 1/2, DDMMYYYY, 5 digits"},
        "address": {"type": "string", "maxLength": 500},
        "licence": {"type": "object", "required": ["number", "valid_from", "valid_to", "annual_quota_g",
                                                   "activities"], "properties": {
            "number": {"type": "string", "maxLength": 40}, "valid_from": _DAY, "valid_to": _DAY,
            "annual_quota_g": GRAMS, "activities": {"type": "array", "items": {"enum": [a.value for a in Activity]}},
            "reason": {"type": "string"}}}}},
    "Reason": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    "ImportApproval": {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "importer": {"type": "object"},
        "exporter_name": {"type": "string"}, "exporter_country": {"type": "string"},
        "quantity_g": GRAMS, "declared_g": {"type": "integer"}, "remaining_g": {"type": "integer"},
        "intended_use": {"type": "string"}, "source_not_primary_mining": {"type": "boolean"},
        "source_statement": {"type": "string"}, "valid_until": _DAY, "status": {"type": "string"},
        "issued_at": {"type": "string", "format": "date-time"}}},
    "NewImportApproval": {"type": "object", "required": [
        "number", "importer_id", "exporter_name", "exporter_country", "quantity_g", "intended_use",
        "source_not_primary_mining", "source_statement", "valid_until"], "properties": {
        "number": {"type": "string"}, "importer_id": {"type": "integer"},
        "exporter_name": {"type": "string"}, "exporter_country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "quantity_g": GRAMS, "intended_use": {"type": "string"},
        "source_not_primary_mining": {"const": True, "description": "the Art. 3 statement of source"},
        "source_statement": {"type": "string"}, "valid_until": _DAY}},
    "ExportConsent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "exporter": {"type": "object"},
        "importer_name": {"type": "string"}, "importer_country": {"type": "string"},
        "quantity_g": GRAMS, "declared_g": {"type": "integer"}, "remaining_g": {"type": "integer"},
        "intended_use": {"type": "string"}, "valid_until": _DAY, "status": {"type": "string"},
        "issued_at": {"type": "string", "format": "date-time"}}},
    "NewExportConsent": {"type": "object", "required": [
        "number", "exporter_id", "importer_name", "importer_country", "quantity_g", "intended_use",
        "valid_until"], "properties": {
        "number": {"type": "string"}, "exporter_id": {"type": "integer"},
        "importer_name": {"type": "string"}, "importer_country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "quantity_g": GRAMS, "intended_use": {"type": "string"}, "valid_until": _DAY}},
})


def _licence_change(summary: str) -> dict[str, Any]:
    return {"post": op(summary, {"200": json_response(ref("Licence"), "The licence"),
                                 **error_responses(401, 403, 404, 409, 415, 422)},
                       parameters=_ID, requestBody=_REASON_BODY)}


PATHS.update({
    "/licences": {
        "get": op("Licences visible to the user (a trader: its own)", {
            "200": json_response(page_of("Licence"), "A page"), **error_responses(401, 422)},
            parameters=PAGING + [
                {"name": "status", "in": "query", "schema": {"enum": [s.value for s in LicenseStatus]}},
                {"name": "dealer_id", "in": "query", "schema": ROW_ID}]),
        "post": op("Issue a licence (licensing admin)", {
            "201": json_response(ref("Licence"), "Issued"), **error_responses(401, 403, 415, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewLicence")}}}),
    },
    "/dealers": {"post": op("Register a domestic dealer with its first licence (licensing admin)", {
        "201": json_response(ref("Dealer"), "Registered"), **error_responses(401, 403, 415, 422)},
        requestBody={"required": True, "content": {"application/json": {"schema": ref("NewDealer")}}})},
    "/licences/{licence_id}": {"get": op("One licence with its history", {
        "200": json_response(ref("Licence"), "The licence"), **error_responses(401, 404)}, parameters=_ID)},
    "/licences/{licence_id}/suspend": _licence_change(
        "Suspend a licence (licensing admin); alerts on the dealer's shipments in transit"),
    "/licences/{licence_id}/reinstate": _licence_change("Reinstate a suspended licence (licensing admin)"),
    "/licences/{licence_id}/revoke": _licence_change(
        "Revoke a licence (licensing admin); alerts on the dealer's shipments in transit"),
    "/import-approvals": {
        "get": op("Import approvals visible to the user, with the quantity remaining", {
            "200": json_response(page_of("ImportApproval"), "A page"), **error_responses(401)},
            parameters=PAGING),
        "post": op("Record an import approval, Minamata Art. 3 consent (licensing admin)", {
            "201": json_response(ref("ImportApproval"), "Recorded"), **error_responses(401, 403, 415, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewImportApproval")}}}),
    },
    "/export-consents": {
        "get": op("Export consents visible to the user, with the quantity remaining", {
            "200": json_response(page_of("ExportConsent"), "A page"), **error_responses(401)},
            parameters=PAGING),
        "post": op("Record the importing country's consent to an export, Minamata Art. 3(6) (licensing admin)", {
            "201": json_response(ref("ExportConsent"), "Recorded"), **error_responses(401, 403, 415, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewExportConsent")}}}),
    },
})
