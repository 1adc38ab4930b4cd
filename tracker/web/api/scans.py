"""Phone photos of container labels, decoded on the server.

``POST /api/v1/scans`` is the API's one multipart write (see ``MULTIPART_ENDPOINTS`` in
``tracker.web.api``): the photo is read from the form field ``photo``; the client's file
name and content type are ignored. ``POST /api/v1/scans/codes`` takes the codes a phone's live
viewfinder decoded (JSON), judged by the same GS1 rules, with each declaration's loading progress.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, jsonify, request
from flask_login import login_required

from tracker.domain.custody_check import CustodyAnswer, Verdict
from tracker.domain.errors import ValidationFailed
from tracker.domain.loading import Loading, loading_of
from tracker.domain.scans import (
    MAX_CODE_TEXT,
    MAX_CODES,
    MAX_PHOTO_BYTES,
    PhotoScan,
    ScannedContainer,
    examine_codes,
    examine_photo,
    viewfinder_code,
)
from tracker.models import Checkpoint, CustodyKind
from tracker.web.api import bp
from tracker.web.api.custody import window_tolerance
from tracker.web.api.requests import json_body
from tracker.web.api.openapi import PATHS, SCHEMAS, error_responses, json_response, op, ref
from tracker.web.api.serialize import container_json, declaration_json
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.errors import error_response


def photo_dir() -> Path:
    """Return the folder where re-encoded photos are kept (``<instance>/photos``)."""
    return Path(current_app.instance_path) / "photos"


@bp.post("/scans")
@login_required
def post_scan():  # type: ignore[no-untyped-def]
    """Decode an officer's photo and answer with the containers on it and their declarations."""
    upload = request.files.get("photo")
    if upload is None:
        raise ValidationFailed({"photo": "send the photo as the multipart/form-data field 'photo'"})
    data = upload.stream.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        return error_response(413, "payload_too_large", f"the photo is over the limit of {MAX_PHOTO_BYTES} bytes")
    scan = examine_photo(get_session(), acting_user(), data, photo_dir(), window_tolerance())
    return jsonify(scan_json(scan))


@bp.post("/scans/codes")
@login_required
def post_scan_codes():  # type: ignore[no-untyped-def]
    """Judge the codes a phone's viewfinder read: the containers, their declarations, the loading progress."""
    found = examine_codes(get_session(), acting_user(), _codes(json_body()), window_tolerance())
    progress = loading_of(get_session(), {c.declaration.id for c in found if c.declaration is not None})
    return jsonify({"containers": [_scanned_json(c) for c in found],
                    "loading": [_loading_json(i, progress[i]) for i in sorted(progress)]})


def _codes(data: dict[str, Any]) -> list[Any]:
    """Read ``codes`` ([{text, format, symbology_identifier}]) or refuse the body (422) naming what is wrong."""
    codes = data.get("codes")
    if not isinstance(codes, list) or not 0 < len(codes) <= MAX_CODES:
        raise ValidationFailed({"codes": f"a list of 1 to {MAX_CODES} codes"})
    read = []
    for n, code in enumerate(codes):
        fields = code if isinstance(code, dict) else {}
        text, format_, aim = (fields.get(k, "") for k in ("text", "format", "symbology_identifier"))
        if not (isinstance(text, str) and 0 < len(text) <= MAX_CODE_TEXT and isinstance(format_, str)
                and 0 < len(format_) <= 32 and isinstance(aim, str) and len(aim) <= 3):
            raise ValidationFailed({f"codes[{n}]": f"text (1 to {MAX_CODE_TEXT} characters), format, "
                                                   "symbology_identifier (e.g. ]C1) as strings"})
        read.append(viewfinder_code(text, format_, aim))
    return read


def _loading_json(declaration_id: int, loading: Loading) -> dict[str, Any]:
    return {"declaration_id": declaration_id, "scanned": loading.scanned, "total": loading.total,
            "departed": list(loading.departed), "missing": list(loading.missing)}


def scan_json(scan: PhotoScan) -> dict[str, Any]:
    """Return the answer to a photo."""
    return {"photo_digest": scan.photo_digest, "containers": [_scanned_json(c) for c in scan.containers]}


def _scanned_json(scanned: ScannedContainer) -> dict[str, Any]:
    declaration = scanned.declaration
    return {
        "sscc": scanned.sscc, "formats": list(scanned.formats),
        "container": container_json(scanned.container) if scanned.container else None,
        "declaration": None if declaration is None else {
            **declaration_json(declaration),
            "expected_checkpoints": [e.checkpoint.code for e in declaration.expected_checkpoints]},
        "expected_here": scanned.expected_here, "declared_net_g": scanned.declared_net_g,
        "custody_check": None if scanned.check is None else check_json(*scanned.check),
    }


