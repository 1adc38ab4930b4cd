"""The ``Idempotency-Key`` header on API POSTs: a retried request gets the saved answer.

Same key (per signed-in user or device token) and same request (path and body) →
the saved status and body, with ``Idempotent-Replayed: true``. Same key with a
different request → 422. Answers of 5xx are not kept (the request may be retried).
The answer is saved after the view has committed its own work, so in the rare case
that saving fails, a retry runs the request again: writes that must never happen
twice carry their own id as well (custody events: ``client_event_id``).
"""
from __future__ import annotations

from flask import Response, g, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from tracker.domain.replies import MAX_KEY_LENGTH, find_reply, request_digest, save_reply
from tracker.web.api import bp
from tracker.web.api.devices import bearer_device
from tracker.web.database import get_session
from tracker.web.errors import error_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _scope() -> str | None:
    """Return who is asking (``device:N`` or ``user:N``), or None when nobody is signed in."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        device = bearer_device()
        return f"device:{device.id}" if device is not None else None
    if current_user.is_authenticated:
        return f"user:{current_user.user.id}"
    return None


@bp.before_request
def _replay_idempotent_request():  # type: ignore[no-untyped-def]
    """Answer a retried POST from the saved reply, or remember to save this one's."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    key = key.strip()
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        return error_response(422, "validation_failed", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters",
                              fields={HEADER: f"1 to {MAX_KEY_LENGTH} characters"})
    scope = _scope()
    if scope is None:
        return None  # the view answers 401
    digest = request_digest(request.method, request.full_path, request.mimetype, request.get_data())
    reply = find_reply(get_session(), scope, key)
    if reply is None:
        g.idempotency = (scope, key, digest)
        return None
    if reply.request_digest != digest:
        return error_response(422, "validation_failed", f"this {HEADER} was used for a different request",
                              fields={HEADER: "already used for a different request: use a new key"})
    return Response(reply.body, status=reply.status_code, mimetype="application/json",
                    headers={REPLAYED_HEADER: "true"})


@bp.after_request
def _save_idempotent_reply(response: Response) -> Response:
    """Save the answer of a POST that carried an Idempotency-Key (not 5xx)."""
    pending = g.pop("idempotency", None)
    if pending is None or response.status_code >= 500:
        return response
    session = get_session()
    if response.status_code >= 400:
        session.rollback()  # a refused request may have left half-done work in the session
    try:
        save_reply(session, *pending, response.status_code, response.get_data(as_text=True))
        session.commit()
    except IntegrityError:
        session.rollback()  # the same key was answered concurrently; that reply stands
    return response
