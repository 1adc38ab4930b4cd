"""The gateway's native JSON: a batch of pings from one device (HTTP body or MQTT payload).

    {"device_id": "KG-0001",
     "pings": [{"fix_time": "2026-03-01T08:00:00Z", "lat": 42.87, "lon": 74.59,
                "speed_kmh": 62.5, "course": 270, "altitude_m": 760, "accuracy_m": 8,
                "hdop": 0.9, "satellites": 9, "valid": true, "battery": 87}]}

``fix_time`` is ISO 8601 with a zone (``Z`` or an offset) or an epoch number (seconds, or
milliseconds when above 2^31). Fields other than the known ones go to ``extra``. One bad
ping rejects the whole batch, with every bad ping and field listed, so a device never
has half a batch stored: it fixes or drops the batch and sends again. Each ping's ``raw``
is its own canonical JSON (sorted keys, no spaces), so a resent ping has the same bytes.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping

from beacon_gateway.decoders.fields import checked
from beacon_gateway.decoders.timestamps import parse_time
from beacon_gateway.position import DecodeError, Position

PROTOCOL = "json"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_PINGS = 10_000
_NUMERIC = ("speed_kmh", "course", "altitude_m", "accuracy_m", "hdop")
_KNOWN = {"fix_time", "lat", "lon", "satellites", "valid", *_NUMERIC}


class BatchError(DecodeError):
    """A batch with bad pings; ``fields`` maps ``pings[i].field`` (or ``body``) to a message."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        listed = "; ".join(f"{where}: {message}" for where, message in fields.items())
        super().__init__(f"batch refused, nothing stored: {listed}")


def decode_batch(body: bytes | str | Mapping[str, Any], device_id: str | None = None) -> list[Position]:
    """Decode a batch body into positions, or raise BatchError listing every problem.

    ``device_id`` is the authenticated device (from its token or MQTT topic): the body's
    ``device_id`` may then be left out, and must match when present. Without it the body
    must name its device. A single ping object or a bare list of pings is accepted too
    when ``device_id`` is given (the MQTT payload forms).
    """
    document = _load(body)
    if device_id is not None and isinstance(document, list):
        document = {"pings": document}
    elif device_id is not None and isinstance(document, dict) and "pings" not in document:
        document = {"pings": [document]}
    owner, pings = _envelope(document, device_id)
    errors: dict[str, str] = {}
    positions = [_ping(owner, index, ping, errors) for index, ping in enumerate(pings)]
    if errors:
        raise BatchError(errors)
    return [p for p in positions if p is not None]


def canonical(ping: Mapping[str, Any]) -> bytes:
    """The ping's canonical JSON bytes (its ``raw``): sorted keys, no spaces, UTF-8.

    Raises DecodeError when a key or text holds an unpaired surrogate (a ``\\ud800`` escape):
    it is not Unicode text, so it has no UTF-8 form to keep as evidence.
    """
    try:
        return json.dumps(ping, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise DecodeError("holds an unpaired surrogate (a \\ud800-\\udfff escape), which is not text") from None


def _load(body: bytes | str | Mapping[str, Any]) -> Any:
    """Parse the JSON text (bounded in size; NaN and Infinity refused)."""
    if isinstance(body, Mapping):
        return dict(body)
    if len(body) > MAX_BODY_BYTES:
        raise BatchError({"body": f"larger than {MAX_BODY_BYTES} bytes"})
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise BatchError({"body": f"not JSON: {error}"}) from None


def _refuse_constant(name: str) -> None:
    """json.loads hook: NaN and Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a JSON number")


def _envelope(document: Any, device_id: str | None) -> tuple[str, list[Any]]:
    """Check the batch envelope; return (device id, list of pings)."""
    if not isinstance(document, dict):
        raise BatchError({"body": "must be a JSON object with device_id and pings"})
    errors: dict[str, str] = {}
    named = document.get("device_id")
    if named is not None and (not isinstance(named, str) or not named.strip() or not named.isprintable()):
        errors["device_id"] = "must be a non-empty string of printable characters"
    elif named is None and device_id is None:
        errors["device_id"] = "is required"
    elif named is not None and device_id is not None and named != device_id:
        errors["device_id"] = f"{named!r} is not the authenticated device {device_id!r}"
    pings = document.get("pings")
    if not isinstance(pings, list) or not pings:
        errors["pings"] = "must be a non-empty list"
    elif len(pings) > MAX_PINGS:
        errors["pings"] = f"more than {MAX_PINGS} pings in one batch"
    if errors:
        raise BatchError(errors)
    return device_id or named, pings


def _ping(device_id: str, index: int, ping: Any, errors: dict[str, str]) -> Position | None:
    """Decode ping ``index``; problems are added to ``errors`` and None is returned."""
    where = f"pings[{index}]"
    if not isinstance(ping, dict):
        errors[where] = "must be a JSON object"
        return None
    values: dict[str, Any] = {}
    failed = False
    for name, parse in _PARSERS.items():
        if name in ping or name in ("fix_time", "lat", "lon"):
            try:
                values[name] = parse(name, ping.get(name))
            except DecodeError as error:
                errors[f"{where}.{name}"] = str(error)
                failed = True
    if failed:
        return None
    try:
        raw = canonical(ping)
    except DecodeError as error:
        errors[where] = str(error)
        return None
    extra = {key: value for key, value in ping.items() if key not in _KNOWN}
    return Position(device_id=device_id, protocol=PROTOCOL, raw=raw, extra=extra, **values)


def _fix_time(name: str, value: Any) -> datetime:
    """Parse the required fix time."""
    if value is None:
        raise DecodeError("is required")
    return parse_time(value)


def _coordinate(name: str, value: Any) -> float:
    """A required latitude or longitude in range."""
    if value is None:
        raise DecodeError("is required")
    return checked(name, value)


def _optional_number(name: str, value: Any) -> float | None:
    """An optional measurement in range (null means unknown)."""
    return None if value is None else checked(name, value)


def _satellites(name: str, value: Any) -> int | None:
    """An optional whole number of satellites."""
    if value is None:
        return None
    number = checked(name, value)
    if number != int(number):
        raise DecodeError("must be a whole number")
    return int(number)


def _valid(name: str, value: Any) -> bool:
    """The device's fix-validity indication (true when left out)."""
    if value is None:
        return True
    if not isinstance(value, bool):
        raise DecodeError("must be true or false")
    return value


_PARSERS = {"fix_time": _fix_time, "lat": _coordinate, "lon": _coordinate,
            **{name: _optional_number for name in _NUMERIC},
            "satellites": _satellites, "valid": _valid}
