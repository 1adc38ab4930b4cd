"""API views: each translates HTTP to one domain call and the result to JSON."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select, text

from tracker.domain.access import (
    Action,
    alert_filter,
    container_filter,
    declaration_filter,
)
from tracker.domain.containers import find_container, register_container
from tracker.domain.custody import container_for_station, open_declaration, station_answer
from tracker.domain.declarations import create_draft, find_declaration
from tracker.domain.errors import ValidationFailed
from tracker.models import (
    Alert,
    AlertStatus,
    Checkpoint,
    Container,
    CustodyKind,
    Declaration,
    DeclarationStatus,
    utcnow,
)
from tracker.web.api import bp
from tracker.web.api.custody import window_tolerance
from tracker.web.api.devices import bearer_device
from tracker.web.api.requests import draft_input, enum_arg, json_body, paginate
from tracker.web.api.scans import check_json
from tracker.web.api.serialize import (
    alert_json,
    checkpoint_json,
    container_json,
    declaration_json,
    open_declaration_json,
    user_json,
)
from tracker.web.auth import (
    acting_user,
    limit_failed_sign_ins,
    requires,
    sign_in,
    sign_out,
    too_many_attempts,
    try_sign_in,
)
from tracker.web.database import get_session
from tracker.web.errors import error_response

@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    """Answer whether the API and its database respond."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.post("/session")
@limit_failed_sign_ins
def open_session():  # type: ignore[no-untyped-def]
    """Sign in with login and password; the session cookie authenticates later calls."""
    data = json_body()
    outcome = try_sign_in(str(data.get("login", "")), str(data.get("password", "")))
    if outcome.retry_after:
        return too_many_attempts(outcome.retry_after)
    if outcome.user is None:
        return error_response(401, "unauthorized", "unknown login or wrong password")
    sign_in(outcome.user)
    return jsonify(user_json(outcome.user))


@bp.delete("/session")
@login_required
def close_session():  # type: ignore[no-untyped-def]
    """Sign out: end this session and every other session of the user."""
    sign_out()
    return "", 204


@bp.get("/me")
@login_required
def me():  # type: ignore[no-untyped-def]
    """Return the signed-in account."""
    return jsonify(user_json(acting_user()))


@bp.get("/declarations")
@login_required
def list_declarations():  # type: ignore[no-untyped-def]
    """List the declarations the user may see, newest first, optionally by status."""
    query = select(Declaration).where(declaration_filter(acting_user()))
    status = enum_arg("status", DeclarationStatus)
    if status is not None:
        query = query.where(Declaration.status == status)
    if reference := request.args.get("reference"):
        query = query.where(Declaration.reference == reference.strip().upper())
    return jsonify(paginate(query.order_by(Declaration.id.desc()), declaration_json))


@bp.get("/declarations/<int:declaration_id>")
@login_required
def get_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Return one declaration in full (404 when outside the user's view)."""
    record = find_declaration(get_session(), acting_user(), declaration_id)
    return jsonify(declaration_json(record, full=True))


@bp.post("/declarations")
@requires(Action.DECLARE)
def post_declaration():  # type: ignore[no-untyped-def]
    """Create a draft declaration for the trader's dealer."""
    db = get_session()
    record = create_draft(db, acting_user(), draft_input(json_body()))
    db.commit()
    return jsonify(declaration_json(record, full=True)), 201


@bp.get("/containers")
@login_required
def list_containers():  # type: ignore[no-untyped-def]
    """List the containers the user may see, by SSCC."""
    query = select(Container).where(container_filter(acting_user())).order_by(Container.sscc)
    return jsonify(paginate(query, container_json))


@bp.get("/containers/<sscc>")
def get_container(sscc: str):  # type: ignore[no-untyped-def]
    """Return one container by SSCC with its open declaration (404 when outside the user's view).

    A checkpoint station's bearer token may ask too (custody.py documents it).
    """
    db = get_session()
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        device = bearer_device()
        if device is None:
            return error_response(401, "unauthorized", "a valid station bearer token is required")
        container = container_for_station(db, device, sscc)
        kind = enum_arg("kind", CustodyKind)
        if kind is not None:  # the station asks what the check says of its event here, now
            answer = station_answer(db, device, container, kind, utcnow(), window_tolerance())
            return jsonify({**container_json(container), "custody_check": check_json(kind, device.checkpoint, answer),
                            "declaration": open_declaration_json(open_declaration(db, container.id))})
    elif current_user.is_authenticated:
        container = find_container(db, acting_user(), sscc)
    else:
        return error_response(401, "unauthorized", "sign in first")
    return jsonify({**container_json(container),
                    "declaration": open_declaration_json(open_declaration(db, container.id))})


@bp.post("/containers")
@requires(Action.REGISTER_CONTAINER)
def post_container():  # type: ignore[no-untyped-def]
    """Register a container for the trader's dealer."""
    data = json_body()
    fields = ("sscc", "container_type", "tare_g", "capacity_g", "net_g")
    missing = {f: "required" for f in fields if data.get(f) is None}
    if missing:
        raise ValidationFailed(missing)
    db = get_session()
    record = register_container(
        db, acting_user(), sscc=str(data["sscc"]), container_type=str(data["container_type"]),
        tare_g=data["tare_g"], capacity_g=data["capacity_g"], net_g=data["net_g"],
        seal_number=data.get("seal_number"),
    )
    db.commit()
    return jsonify(container_json(record)), 201


@bp.get("/alerts")
@login_required
def list_alerts():  # type: ignore[no-untyped-def]
    """List the alerts the user may see, newest first, optionally by status."""
    query = select(Alert).where(alert_filter(acting_user()))
    status = enum_arg("status", AlertStatus)
    if status is not None:
        query = query.where(Alert.status == status)
    return jsonify(paginate(query.order_by(Alert.opened_at.desc()), alert_json))


@bp.get("/checkpoints")
@login_required
def list_checkpoints():  # type: ignore[no-untyped-def]
    """List every checkpoint (public reference data for signed-in users)."""
    return jsonify(paginate(select(Checkpoint).order_by(Checkpoint.code), checkpoint_json))