def check_json(kind: CustodyKind, post: Checkpoint, answer: CustodyAnswer) -> dict[str, Any]:
    """Return the custody check's answer to ``kind`` at ``post``: verdict, reasons, alerts it would open."""
    return {"kind": kind.value, "checkpoint": post.code, "verdict": answer.verdict.value,
            "reasons": [str(reason) for reason in answer.reasons],
            "alerts": [finding.alert.value for finding in answer.alerts if finding.alert]}


SCHEMAS["CustodyCheck"] = {"type": "object", "required": ["kind", "checkpoint", "verdict", "reasons", "alerts"],
                           "properties": {
    "kind": {"enum": [k.value for k in CustodyKind]}, "checkpoint": {"type": "string"},
    "verdict": {"enum": [v.value for v in Verdict]},
    "reasons": {"type": "array", "items": {"type": "string"}},
    "alerts": {"type": "array", "items": {"type": "string"}}}}
SCHEMAS["PhotoUpload"] = {"type": "object", "required": ["photo"], "properties": {
    "photo": {"type": "string", "contentMediaType": "application/octet-stream",
              "description": f"JPEG, PNG, WebP, GIF, BMP or TIFF, at most {MAX_PHOTO_BYTES} bytes; "
                             "the type is read from the bytes"}}}
SCHEMAS["ViewfinderCodes"] = {"type": "object", "required": ["codes"], "properties": {
    "codes": {"type": "array", "minItems": 1, "maxItems": MAX_CODES, "items": {
        "type": "object", "required": ["text", "format"], "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_TEXT,
                     "description": "the decoded text: a GS1 element string (FNC1 as GS, or the (AI) form) "
                                    "or a GS1 Digital Link URI"},
            "format": {"type": "string", "maxLength": 32, "description": "e.g. Code128, DataMatrix, QRCode"},
            "symbology_identifier": {"type": "string", "maxLength": 3, "description": "AIM identifier, e.g. ]C1"}}}}}}
SCHEMAS["Loading"] = {"type": "object", "required": ["declaration_id", "scanned", "total", "departed", "missing"],
                      "properties": {
    "declaration_id": {"type": "integer"},
    "scanned": {"type": "integer", "description": "containers that have departed from the origin"},
    "total": {"type": "integer", "description": "containers the declaration carries"},
    "departed": {"type": "array", "items": {"type": "string"}},
    "missing": {"type": "array", "items": {"type": "string"}}}}
SCHEMAS["ScannedContainer"] = {"type": "object", "properties": {
    "sscc": {"type": "string", "pattern": "^[0-9]{18}$"},
    "formats": {"type": "array", "items": {"type": "string"}, "description": "symbols it was read from"},
    "container": {"oneOf": [ref("Container"), {"type": "null"}], "description": "null: not registered"},
    "declaration": {"oneOf": [{"allOf": [ref("Declaration"), {"type": "object", "properties": {
        "expected_checkpoints": {"type": "array", "items": {"type": "string"}}}}]}, {"type": "null"}]},
    "expected_here": {"type": ["boolean", "null"],
                      "description": "true only when the custody check allows the proposed event "
                                     "without an alert; null: no declaration carries the container"},
    "custody_check": {"oneOf": [{"type": "null"}, ref("CustodyCheck")],
        "description": "the custody check's answer to the event proposed at the officer's post now"},
    "declared_net_g": {"type": ["integer", "null"], "description": "grams declared for this container"}}}
SCHEMAS["PhotoScan"] = {"type": "object", "required": ["photo_digest", "containers"], "properties": {
    "photo_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                     "description": "SHA-256 of the kept (re-encoded) photo; send it with the custody event"},
    "containers": {"type": "array", "items": ref("ScannedContainer")}}}
PATHS["/scans/codes"] = {"post": op(
    "Judge the codes a phone's live viewfinder read (customs officer)",
    {"200": json_response({"type": "object", "required": ["containers", "loading"], "properties": {
        "containers": {"type": "array", "items": ref("ScannedContainer")},
        "loading": {"type": "array", "items": ref("Loading")}}}, "The containers read and their declarations' loading"),
     **error_responses(401, 403, 413, 415, 422)},
    description="The browser decodes; the tracker judges the text by the same GS1 rules as a photo's codes. "
                "422 when no code is a container's SSCC or one is rejected (wrong check digit, broken GS1 data).",
    requestBody={"required": True, "content": {"application/json": {"schema": ref("ViewfinderCodes")}}})}
PATHS["/scans"] = {"post": op(
    "Decode a phone photo of container labels (customs officer)",
    {"200": json_response(ref("PhotoScan"), "The containers on the photo"),
     **error_responses(401, 403, 413, 415, 422)},
    description="multipart/form-data with the field `photo`. 422 names what is wrong: not an image, corrupt, "
                "no barcode, no SSCC, or an SSCC whose check digit is wrong (the label is rejected).",
    requestBody={"required": True, "content": {"multipart/form-data": {"schema": ref("PhotoUpload")}}})}
