"""The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json.

Kept by hand beside the views; a test checks every API route appears here. Each API
module documents its own routes by adding to ``PATHS`` and ``SCHEMAS`` with the helpers
below (``op``, ``ref``, ``json_response``, ``error_responses``, ``page_of``).
"""
from __future__ import annotations

from typing import Any

from flask import jsonify

from tracker.domain.declarations import MAX_DECLARATION_ITEMS
from tracker.models import (
    AlertStatus,
    ContainerType,
    DeclarationKind,
    DeclarationStatus,
    Role,
)
from tracker.web.api import bp
from tracker.web.guards import INT64_MAX, INT64_MIN, MAX_PAGE, MAX_ROW_ID


def ref(name: str) -> dict[str, str]:
    """Refer to a schema in components."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """Describe a JSON response (or request body) of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Describe the error responses of an operation by HTTP status."""
    text = {400: "Bad request", 401: "Not signed in", 403: "Role not allowed", 404: "Not found or not visible",
            409: "Conflicts with existing records", 413: "Body too large", 415: "Body is not JSON",
            422: "Invalid fields", 429: "Too many failed sign-ins; wait Retry-After seconds",
            503: "The database is not answering; nothing was changed, try again after Retry-After seconds"}
    return {str(s): json_response(ref("ValidationError" if s == 422 else "Error"), text[s]) for s in statuses}


def page_of(name: str) -> dict[str, Any]:
    """Describe one page of a list of ``name``."""
    return {"type": "object", "required": ["items", "page", "per_page", "total"], "properties": {
        "items": {"type": "array", "items": ref(name)}, "page": {"type": "integer"},
        "per_page": {"type": "integer"}, "total": {"type": "integer"}}}


#: A row id in a path or query (ids are 32-bit columns; a larger one is refused, not looked up).
ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]
GRAMS = {"type": "integer", "minimum": 1,
         "description": "mass in whole grams, at most the configured ceiling (MASS_CEILING_G, 100 t by default)"}
DEALER_REF = {"type": "object", "properties": {
    "id": {"type": "integer"}, "legal_name": {"type": "string"}, "country": {"type": "string"}}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "example": "not_found"}, "message": {"type": "string"},
        "reasons": {"type": "array", "items": {"type": "string"},
                    "description": "custody_refused: every reason of the custody check, one by one"}}},
    "ValidationError": {"type": "object", "required": ["error", "message", "fields"], "properties": {
        "error": {"const": "validation_failed"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "each failing field and what is wrong with it"}}},
    "User": {"type": "object", "properties": {
        "login": {"type": "string"}, "name": {"type": "string"},
        "role": {"enum": [r.value for r in Role]}, "dealer": {"oneOf": [DEALER_REF, {"type": "null"}]},
        "checkpoints": {"type": "array", "items": {"type": "string"}}}},
    "Checkpoint": {"type": "object", "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
        "lat": {"type": "number"}, "lon": {"type": "number"}, "radius_m": {"type": "integer"},
        "country": {"type": "string"}, "neighbour_country": {"type": ["string", "null"]},
        "names": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "the name in other languages by code (ru, ky); `name` is the English one"}}},
    "Container": {"type": "object", "properties": {
        "sscc": {"type": "string", "pattern": "^[0-9]{18}$"},
        "container_type": {"enum": [t.value for t in ContainerType]},
        "tare_g": GRAMS, "capacity_g": GRAMS, "net_g": {"type": "integer", "minimum": 0},
        "seal_number": {"type": ["string", "null"]}, "status": {"type": "string"},
        "owner": DEALER_REF, "custodian": DEALER_REF}},
    "NewContainer": {"type": "object", "required": ["sscc", "container_type", "tare_g", "capacity_g", "net_g"],
                     "properties": {
        "sscc": {"type": "string", "pattern": "^[0-9]{18}$", "description": "GS1 SSCC with mod-10 check digit"},
        "container_type": {"enum": [t.value for t in ContainerType]},
        "tare_g": GRAMS, "capacity_g": GRAMS, "net_g": {"type": "integer", "minimum": 0},
        "seal_number": {"type": "string"}}},
    "Declaration": {"type": "object", "properties": {
        "id": {"type": "integer"}, "reference": {"type": ["string", "null"]},
        "kind": {"enum": [k.value for k in DeclarationKind]},
        "status": {"enum": [s.value for s in DeclarationStatus]},
        "declarant": DEALER_REF, "consignor": DEALER_REF, "consignee": DEALER_REF,
        "origin": {"type": "string"}, "destination": {"type": "string"},
        "declared_net_g": {"type": "integer"},
        "planned_departure": {"type": ["string", "null"], "format": "date-time"},
        "planned_arrival": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"}}},
    "DeclarationFull": {"allOf": [ref("Declaration"), {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "sscc": {"type": "string"}, "declared_net_g": GRAMS, "received_net_g": {"type": ["integer", "null"]}}}},
        "route": {"type": ["array", "null"], "items": {"type": "array", "items": {"type": "number"}},
                  "description": "[lat, lon] points of the planned route as it is judged: the route as "
                                 "given, without the points within route_tolerance_m of it"},
        "route_tolerance_m": {"type": ["number", "null"],
                              "description": "how far (m) a point of the route as given may be from `route`: "
                                             "5 % of corridor_m"},
        "corridor_m": {"type": "integer"},
        "expected_checkpoints": {"type": "array", "items": {"type": "string"}},
        "authorised_stops": {"type": "array", "items": {"type": "object"}},
        "vehicle": {"type": "string"}, "beacon": {"type": ["string", "null"]},
        "decision_reason": {"type": ["string", "null"]}}}]},
    "NewDeclaration": {"type": "object", "required": ["kind", "consignee_id", "origin", "destination"],
                       "properties": {
        "kind": {"enum": [k.value for k in DeclarationKind]}, "consignee_id": {"type": "integer"},
        "origin": {"type": "string", "description": "checkpoint code"},
        "destination": {"type": "string", "description": "checkpoint code"},
        "items": {"type": "array", "maxItems": MAX_DECLARATION_ITEMS,
                  "items": {"type": "object", "required": ["sscc", "declared_net_g"],
                            "properties": {"sscc": {"type": "string"}, "declared_net_g": GRAMS}}},
        "waypoints": {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                      "minItems": 2, "maxItems": 2}, "description": "[lat, lon] points"},
        "expected_checkpoints": {"type": "array", "items": {"type": "string"}},
        "corridor_m": {"type": "integer", "minimum": 1, "maximum": 50000, "default": 500},
        "planned_departure": {"type": "string", "format": "date-time"},
        "planned_arrival": {"type": "string", "format": "date-time"},
        "vehicle": {"type": "string"}}},
    "Alert": {"type": "object", "properties": {
        "id": {"type": "integer"}, "declaration_id": {"type": ["integer", "null"]},
        "kind": {"type": "string"}, "severity": {"enum": ["info", "warning", "critical"]},
        "status": {"enum": [s.value for s in AlertStatus]},
        "opened_at": {"type": "string", "format": "date-time"},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
        "lat": {"type": ["number", "null"]}, "lon": {"type": ["number", "null"]},
        "details": {"type": "object"}, "resolution": {"type": ["string", "null"]}}},
    "Device": {"type": "object", "properties": {
        "kind": {"enum": ["beacon", "station"]}, "name": {"type": "string"},
        "beacon": {"type": ["string", "null"]}, "checkpoint": {"type": ["string", "null"]}}},
    "Credentials": {"type": "object", "required": ["login", "password"], "properties": {
        "login": {"type": "string"}, "password": {"type": "string", "format": "password"}}},
}


def op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Describe one operation."""
    return {"summary": summary, "responses": responses, **extra}


