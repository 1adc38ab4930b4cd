"""OsmAnd protocol over HTTP: the Traccar Client phone app and the many trackers speaking it.

Two forms, as Traccar's OsmAnd decoder accepts them:

- query string (in the URL, or as a form body): ``id`` (or ``deviceid``), ``lat`` + ``lon``
  (or ``location=lat,lon``), ``timestamp`` (epoch seconds, epoch milliseconds, or ISO 8601 /
  ``yyyy-MM-dd HH:mm:ss``; a time without a zone is UTC), ``speed`` in **knots**,
  ``bearing`` or ``heading`` in degrees, ``altitude`` m, ``accuracy`` m, ``hdop``,
  ``valid`` (``true``/``1``), ``batt`` %; any other parameter goes to ``extra``;
- JSON body of the newer Traccar Client: ``{"device_id": …, "location": {"timestamp",
  "coords": {latitude, longitude, speed (m/s), heading, altitude, accuracy}, "is_moving",
  "odometer", "event", "battery": {"level" 0..1, "is_charging"}, "activity", "extras"}}``
  (``location`` may also be a list). Negative speed, heading or accuracy mean "unknown".

A message without a timestamp gets the receive time, marked ``extra["time_source"] =
"received"``. A query-string message without coordinates but with ``cell`` or ``wifi``
parameters (a phone indoors, a tracker without a fix) is a device status, not a position:
``decode_status`` returns it and the gateway keeps it as evidence (kind ``status``), never as
a fix at (0, 0). Without coordinates and without cell or Wi-Fi data a message is refused.

The device's secret travels as the ``key`` query parameter, typed into the app's server URL
(``http://HOST:5055/?key=…``; Traccar Client keeps it and adds its own parameters or posts
its JSON to that URL). ``request_key`` reads it; the decoders drop it, from ``raw`` too, so
the secret is never stored with the evidence.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from beacon_gateway.decoders.fields import checked, to_number
from beacon_gateway.decoders.json_batch import canonical
from beacon_gateway.decoders.timestamps import parse_time
from beacon_gateway.position import DecodeError, Position

PROTOCOL = "osmand"
KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6
MAX_MESSAGE_BYTES = 256 * 1024
_QUERY_NUMBERS = {"altitude": "altitude_m", "accuracy": "accuracy_m", "hdop": "hdop"}
_QUERY_HANDLED = {"id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing",
                  "heading", "valid", *_QUERY_NUMBERS}
KEY_PARAMETER = "key"
MAX_DEVICE_ID_CHARS = 64


def request_key(query: str | bytes, body: bytes = b"", content_type: str | None = None) -> str | None:
    """Return the device key of a request (``key`` in its URL, else in its form body), or None.

    A request naming ``key`` more than once has no key: which one would be meant is unclear.
    """
    try:
        keys = _keys(_text(query).lstrip("?"))
        if not keys and (content_type or "").startswith("application/x-www-form-urlencoded"):
            keys = _keys(_text(body))
    except DecodeError:
        return None                                           # not text: no key in it either
    return keys[0] if len(keys) == 1 else None


def _keys(query: str) -> list[str]:
    return [value for name, value in parse_qsl(query, keep_blank_values=True) if name == KEY_PARAMETER]


def _without_key(query: str) -> str:
    """The query string without its ``key`` parameter (however its name is percent-encoded)."""
    return "&".join(part for part in query.split("&")
                    if unquote_plus(part.partition("=")[0]) != KEY_PARAMETER)


def decode_request(query: str | bytes, body: bytes = b"", content_type: str | None = None,
                   device_id: str | None = None, received_at: datetime | None = None) -> list[Position]:
    """Decode an OsmAnd HTTP request: its query string, else its JSON or form body."""
    text = _without_key(_text(query).lstrip("?"))
    if text:
        return [decode_query(text, device_id, received_at)]
    if not body.strip():
        raise DecodeError("OsmAnd request has neither a query string nor a body")
    if (content_type or "").startswith("application/json") or body.lstrip()[:1] in (b"{", b"["):
        return decode_json(body, device_id, received_at)
    return [decode_query(body, device_id, received_at)]


@dataclass(frozen=True, slots=True)
class Status:
    """A device's report without a fix: what it saw of the cell and Wi-Fi networks."""

    device_id: str
    raw: bytes                      # the query string, without the key
    extra: dict[str, Any]           # cell, wifi, batt ... as the device sent them


