"""The JSON API under /api/v1, documented at /api/v1/openapi.json."""
from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_wtf.csrf import CSRFProtect

from tracker.web.errors import error_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


#: Writes that take a file upload (multipart/form-data) instead of JSON: endpoint -> why.
MULTIPART_ENDPOINTS = {
    "api.post_scan": "an officer's phone photo of a container label (tracker/web/api/scans.py)",
}


#: Writes that take a raw file body of these media types instead of JSON: endpoint -> types.
#: A cross-site form cannot send these types (they would need a CORS preflight).
RAW_FILE_ENDPOINTS = {
    "api.upload_route": frozenset({"application/gpx+xml", "application/xml"}),  # GPX route (lifecycle.py)
    "api.import_customs_records": frozenset({"text/csv"}),  # customs border-crossing dataset (reports.py)
}


def _upload_allowed() -> bool:
    """Tell whether this write is a file upload to an endpoint that takes one."""
    if request.mimetype in RAW_FILE_ENDPOINTS.get(request.endpoint or "", ()):
        return True
    return request.endpoint in MULTIPART_ENDPOINTS and request.mimetype == "multipart/form-data"


def _foreign_origin() -> bool:
    """Tell whether a browser says the request comes from another site (Origin names another host).

    A cross-site HTML form can post multipart (not JSON), so uploads check this besides the
    SameSite=Lax session cookie, which a cross-site POST does not carry.
    """
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") != request.host_url.rstrip("/")


@bp.before_request
def _require_json_body():  # type: ignore[no-untyped-def]
    """Refuse non-JSON writes: a cross-site form cannot send application/json without CORS."""
    if request.method in MUTATING and request.content_length and not request.is_json \
            and not _upload_allowed():
        return error_response(415, "unsupported_media_type", "send the body as application/json")
    if request.method in MUTATING and (request.headers.get("Sec-Fetch-Site") == "cross-site"
                                       or (_upload_allowed() and _foreign_origin())):
        return error_response(403, "forbidden", "cross-site requests are refused")
    return None


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    """Register the API blueprint; it authenticates by session and refuses cross-site writes."""
    from tracker.web.api import (  # noqa: F401  (register the views on bp)
        audit, custody, devices, exports, idempotency, licensing, lifecycle, notifications, openapi, register,
        reports, routes, scans,
    )

    openapi.complete(openapi.PATHS)
    csrf.exempt(bp)
    app.register_blueprint(bp)
