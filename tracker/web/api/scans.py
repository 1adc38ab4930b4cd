"""Phone photos of container labels, decoded on the server.

``POST /api/v1/scans`` is the API's one multipart write (see ``MULTIPART_ENDPOINTS`` in
``tracker.web.api``): the photo is read from the form field ``photo``; the client's file
name and content type are ignored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, jsonify, request
from flask_login import login_required

from tracker.domain.custody_check import CustodyAnswer, Verdict
from tracker.domain.errors import ValidationFailed
from tracker.domain.scans import MAX_PHOTO_BYTES, PhotoScan, ScannedContainer, examine_photo
from tracker.models import Checkpoint, CustodyKind
from tracker.web.api import bp
from tracker.web.api.custody import window_tolerance
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
SCHEMAS["PhotoScan"] = {"type": "object", "required": ["photo_digest", "containers"], "properties": {
    "photo_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                     "description": "SHA-256 of the kept (re-encoded) photo; send it with the custody event"},
    "containers": {"type": "array", "items": {"type": "object", "properties": {
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
        "declared_net_g": {"type": ["integer", "null"], "description": "grams declared for this container"}}}}}}
PATHS["/scans"] = {"post": op(
    "Decode a phone photo of container labels (customs officer)",
    {"200": json_response(ref("PhotoScan"), "The containers on the photo"),
     **error_responses(401, 403, 413, 415, 422)},
    description="multipart/form-data with the field `photo`. 422 names what is wrong: not an image, corrupt, "
                "no barcode, no SSCC, or an SSCC whose check digit is wrong (the label is rejected).",
    requestBody={"required": True, "content": {"multipart/form-data": {"schema": ref("PhotoUpload")}}})}