def decode_status(query: str | bytes, body: bytes = b"", content_type: str | None = None) -> Status | None:
    """Return the status of a query-string request that has cell or Wi-Fi data but no
    coordinates, or None when the request is anything else (a position, JSON, nothing)."""
    text = _without_key(_text(query).lstrip("?"))
    if not text and (content_type or "").startswith("application/x-www-form-urlencoded"):
        text = _without_key(_text(body))
    pairs = parse_qsl(text, keep_blank_values=True)
    params = dict(pairs)
    if not params or {"lat", "lon", "location"} & params.keys() or not {"cell", "wifi"} & params.keys():
        return None
    extra = _query_extra(pairs)
    extra.pop("key", None)
    return Status(_device(params.get("id") or params.get("deviceid"), None), text.encode(), extra)


def decode_line(line: str | bytes, device_id: str | None = None,
                received_at: datetime | None = None) -> list[Position]:
    """Decode one logged message: a JSON body, a URL, or a bare query string."""
    text = _text(line).strip()
    if text.startswith(("{", "[")):
        return decode_json(text.encode(), device_id, received_at)
    return [decode_query(text, device_id, received_at)]


def decode_query(query: str | bytes, device_id: str | None = None,
                 received_at: datetime | None = None) -> Position:
    """Decode the query-string form (a bare query, ``/?…`` or a full URL)."""
    text = _text(query).strip()
    if "?" in text or text.startswith(("http://", "https://", "/")):
        text = urlsplit(text).query
    text = _without_key(text)
    pairs = parse_qsl(text, keep_blank_values=True)
    params = dict(pairs)                                      # a repeated key: the last wins...
    if not params:
        raise DecodeError("OsmAnd query string has no parameters")
    lat, lon = _query_coordinates(params)
    fields: dict[str, Any] = {"lat": lat, "lon": lon}
    extra = _query_extra(pairs)                               # ...but extra keeps them all
    fields.update(_query_measurements(params))
    fix_time = _fix_time(params.get("timestamp"), received_at, extra)
    valid = params.get("valid", "true").lower() in ("true", "1")
    if "batt" in extra:
        extra["battery_level"] = extra.pop("batt")
    return Position(device_id=_device(params.get("id") or params.get("deviceid"), device_id),
                    fix_time=fix_time, protocol=PROTOCOL, raw=text.encode(), valid=valid,
                    extra=extra, **fields)


def decode_json(body: bytes | str, device_id: str | None = None,
                received_at: datetime | None = None) -> list[Position]:
    """Decode the Traccar Client JSON body (one location or a list of them)."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"OsmAnd JSON body larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise DecodeError(f"OsmAnd body is not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("location"), (dict, list)):
        raise DecodeError("OsmAnd JSON body must be an object with a location")
    owner = _device(document.get("device_id"), device_id)
    locations = document["location"]
    if isinstance(locations, dict):
        return [_json_location(owner, locations, raw, received_at)]
    if not locations:
        raise DecodeError("OsmAnd JSON location list is empty")
    return [_json_location(owner, item, canonical(item), received_at) for item in locations]


def _text(value: str | bytes) -> str:
    """Message text; undecodable bytes are an error, not a crash."""
    if isinstance(value, str):
        return value
    if len(value) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"OsmAnd message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("OsmAnd message is not UTF-8 text") from None


def _device(named: Any, authenticated: str | None) -> str:
    """The device id: the message's own, checked against the authenticated one when both exist."""
    if named is not None and (isinstance(named, bool) or not isinstance(named, (str, int))):
        raise DecodeError("OsmAnd device id must be text")
    named = str(named).strip() if named is not None else ""
    if len(named) > MAX_DEVICE_ID_CHARS or not named.isprintable():
        raise DecodeError(f"OsmAnd id must be 1 to {MAX_DEVICE_ID_CHARS} printable characters")
    if authenticated and named and named != authenticated:
        raise DecodeError(f"OsmAnd id {named!r} is not the authenticated device {authenticated!r}")
    if not (authenticated or named):
        raise DecodeError("OsmAnd message has no id (or deviceid)")
    return authenticated or named


def _field(name: str, value: Any, parse: Any = checked) -> Any:
    """Parse one field, naming it in the error."""
    try:
        return parse(name, value)
    except DecodeError as error:
        raise DecodeError(f"OsmAnd {name}: {error}") from None


def _query_coordinates(params: Mapping[str, str]) -> tuple[float, float]:
    """Latitude and longitude from ``lat``/``lon`` or ``location=lat,lon``."""
    if "location" in params and not ("lat" in params and "lon" in params):
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise DecodeError("OsmAnd location must be 'lat,lon'")
        return _field("lat", parts[0]), _field("lon", parts[1])
    if "lat" not in params or "lon" not in params:
        raise DecodeError("OsmAnd message has no coordinates (lat and lon, or location)")
    return _field("lat", params["lat"]), _field("lon", params["lon"])


