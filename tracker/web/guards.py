"""Hostile input refused at the edge, before any view reads it.

One guard per kind of attack, for every route: bodies over their endpoint's size limit
(413); NUL characters and unpaired surrogates in a path, query, header, form or JSON value
(400, since no column or parser takes them); JSON nested too deeply, integers that fit
no 64-bit column, NaN and infinities (400); ids in paths beyond their column (404).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Iterator

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from tracker.domain.customs_import import MAX_UPLOAD_BYTES
from tracker.domain.places import MAX_GEOJSON_BYTES
from tracker.domain.route_files import MAX_GPX_BYTES
from tracker.domain.scans import MAX_PHOTO_BYTES

KIB, MIB = 1024, 1024 * 1024
#: The largest body any request may send (a phone photo of 12 MiB in a multipart form).
MAX_BODY = 16 * MIB
#: The limit of an endpoint not named in :data:`BODY_LIMITS` (JSON documents and portal forms).
DEFAULT_BODY_LIMIT = 256 * KIB
#: Room for the form fields around an uploaded file.
FORM_ROOM = 64 * KIB
#: Endpoints that take files, and their limits: the file's own limit plus room for the form around it.
BODY_LIMITS = {
    "api.upload_route": MAX_GPX_BYTES + FORM_ROOM,  # GPX route, or JSON waypoints
    "api.import_customs_records": MAX_UPLOAD_BYTES,  # customs CSV
    "api.post_scan": MAX_PHOTO_BYTES + FORM_ROOM,  # phone photo
    "portal.scan": MAX_PHOTO_BYTES + FORM_ROOM,
    "portal.new_declaration": MAX_GPX_BYTES + FORM_ROOM,  # GPX route upload in the draft form
    "portal.edit_declaration": MAX_GPX_BYTES + FORM_ROOM,
    # Room for a GeoJSON paste a few times over its limit, so that the form says "at most 256 KiB"
    # beside the field rather than showing an error page.
    "portal.add_zone": 4 * MAX_GEOJSON_BYTES,
}
#: How deep a JSON document may nest (the deepest the API reads is 3: a list of [lat, lon] pairs).
MAX_JSON_DEPTH = 32
#: Integers a JSON value may hold: those of a 64-bit column.
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
#: The largest row id (ids are 32-bit integer columns).
MAX_ROW_ID = 2**31 - 1
#: The last page number a list accepts (page * per_page stays a sane offset for any database).
MAX_PAGE = 1_000_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class HostileInput(BadRequest):
    """A request value no field can take (400)."""


def body_limit(endpoint: str | None) -> int:
    """Return how many bytes a request body to ``endpoint`` may have."""
    return BODY_LIMITS.get(endpoint or "", DEFAULT_BODY_LIMIT)


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in URLs: a row id from 0 to 2^31 - 1; larger numbers match no route (404).

    The pattern itself stops at 2147483647: a number refused only by ``max`` would make
    werkzeug answer 405 when another method's rule has the same path.
    """

    regex = (r"\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
             r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7]")

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def optional_row_id(value: str | None) -> int | None:
    """Return ``value`` as a row id, or None when it is not one."""
    try:
        return row_id(value or "")
    except ValueError:
        return None


def row_id(value: str) -> int:
    """Parse a row id from a query or form value (``type=row_id``); ValueError when it is none."""
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and 1 <= int(value) <= MAX_ROW_ID):
        raise ValueError(f"{value[:24]} is not a row id")
    return int(value)


def _refuse_text(where: Callable[[], str], value: str) -> None:
    """Refuse ``value`` when it holds what no column stores; ``where`` names it (called only then)."""
    if _UNSTORABLE.search(value):
        raise HostileInput(gettext("%(where)s contains a NUL character or an unpaired surrogate, which no "
                                   "field accepts", where=where()))


def _strings(data: Any) -> Iterator[str]:
    """Yield every key and string value of a parsed JSON document, refusing one nested too deeply."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise HostileInput(gettext("the JSON body is nested more than %(depth)s levels deep",
                                       depth=MAX_JSON_DEPTH))
        if isinstance(value, dict):
            yield from value.keys()
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            yield value


def _integer(text: str) -> int:
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise HostileInput(gettext("the JSON number %(number)s… is beyond any field (at most %(max)s)",
                                   number=text[:24], max=INT64_MAX))
    return number


def _constant(name: str) -> float:
    raise HostileInput(gettext("the JSON body holds %(name)s, which is not a number JSON allows", name=name))


def _real(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        _constant(text[:24])
    return number


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading only documents every field of the API can take."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``, refusing (400) deep nesting, huge integers, NaN, infinities, NUL and surrogates."""
        try:
            data = json.loads(s, parse_int=_integer, parse_float=_real, parse_constant=_constant, **kwargs)
        except RecursionError:
            raise HostileInput(gettext("the JSON body is nested more than %(depth)s levels deep",
                                       depth=MAX_JSON_DEPTH)) from None
        for text in _strings(data):
            _refuse_text(lambda: gettext("a JSON value"), text)
        return data


def _named_values(pairs: Iterable[tuple[str, str]], kind: Callable[[], str]) -> None:
    for name, value in pairs:
        name, value = name or "", value or ""  # a multipart part may have no name
        _refuse_text(lambda: f"{kind()} {_UNSTORABLE.sub('?', name)}", name + value)


def _guard_request() -> None:
    """Refuse hostile input before any view (or sign-in, or CSRF check) reads the request."""
    limit = min(body_limit(request.endpoint), MAX_BODY)
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(gettext("the body is larger than the %(size)s KiB this request may send",
                                            size=limit // KIB))
    _refuse_text(lambda: gettext("the address"), request.path)
    _named_values(request.headers.items(), lambda: gettext("header"))
    _named_values(request.args.items(multi=True), lambda: gettext("query parameter"))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _named_values(request.form.items(multi=True), lambda: gettext("form field"))
        _named_values(((n, f.filename or "") for n, f in request.files.items(multi=True)), lambda: gettext("file"))
    if request.is_json and request.content_length:
        request.get_json(silent=True)  # parsed by GuardedJSONProvider, kept for the view


def init_app(app: Flask) -> None:
    """Bound ids in URLs and guard every request; call before any blueprint or other hook."""
    app.url_map.converters["int"] = RowIdConverter
    app.json = GuardedJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.before_request(_guard_request)
