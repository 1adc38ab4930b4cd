"""Every API response a test receives is checked against the OpenAPI document.

The app fixture makes every test client a :class:`ContractClient`: an answer whose
status the operation does not document, whose media type is not the documented one,
or whose JSON body breaks the documented schema fails the test that received it.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from tracker.web.api.openapi import DOCUMENT

PREFIX = "/api/v1"


class ContractViolation(AssertionError):
    """An API answer that the OpenAPI document does not describe."""


@lru_cache(maxsize=None)
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Documented paths as patterns, literal ones first (``alerts.geojson`` before ``{table}.csv``)."""
    paths = sorted(DOCUMENT["paths"], key=lambda p: (p.count("{"), -len(p)))
    return [(re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$"), p) for p in paths]


def operation_of(method: str, path: str) -> tuple[str, dict[str, Any] | None] | None:
    """Return (template, operation) documenting ``method path``, None when no path matches."""
    for pattern, template in _templates():
        if pattern.match(path):
            return template, DOCUMENT["paths"][template].get(method.lower())
    return None


def is_json(mimetype: str) -> bool:
    """Tell whether a media type is JSON (``application/json`` or ``+json``: GeoJSON, JSON-LD)."""
    return mimetype == "application/json" or mimetype.endswith("+json")


def _schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({"allOf": [schema], "components": DOCUMENT["components"]})


def check_response(method: str, path: str, status: int, mimetype: str, body: Any) -> None:
    """Raise :class:`ContractViolation` when the answer is not what the document promises."""
    if not path.startswith(PREFIX + "/") or method in ("HEAD", "OPTIONS"):
        return
    found = operation_of(method, path.removeprefix(PREFIX))
    if found is None:
        return  # a route no API module declares (tests/tracker/test_api.py checks every real one is documented)
    if found[1] is None:
        if status in (404, 405):
            return  # a method the path does not take (405 carries Allow)
        raise ContractViolation(f"{method} {path} answered {status} but is not documented")
    template, operation = found
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
    if response is None:
        raise ContractViolation(f"{method} {template} answered {status}, which it does not document "
                                f"(documented: {', '.join(responses)})")
    content = response.get("content")
    if not content:
        return
    if mimetype not in content:
        raise ContractViolation(f"{method} {template} {status} answered {mimetype}; documented: {', '.join(content)}")
    schema = content[mimetype].get("schema")
    if is_json(mimetype) and schema is not None:
        errors = sorted(_schema_validator(schema).iter_errors(body), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise ContractViolation(f"{method} {template} {status} breaks its schema at /{where}: "
                                    f"{errors[0].message[:300]}")


class ContractClient(FlaskClient):
    """A test client that checks every API answer against the OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Send the request; fail when the API's answer is not the documented one."""
        response = super().open(*args, **kwargs)
        request = response.request
        body = None
        if is_json(response.mimetype):
            streamed, data = response.is_streamed, response.get_data()
            body = json.loads(data) if data else None
            if streamed:
                response.response = iter([data])  # still a stream for the test that checks it is one
        check_response(request.method, request.path, response.status_code, response.mimetype, body)
        return response
