"""API views: each translates HTTP to one domain call and the result to JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request
from flask_login import current_user, login_required, logout_user
from sqlalchemy import Select, func, select, text

from tracker.domain.access import (
    Action,
    alert_filter,
    container_filter,
    declaration_filter,
)
from tracker.domain.containers import find_container, register_container
from tracker.domain.custody import container_for_station, open_declaration
from tracker.domain.declarations import DraftInput, create_draft, find_declaration
from tracker.domain.errors import ValidationFailed
from tracker.domain.users import authenticate
from tracker.models import (
    Alert,
    AlertStatus,
    Checkpoint,
    Container,
    Declaration,
    DeclarationStatus,
)
from tracker.web.api import bp
from tracker.web.api.devices import bearer_device
from tracker.web.api.serialize import (
    alert_json,
    checkpoint_json,
    container_json,
    declaration_json,
    open_declaration_json,
    user_json,
)
from tracker.web.auth import acting_user, requires, sign_in
from tracker.web.database import get_session
from tracker.web.errors import error_response

MAX_PER_PAGE = 200


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "a JSON object is required"})
    return data


def _page(query: Select[Any], serialise: Any) -> dict[str, Any]:
    """Run ``query`` one page at a time (``?page=&per_page=``) and wrap the items."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
        per_page = min(max(int(request.args.get("per_page", 50)), 1), MAX_PER_PAGE)
    except ValueError:
        raise ValidationFailed({"page": "page and per_page are whole numbers"}) from None
    db = get_session()
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [serialise(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def _enum_arg(name: str, enum_cls: Any) -> Any:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise ValidationFailed({name: f"one of {', '.join(e.value for e in enum_cls)}"}) from None


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    """Answer whether the API and its database respond."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.post("/session")
def open_session():  # type: ignore[no-untyped-def]
    """Sign in with login and password; the session cookie authenticates later calls."""
    data = _body()
    db = get_session()
    user = authenticate(db, str(data.get("login", "")), str(data.get("password", "")))
    if user is None:
        return error_response(401, "unauthorized", "unknown login or wrong password")
    db.commit()
    sign_in(user)
    return jsonify(user_json(user))


@bp.delete("/session")
@login_required
def close_session():  # type: ignore[no-untyped-def]
    """Sign out."""
    logout_user()
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
    status = _enum_arg("status", DeclarationStatus)
    if status is not None:
        query = query.where(Declaration.status == status)
    if reference := request.args.get("reference"):
        query = query.where(Declaration.reference == reference.strip().upper())
    return jsonify(_page(query.order_by(Declaration.id.desc()), declaration_json))


@bp.get("/declarations/<int:declaration_id>")
@login_required
def get_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Return one declaration in full (404 when outside the user's view)."""
    record = find_declaration(get_session(), acting_user(), declaration_id)
    return jsonify(declaration_json(record, full=True))


def _time(data: dict[str, Any], name: str, errors: dict[str, str]) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "ISO 8601 date-time with offset, e.g. 2026-12-01T08:00:00+06:00"
        return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(data: dict[str, Any], name: str, parse: Any, shape: str, errors: dict[str, str]) -> list[Any]:
    """Parse ``data[name]`` as a list with ``parse`` per element, noting ``shape`` on failure."""
    value = data.get(name, [])
    try:
        if not isinstance(value, list):
            raise TypeError
        return [parse(element) for element in value]
    except (KeyError, TypeError, ValueError):
        errors[name] = shape
        return []


def _item(element: Any) -> tuple[str, int]:
    return str(element["sscc"]), element["declared_net_g"]


def _waypoint(element: Any) -> tuple[float, float]:
    lat, lon = element
    return float(lat), float(lon)


def _party_input(data: dict[str, Any], role: str,
                 errors: dict[str, str]) -> tuple[int | None, tuple[str, str] | None]:
    """Read a party chosen by ``<role>_id``, or a foreign one named by ``<role>: {name, country}``."""
    dealer_id, foreign = data.get(f"{role}_id"), data.get(role)
    if dealer_id is not None and not _whole(dealer_id):
        errors[f"{role}_id"] = "a dealer id"
    if foreign is None:
        return dealer_id, None
    if not (isinstance(foreign, dict) and isinstance(foreign.get("name"), str)
            and isinstance(foreign.get("country"), str)):
        errors[role] = "a foreign party as {name, country}"
        return dealer_id, None
    return dealer_id, (foreign["name"], foreign["country"])


def _draft_input(data: dict[str, Any]) -> DraftInput:
    errors: dict[str, str] = {}
    for name in ("kind", "origin", "destination"):
        if data.get(name) in (None, ""):
            errors[name] = "required"
    consignee_id, consignee_foreign = _party_input(data, "consignee", errors)
    consignor_id, consignor_foreign = _party_input(data, "consignor", errors)
    approval_id, consent_id = data.get("import_approval_id"), data.get("export_consent_id")
    if approval_id is not None and not _whole(approval_id):
        errors["import_approval_id"] = "an import approval id"
    if consent_id is not None and not _whole(consent_id):
        errors["export_consent_id"] = "an export consent id"
    items = _list(data, "items", _item, "a list of {sscc, declared_net_g}", errors)
    waypoints = _list(data, "waypoints", _waypoint, "a list of [lat, lon] pairs", errors)
    codes = _list(data, "expected_checkpoints", str, "a list of checkpoint codes", errors)
    departure = _time(data, "planned_departure", errors)
    arrival = _time(data, "planned_arrival", errors)
    if not _whole(data.get("corridor_m", 500)):
        errors["corridor_m"] = "whole metres"
    if errors:
        raise ValidationFailed(errors)
    return DraftInput(
        kind=str(data["kind"]), consignee_id=consignee_id, origin_code=str(data["origin"]),
        destination_code=str(data["destination"]), items=items, waypoints=waypoints,
        expected_checkpoint_codes=codes, corridor_m=data.get("corridor_m", 500),
        planned_departure=departure, planned_arrival=arrival, vehicle=str(data.get("vehicle", "")),
        consignee_foreign=consignee_foreign, consignor_id=consignor_id, consignor_foreign=consignor_foreign,
        import_approval_id=approval_id, export_consent_id=consent_id,
    )


@bp.post("/declarations")
@requires(Action.DECLARE)
def post_declaration():  # type: ignore[no-untyped-def]
    """Create a draft declaration for the trader's dealer."""
    db = get_session()
    record = create_draft(db, acting_user(), _draft_input(_body()))
    db.commit()
    return jsonify(declaration_json(record, full=True)), 201


@bp.get("/containers")
@login_required
def list_containers():  # type: ignore[no-untyped-def]
    """List the containers the user may see, by SSCC."""
    query = select(Container).where(container_filter(acting_user())).order_by(Container.sscc)
    return jsonify(_page(query, container_json))


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
    data = _body()
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
    status = _enum_arg("status", AlertStatus)
    if status is not None:
        query = query.where(Alert.status == status)
    return jsonify(_page(query.order_by(Alert.opened_at.desc()), alert_json))


@bp.get("/checkpoints")
@login_required
def list_checkpoints():  # type: ignore[no-untyped-def]
    """List every checkpoint (public reference data for signed-in users)."""
    return jsonify(_page(select(Checkpoint).order_by(Checkpoint.code), checkpoint_json))