PATHS: dict[str, Any] = {
    "/health": {"get": op("Check the API and its database", {"200": {"description": "Up"}}, security=[])},
    "/session": {
        "post": op("Sign in (failed attempts are limited per account and per address: 429 with Retry-After)",
                   {"200": json_response(ref("User"), "Signed in; a session cookie is set"),
                    **error_responses(401, 415, 422),
                    "429": {**json_response(ref("Error"), "Too many failed sign-ins; wait Retry-After seconds"),
                            "headers": {"Retry-After": {"description": "seconds to wait",
                                                        "schema": {"type": "integer", "minimum": 1}}}}},
                   security=[],
                   requestBody={"required": True, "content": {"application/json": {"schema": ref("Credentials")}}}),
        "delete": op("Sign out: ends every session of the account, on every device",
                     {"204": {"description": "Signed out"}, **error_responses(401)}),
    },
    "/me": {"get": op("The signed-in account", {"200": json_response(ref("User"), "Account"), **error_responses(401)})},
    "/declarations": {
        "get": op("Declarations visible to the user", {"200": json_response(page_of("Declaration"), "A page"),
                                                        **error_responses(401, 422)},
                   parameters=PAGING + [
                       {"name": "status", "in": "query", "schema": {"enum": [s.value for s in DeclarationStatus]}},
                       {"name": "reference", "in": "query", "schema": {"type": "string"}}]),
        "post": op("Create a draft declaration (trader)", {
            "201": json_response(ref("DeclarationFull"), "Draft created"), **error_responses(401, 403, 415, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewDeclaration")}}}),
    },
    "/declarations/{declaration_id}": {"get": op(
        "One declaration", {"200": json_response(ref("DeclarationFull"), "Declaration"), **error_responses(401, 404)},
        parameters=[{"name": "declaration_id", "in": "path", "required": True, "schema": ROW_ID}])},
    "/containers": {
        "get": op("Containers visible to the user", {"200": json_response(page_of("Container"), "A page"),
                                                      **error_responses(401)}, parameters=PAGING),
        "post": op("Register a container (trader)", {
            "201": json_response(ref("Container"), "Registered"), **error_responses(401, 403, 409, 415, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewContainer")}}}),
    },
    "/containers/{sscc}": {"get": op(
        "One container by SSCC", {"200": json_response(ref("Container"), "Container"), **error_responses(401, 404)},
        parameters=[{"name": "sscc", "in": "path", "required": True, "schema": {"type": "string"}}])},
    "/alerts": {"get": op("Alerts visible to the user", {"200": json_response(page_of("Alert"), "A page"),
                                                         **error_responses(401, 422)},
                           parameters=PAGING + [{"name": "status", "in": "query",
                                                 "schema": {"enum": [s.value for s in AlertStatus]}}])},
    "/checkpoints": {"get": op("Every checkpoint", {"200": json_response(page_of("Checkpoint"), "A page"),
                                                      **error_responses(401)}, parameters=PAGING)},
    "/device": {"get": op(
        "What a device's bearer token stands for", {"200": json_response(ref("Device"), "The device"), **error_responses(401)},
        security=[{"device": []}])},
    "/openapi.json": {"get": op("This document", {"200": {"description": "OpenAPI 3.1"}}, security=[])},
}

WRITES = ("post", "put", "patch", "delete")


#: Any JSON value the API reads: numbers within 64 bits (what the input guard lets through).
SCHEMAS["AnyValue"] = {"anyOf": [
    {"type": ["string", "boolean", "null"]}, {"type": "number", "minimum": INT64_MIN, "maximum": INT64_MAX},
    {"type": "array", "items": ref("AnyValue")}, {"type": "object", "additionalProperties": ref("AnyValue")}]}


def _bounded(schema: Any) -> None:
    """Give every number of a request schema the 64-bit bounds, and extra properties :data:`AnyValue`."""
    if isinstance(schema, list):
        for element in schema:
            _bounded(element)
    if not isinstance(schema, dict):
        return
    if schema.get("type") in ("integer", "number"):
        schema.setdefault("minimum", INT64_MIN)
        schema.setdefault("maximum", INT64_MAX)
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", ref("AnyValue"))
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            for element in value.values():
                _bounded(element)
        elif key in ("items", "allOf", "anyOf", "oneOf", "additionalProperties"):
            _bounded(value)


def complete(paths: dict[str, Any]) -> None:
    """Document the answers every operation can give, once every module has added its paths.

    Any request may be refused as bad input (400: NUL characters, unpaired surrogates, numbers
    beyond 64 bits, query parameters out of bounds); any write may be too large (413) or of the
    wrong media type (415); any request may meet a database that is not answering (503).
    Request schemas get the bounds the input guard enforces.
    """
    for item in paths.values():
        for method, operation in item.items():
            common = (400, 413, 415, 503) if method in WRITES else (400, 503)
            for status, response in error_responses(*common).items():
                operation["responses"].setdefault(status, response)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _bounded(content.get("schema"))
    for name, schema in SCHEMAS.items():
        if name != "AnyValue":
            _bounded(schema)


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Mercury shipment tracking API",
        "version": "1",
        "description": "Licences, declarations, containers, custody and alerts. Sign in with "
                       "POST /session; the session cookie authenticates later calls. Writes must be "
                       "JSON. Errors are {error, message} with the HTTP status.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"session": []}],
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "device": {"type": "http", "scheme": "bearer",
                       "description": "device token of a beacon or checkpoint station"},
        },
        "schemas": SCHEMAS,
    },
    "paths": PATHS,
}


@bp.get("/openapi.json")
def openapi_document():  # type: ignore[no-untyped-def]
    """Return the OpenAPI document."""
    return jsonify(DOCUMENT)
