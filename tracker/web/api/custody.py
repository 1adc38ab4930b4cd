"""Custody events from officers and checkpoint stations (idempotent on client event id).

``POST /custody-events`` answers 201 with the receipt the first time and 200 with the
very same JSON when the same event (same ``client_event_id``, same content) comes
again; the same id with different content is refused with 409.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Response, current_app, request
from flask_login import current_user
from sqlalchemy import select

from tracker.domain.access import custody_event_filter
from tracker.domain.custody import (
    Recorder,
    alerts_of_events,
    custody_events,
    event_alerts,
    find_custody_event,
    record_custody_event,
)
from tracker.domain.errors import NotFound
from tracker.domain.replies import find_reply, save_reply
from tracker.models import Alert, CustodyEvent, CustodyKind, Declaration
from tracker.web.api import bp
from tracker.web.api.devices import bearer_device
from tracker.web.api.openapi import PAGING, PATHS, ROW_ID, SCHEMAS, error_responses, json_response, op, page_of, ref
from tracker.web.api.requests import id_arg, json_body, paginate
from tracker.web.api.serialize import iso
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.errors import error_response

#: Replies to custody events are kept under this scope, keyed by client event id.
RECEIPT_SCOPE = "custody-event"


def window_tolerance() -> timedelta:
    """Return how far outside its planned window a departure may be without an override (the setting)."""
    return timedelta(hours=current_app.config["SETTINGS"].custody_window_tolerance_h)


def _recorder() -> Recorder | None:
    """Return the station token of the request, else the signed-in user, else None."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return bearer_device()
    return acting_user() if current_user.is_authenticated else None


def _unauthorised():  # type: ignore[no-untyped-def]
    response, status = error_response(401, "unauthorized", "sign in as a customs officer or send a "
                                                           "station's bearer token")
    response.headers["WWW-Authenticate"] = 'Bearer realm="mercury-tracking"'
    return response, status


def custody_receipt(event: CustodyEvent, alerts: list[Alert]) -> dict[str, Any]:
    """Return the answer to a recorded custody event (the station contract)."""
    declaration: Declaration | None = event.declaration
    return {
        "id": event.id, "client_event_id": event.client_event_id, "sscc": event.sscc,
        "checkpoint": event.checkpoint.code, "kind": CustodyKind(event.kind).value,
        "event_time": iso(event.event_time),
        "declaration": None if declaration is None else {
            "id": declaration.id, "reference": declaration.reference, "status": declaration.status.value},
        "alerts": [{"id": a.id, "kind": a.kind, "severity": a.severity.value} for a in alerts],
        "row_hash": event.row_hash,
    }


def custody_event_json(event: CustodyEvent, alerts: list[Alert]) -> dict[str, Any]:
    """Return a custody event in full, with the alerts it opened."""
    return {
        **custody_receipt(event, alerts),
        "event_time_zone": event.event_time_zone, "recorded_at": iso(event.recorded_at),
        "seal_intact": event.seal_intact, "measured_net_g": event.measured_net_g,
        "from_party_id": event.from_party_id, "to_party_id": event.to_party_id,
        "recorded_by": "station" if event.device_token_id else "officer", "device": event.device,
        "photo_digest": event.photo_digest, "remarks": event.remarks, "lat": event.lat, "lon": event.lon,
        "prev_hash": event.prev_hash,
    }


def custody_events_json(events: list[CustodyEvent]) -> list[dict[str, Any]]:
    """Return a page of custody events in full, their alerts read in one query."""
    alerts = alerts_of_events(get_session(), [e.id for e in events])
    return [custody_event_json(e, alerts.get(e.id, [])) for e in events]


def _json(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="application/json")


@bp.post("/custody-events")
def post_custody_event():  # type: ignore[no-untyped-def]
    """Record a custody event; a replay of the same event gets the first answer again (200)."""
    recorder = _recorder()
    if recorder is None:
        return _unauthorised()
    data = json_body()
    db = get_session()
    db.commit()  # the chain lock must open a fresh transaction (SQLite takes the write lock there)
    outcome = record_custody_event(db, recorder, data, window_tolerance=window_tolerance())
    event = outcome.event
    if not outcome.created:
        saved = find_reply(db, RECEIPT_SCOPE, event.client_event_id)
        body = saved.body if saved else json.dumps(custody_receipt(event, event_alerts(db, event)))
        db.rollback()
        return _json(body, 200)
    body = json.dumps(custody_receipt(event, outcome.alerts))
    save_reply(db, RECEIPT_SCOPE, event.client_event_id, event.row_hash, 201, body)
    db.commit()
    return _json(body, 201)


@bp.get("/custody-events")
def list_custody_events():  # type: ignore[no-untyped-def]
    """List custody events, newest first, by container, declaration or checkpoint."""
    if not current_user.is_authenticated:
        return _unauthorised()
    query = custody_events(acting_user(), sscc=request.args.get("sscc"), checkpoint=request.args.get("checkpoint"),
                           declaration_id=id_arg("declaration_id"))
    page = paginate(query, lambda event: event)
    return {**page, "items": custody_events_json(page["items"])}


@bp.get("/custody-events/<int:event_id>")
def get_custody_event(event_id: int):  # type: ignore[no-untyped-def]
    """Return one custody event (404 when outside the user's view)."""
    if not current_user.is_authenticated:
        return _unauthorised()
    db = get_session()
    event = find_custody_event(db, event_id)
    if db.scalar(select(CustodyEvent.id).where(CustodyEvent.id == event_id,
                                               custody_event_filter(acting_user()))) is None:
        raise NotFound(f"no custody event {event_id}")
    return custody_event_json(event, event_alerts(db, event))


