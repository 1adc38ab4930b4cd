"""The bell for other programs: ``GET /notifications`` and marking them read."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import login_required

from tracker.domain.notifications import inbox
from tracker.models import Channel, DeliveryState, Notification
from tracker.web.api import bp
from tracker.web.api.openapi import PAGING, PATHS, ROW_ID, SCHEMAS, error_responses, json_response, op, page_of, ref
from tracker.web.api.requests import paginate
from tracker.web.api.serialize import alert_json, iso
from tracker.web.auth import acting_user
from tracker.web.database import get_session


def notification_json(notification: Notification) -> dict[str, Any]:
    """Return a notification with its alert and how it went out by e-mail and webhook."""
    return {
        "id": notification.id, "created_at": iso(notification.created_at), "read_at": iso(notification.read_at),
        "alert": alert_json(notification.alert),
        "deliveries": [{"channel": m.channel.value, "state": m.state.value, "attempts": m.attempts,
                        "next_attempt_at": iso(m.next_attempt_at) if m.state == DeliveryState.PENDING else None,
                        "sent_at": iso(m.sent_at), "last_error": m.last_error or None}
                       for m in notification.deliveries],
    }


@bp.get("/notifications")
@login_required
def list_notifications():  # type: ignore[no-untyped-def]
    """The signed-in user's notifications, newest first (``?unread=true``: only unread)."""
    unread_only = request.args.get("unread") in ("1", "true")
    body = paginate(inbox.notifications_of(acting_user(), unread_only), notification_json)
    body["unread"] = inbox.unread_count(get_session(), acting_user())
    return jsonify(body)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_notification_read(notification_id: int):  # type: ignore[no-untyped-def]
    """Mark one of the user's notifications read (again: unchanged)."""
    db = get_session()
    notification = inbox.mark_read(db, acting_user(), notification_id)
    db.commit()
    return jsonify(notification_json(notification))


SCHEMAS["Notification"] = {"type": "object", "required": ["id", "created_at", "read_at", "alert", "deliveries"],
                           "properties": {
    "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
    "read_at": {"type": ["string", "null"], "format": "date-time"}, "alert": ref("Alert"),
    "deliveries": {"type": "array", "description": "e-mail and webhook messages (the portal's bell always has it)",
                   "items": {"type": "object", "required": ["channel", "state", "attempts"], "properties": {
        "channel": {"enum": [c.value for c in Channel]}, "state": {"enum": [s.value for s in DeliveryState]},
        "attempts": {"type": "integer", "minimum": 0},
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "last_error": {"type": ["string", "null"]}}}}}}
PATHS["/notifications"] = {"get": op(
    "The signed-in user's notifications of alerts, newest first, with their delivery states",
    {"200": json_response({"allOf": [page_of("Notification"), {"type": "object", "required": ["unread"],
                                                               "properties": {"unread": {"type": "integer"}}}]},
                          "A page, and how many are unread"), **error_responses(401, 422)},
    parameters=PAGING + [{"name": "unread", "in": "query", "schema": {"enum": ["true", "false", "1", "0"]}}])}
PATHS["/notifications/{notification_id}/read"] = {"post": op(
    "Mark a notification read",
    {"200": json_response(ref("Notification"), "The notification"), **error_responses(401, 404)},
    parameters=[{"name": "notification_id", "in": "path", "required": True, "schema": ROW_ID}])}
