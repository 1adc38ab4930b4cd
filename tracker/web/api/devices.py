"""Device authentication: beacons and checkpoint stations present a bearer token."""
from __future__ import annotations

from flask import jsonify, request

from tracker.domain.tokens import authenticate_token
from tracker.models import DeviceToken
from tracker.web.api import MUTATING, bp
from tracker.web.database import get_session
from tracker.web.errors import error_response


def bearer_device() -> DeviceToken | None:
    """Return the live device token of this request's ``Authorization: Bearer`` header."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    # Only requests that write (and the identity check, which commits) record the token's use.
    record_use = request.method in MUTATING or request.endpoint == "api.device_identity"
    return authenticate_token(get_session(), token.strip(), record_use=record_use)


@bp.get("/device")
def device_identity():  # type: ignore[no-untyped-def]
    """Tell a device what its token stands for, so it can check its configuration."""
    device = bearer_device()
    if device is None:
        response, status = error_response(401, "unauthorized", "a valid device bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mercury-tracking"'
        return response, status
    get_session().commit()  # keep last_used_at
    return jsonify({
        "kind": device.kind.value, "name": device.name,
        "beacon": device.beacon.device_id if device.beacon else None,
        "checkpoint": device.checkpoint.code if device.checkpoint else None,
    })