SCHEMAS.update({
    "NewCustodyEvent": {"type": "object", "required": ["client_event_id", "sscc", "kind", "seal_intact",
                                                       "event_time"], "properties": {
        "client_event_id": {"type": "string", "maxLength": 64,
                            "description": "the station's own id of the event: a replay is recognised by it"},
        "sscc": {"type": "string", "pattern": "^[0-9]{18}$"},
        "checkpoint": {"type": "string", "description": "checkpoint code; a station token defaults to "
                                                        "its own and may not name another"},
        "kind": {"enum": [k.value for k in CustodyKind]},
        "seal_intact": {"type": "boolean"},
        "event_time": {"type": "string", "format": "date-time", "description": (
            "with its UTC offset (within ±14:00); within the last 30 days and at most 5 minutes ahead")},
        "measured_net_g": {"type": "integer", "minimum": 1},
        "from_party_id": {"type": "integer"}, "to_party_id": {"type": "integer"},
        "device": {"type": "string", "maxLength": 120},
        "photo_digest": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "SHA-256 of the photo"},
        "remarks": {"type": "string", "maxLength": 2000},
        "lat": {"type": "number"}, "lon": {"type": "number"},
        "override_window": {"type": "boolean", "description": "a departure outside the planned window, "
                                                              "confirmed on purpose (opens an alert)"},
        "override_reason": {"type": "string", "maxLength": 2000, "description": "required with override_window"},
        "partial_departure": {"type": "boolean", "description": "move the declaration to in transit although "
                                                                "containers are missing (opens an alert)"},
        "partial_reason": {"type": "string", "maxLength": 2000, "description": "required with partial_departure"}}},
    "CustodyReceipt": {"type": "object", "required": ["id", "client_event_id", "sscc", "checkpoint", "kind",
                                                      "event_time", "declaration", "alerts", "row_hash"],
                       "properties": {
        "id": {"type": "integer"}, "client_event_id": {"type": "string"}, "sscc": {"type": "string"},
        "checkpoint": {"type": "string"}, "kind": {"enum": [k.value for k in CustodyKind]},
        "event_time": {"type": "string", "format": "date-time"},
        "declaration": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "id": {"type": "integer"}, "reference": {"type": ["string", "null"]}, "status": {"type": "string"}}}]},
        "alerts": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "severity": {"type": "string"}}}},
        "row_hash": {"type": "string", "description": "SHA-256 linking the event into the custody chain"}}},
    "CustodyEvent": {"allOf": [ref("CustodyReceipt"), {"type": "object", "properties": {
        "event_time_zone": {"type": "string"}, "recorded_at": {"type": "string", "format": "date-time"},
        "seal_intact": {"type": "boolean"}, "measured_net_g": {"type": ["integer", "null"]},
        "from_party_id": {"type": ["integer", "null"]}, "to_party_id": {"type": ["integer", "null"]},
        "recorded_by": {"enum": ["station", "officer"]}, "device": {"type": "string"},
        "photo_digest": {"type": ["string", "null"]}, "remarks": {"type": "string"},
        "lat": {"type": ["number", "null"]}, "lon": {"type": ["number", "null"]},
        "prev_hash": {"type": ["string", "null"]}}}]},
})

PATHS["/custody-events"] = {
    "post": op(
        "Record a custody event (customs officer session or station bearer token)",
        {"201": json_response(ref("CustodyReceipt"), "Recorded; rules that found something opened alerts"),
         "200": json_response(ref("CustodyReceipt"), "The same event again: the first answer, unchanged"),
         **error_responses(401, 403, 409, 415, 422)},
        description="The custody check answers first: 403 when the officer is not posted at the checkpoint, "
                    "409 `custody_refused` with every reason (status, licence, window, already recorded); "
                    "nothing is stored then.",
        security=[{"session": []}, {"device": []}],
        requestBody={"required": True, "content": {"application/json": {"schema": ref("NewCustodyEvent")}}}),
    "get": op("Custody events visible to the user, newest first",
              {"200": json_response(page_of("CustodyEvent"), "A page"), **error_responses(401, 422)},
              parameters=PAGING + [{"name": n, "in": "query", "schema": s} for n, s in (
                  ("sscc", {"type": "string"}), ("checkpoint", {"type": "string"}), ("declaration_id", ROW_ID))]),
}
PATHS["/custody-events/{event_id}"] = {"get": op(
    "One custody event", {"200": json_response(ref("CustodyEvent"), "Event"), **error_responses(401, 404)},
    parameters=[{"name": "event_id", "in": "path", "required": True, "schema": ROW_ID}])}

# GET /containers/{sscc} (routes.py) also answers station tokens and names the open declaration.
SCHEMAS["ContainerWithDeclaration"] = {"allOf": [ref("Container"), {"type": "object", "properties": {
    "declaration": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
        "id": {"type": "integer"}, "reference": {"type": ["string", "null"]}, "status": {"type": "string"},
        "origin": {"type": "string"}, "destination": {"type": "string"},
        "expected_checkpoints": {"type": "array", "items": {"type": "string"}}}}],
        "description": "the approved, moving or arrived declaration carrying the container"},
    "custody_check": {**ref("CustodyCheck"), "description": "a station that asks with `?kind=`: the custody "
                      "check's answer to that event at the station's checkpoint now"}}}]}
PATHS["/containers/{sscc}"]["get"].update(
    parameters=[*PATHS["/containers/{sscc}"]["get"].get("parameters", []),
                {"name": "kind", "in": "query", "required": False, "schema": {"enum": [k.value for k in CustodyKind]},
                 "description": "station tokens only: the event kind to check at the station's checkpoint"}],
    responses={"200": json_response(ref("ContainerWithDeclaration"), "Container"), **error_responses(401, 403, 404, 422)},
    security=[{"session": []}, {"device": []}])