def _query_measurements(params: Mapping[str, str]) -> dict[str, float | None]:
    """Speed (knots → km/h), course, altitude, accuracy and HDOP of the query form."""
    fields: dict[str, float | None] = {}
    if params.get("speed", "") != "":
        fields["speed_kmh"] = _unknown_if_negative("speed_kmh", params["speed"], KNOTS_TO_KMH)
    course = params.get("bearing", params.get("heading", ""))
    if course != "":
        fields["course"] = _unknown_if_negative("course", course, 1.0)
    for key, name in _QUERY_NUMBERS.items():
        if params.get(key, "") != "":
            fields[name] = _unknown_if_negative(name, params[key], 1.0) if name != "altitude_m" \
                else _field(name, params[key])
    return fields


def _unknown_if_negative(name: str, value: Any, factor: float) -> float | None:
    """A measurement where a negative value (the apps send -1) means unknown."""
    number = _field(name, value, lambda _name, v: to_number(v))
    return None if number < 0 else _field(name, number * factor)


def _fix_time(value: Any, received_at: datetime | None, extra: dict[str, Any]) -> datetime:
    """The message's time, or the receive time (marked in ``extra``) when it has none."""
    if value is None or value == "":
        extra["time_source"] = "received"
        return received_at or datetime.now(timezone.utc)
    return _field("timestamp", value, lambda _name, v: parse_time(v, naive_is_utc=True))


def _query_extra(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Parameters other than the position's own; a repeated one (``cell``, ``wifi``) as a list."""
    extra: dict[str, Any] = {}
    for key, value in pairs:
        if key in _QUERY_HANDLED:
            continue
        if key in extra:
            previous = extra[key]
            extra[key] = (previous if isinstance(previous, list) else [previous]) + [_extra_value(value)]
        else:
            extra[key] = _extra_value(value)
    return extra


def _extra_value(value: str) -> Any:
    """Other parameters as Traccar keeps them: a number, true/false, or the text."""
    if value in ("true", "false"):
        return value == "true"
    try:
        return to_number(value)
    except DecodeError:
        return value


def _json_location(device_id: str, location: Any, raw: bytes, received_at: datetime | None) -> Position:
    """One Traccar Client location object."""
    if not isinstance(location, dict) or not isinstance(location.get("coords"), dict):
        raise DecodeError("OsmAnd JSON location must be an object with coords")
    coords = location["coords"]
    extra: dict[str, Any] = {}
    fields = {
        "lat": _field("lat", coords.get("latitude")), "lon": _field("lon", coords.get("longitude")),
        "speed_kmh": _optional(coords, "speed", "speed_kmh", MPS_TO_KMH),
        "course": _optional(coords, "heading", "course", 1.0),
        "accuracy_m": _optional(coords, "accuracy", "accuracy_m", 1.0),
        "altitude_m": None if coords.get("altitude") is None else _field("altitude_m", coords["altitude"]),
    }
    fix_time = _fix_time(location.get("timestamp"), received_at, extra)
    extra.update(_json_extra(location))
    return Position(device_id=device_id, fix_time=fix_time, protocol=PROTOCOL, raw=raw,
                    extra=extra, **fields)


def _optional(coords: Mapping[str, Any], key: str, name: str, factor: float) -> float | None:
    """An optional JSON measurement (missing, null or negative: unknown)."""
    value = coords.get(key)
    return None if value is None else _unknown_if_negative(name, value, factor)


def _json_extra(location: Mapping[str, Any]) -> dict[str, Any]:
    """Battery, motion, odometer, event, activity and the app's extras."""
    extra: dict[str, Any] = {}
    battery = location.get("battery")
    if isinstance(battery, dict):
        level = battery.get("level")
        if isinstance(level, (int, float)) and not isinstance(level, bool) and 0 <= level <= 1:
            extra["battery_level"] = round(level * 100, 1)
        if isinstance(battery.get("is_charging"), bool):
            extra["charging"] = battery["is_charging"]
    for key, name in (("is_moving", "motion"), ("odometer", "odometer_m"), ("event", "event")):
        if location.get(key) is not None:
            extra[name] = location[key]
    activity = location.get("activity")
    if isinstance(activity, dict) and "type" in activity:
        extra["activity"] = activity["type"]
    if isinstance(location.get("extras"), dict):
        extra.update({k: v for k, v in location["extras"].items() if k not in extra})
    return extra


