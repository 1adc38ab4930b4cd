"""Reading API requests: the JSON body, pages of lists, query arguments, draft input.

Shared by every API module, so each view only translates HTTP to one domain call.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest
from sqlalchemy import Select, func, select

from tracker.domain.declarations import DraftInput
from tracker.domain.errors import ValidationFailed
from tracker.web.database import get_session
from tracker.web.guards import MAX_PAGE, MAX_ROW_ID

#: The most items one page of a list may hold.
MAX_PER_PAGE = 200


class BadQuery(BadRequest):
    """Query parameters that are not what the operation documents (400, with ``fields``)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in fields.items()))
        self.fields = fields


def int_arg(name: str, low: int, high: int, default: int | None = None) -> int | None:
    """Return query parameter ``name`` as a whole number from ``low`` to ``high`` (``default`` when absent)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 20 and low <= int(raw) <= high):
        raise BadQuery({name: f"a whole number from {low} to {high}"})
    return int(raw)


def page_args() -> tuple[int, int]:
    """Return ``?page=&per_page=`` (400 when out of the documented bounds)."""
    fields: dict[str, str] = {}
    values = []
    for name, high, default in (("page", MAX_PAGE, 1), ("per_page", MAX_PER_PAGE, 50)):
        try:
            values.append(int_arg(name, 1, high, default))
        except BadQuery as exc:
            fields |= exc.fields
    if fields:
        raise BadQuery(fields)
    return values[0], values[1]  # type: ignore[return-value]


def id_arg(name: str) -> int | None:
    """Return query parameter ``name`` as a row id (None when absent; 400 when not one)."""
    return int_arg(name, 1, MAX_ROW_ID)


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or refuse it (422) when it is not one."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "a JSON object is required"})
    return data


def paginate(query: Select[Any], serialise: Any) -> dict[str, Any]:
    """Run ``query`` one page at a time (``?page=&per_page=``) and wrap the items."""
    page, per_page = page_args()
    db = get_session()
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [serialise(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def enum_arg(name: str, enum_cls: Any) -> Any:
    """Return query argument ``name`` as a member of ``enum_cls`` (None when absent; 422 when unknown)."""
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise ValidationFailed({name: f"one of {', '.join(e.value for e in enum_cls)}"}) from None


def parse_time(data: dict[str, Any], name: str, errors: dict[str, str]) -> datetime | None:
    """Return ``data[name]`` as an ISO 8601 date-time (None when absent), noting a bad one in ``errors``."""
    value = data.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "ISO 8601 date-time with offset, e.g. 2026-12-01T08:00:00+06:00"
        return None


def whole_number(value: Any) -> bool:
    """Tell whether ``value`` is a JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def list_field(data: dict[str, Any], name: str, parse: Any, shape: str, errors: dict[str, str]) -> list[Any]:
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


def parse_waypoint(element: Any) -> tuple[float, float]:
    """Return a ``[lat, lon]`` pair as floats."""
    lat, lon = element
    return float(lat), float(lon)


def _party_input(data: dict[str, Any], role: str,
                 errors: dict[str, str]) -> tuple[int | None, tuple[str, str] | None]:
    """Read a party chosen by ``<role>_id``, or a foreign one named by ``<role>: {name, country}``."""
    dealer_id, foreign = data.get(f"{role}_id"), data.get(role)
    if dealer_id is not None and not whole_number(dealer_id):
        errors[f"{role}_id"] = "a dealer id"
    if foreign is None:
        return dealer_id, None
    if not (isinstance(foreign, dict) and isinstance(foreign.get("name"), str)
            and isinstance(foreign.get("country"), str)):
        errors[role] = "a foreign party as {name, country}"
        return dealer_id, None
    return dealer_id, (foreign["name"], foreign["country"])


def draft_input(data: dict[str, Any]) -> DraftInput:
    """Read a draft declaration from JSON, reporting every malformed field at once (422)."""
    errors: dict[str, str] = {}
    for name in ("kind", "origin", "destination"):
        if data.get(name) in (None, ""):
            errors[name] = "required"
    consignee_id, consignee_foreign = _party_input(data, "consignee", errors)
    consignor_id, consignor_foreign = _party_input(data, "consignor", errors)
    approval_id, consent_id = data.get("import_approval_id"), data.get("export_consent_id")
    if approval_id is not None and not whole_number(approval_id):
        errors["import_approval_id"] = "an import approval id"
    if consent_id is not None and not whole_number(consent_id):
        errors["export_consent_id"] = "an export consent id"
    items = list_field(data, "items", _item, "a list of {sscc, declared_net_g}", errors)
    waypoints = list_field(data, "waypoints", parse_waypoint, "a list of [lat, lon] pairs", errors)
    codes = list_field(data, "expected_checkpoints", str, "a list of checkpoint codes", errors)
    departure = parse_time(data, "planned_departure", errors)
    arrival = parse_time(data, "planned_arrival", errors)
    if not whole_number(data.get("corridor_m", 500)):
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
