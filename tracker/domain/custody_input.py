"""Reading a custody event from the station contract's JSON: every field checked at once.

The result is an unsaved ``CustodyEvent`` whose foreign keys are set as ids (its hash is
computed before it is flushed); ``custody.py`` decides what the event means.
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Mapping, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.gs1 import InvalidIdentifier, validate_sscc
from tracker.domain.plausibility import mass_problem, read_moment
from tracker.domain.text import text
from tracker.models import Checkpoint, Container, CustodyEvent, CustodyKind, Dealer, DeviceToken, User

Recorder = Union[User, DeviceToken]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _text(data: Mapping[str, Any], name: str, limit: int, errors: dict[str, str],
          required: bool = False) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        errors[name] = (text("required: text of at most {limit} characters", limit=limit) if required
                        else text("text of at most {limit} characters", limit=limit))
        return ""
    return value.strip()


def _event_time(data: Mapping[str, Any], errors: dict[str, str], now: datetime) -> datetime | None:
    moment, problem = read_moment(data.get("event_time"), now)  # offset, last 30 days, 5 min ahead at most
    if problem is not None:
        errors["event_time"] = problem
    return moment


def _zone(moment: datetime) -> str:
    minutes = int(moment.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _container(session: Session, data: Mapping[str, Any],
               errors: dict[str, str]) -> tuple[Container | None, str | None]:
    """Return the registered container and the SSCC; an unregistered but valid SSCC is no error."""
    try:
        sscc = validate_sscc(str(data.get("sscc", "")))
    except InvalidIdentifier as exc:
        errors["sscc"] = str(exc)
        return None, None
    return session.scalars(select(Container).where(Container.sscc == sscc)).one_or_none(), sscc


def _checkpoint(session: Session, recorder: Recorder, data: Mapping[str, Any],
                errors: dict[str, str]) -> Checkpoint | None:
    code = data.get("checkpoint")
    if isinstance(recorder, DeviceToken):
        own = recorder.checkpoint
        if code is not None and code != own.code:
            raise Forbidden(text("this station records at {own} only, not at {code}", own=own.code, code=code))
        return own
    if not isinstance(code, str) or not code:
        errors["checkpoint"] = text("required: a checkpoint code")
        return None
    checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one_or_none()
    if checkpoint is None:
        errors["checkpoint"] = text("no checkpoint {code}", code=code)
    return checkpoint


def _optional_party(session: Session, data: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or session.get(Dealer, value) is None:
        errors[name] = text("no dealer {dealer_id}", dealer_id=value)
        return None
    return value


def _scalars(data: Mapping[str, Any], errors: dict[str, str], container: Container | None) -> dict[str, Any]:
    """Check the plain fields: kind, seal, mass (within the container's capacity), digest, coordinates."""
    kind = data.get("kind")
    if kind not in {k.value for k in CustodyKind}:
        errors["kind"] = text("one of departure, arrival, inspection, handover")
    if not isinstance(data.get("seal_intact"), bool):
        errors["seal_intact"] = text("required: true or false")
    mass = data.get("measured_net_g")
    problem = None if mass is None else mass_problem(
        mass, capacity_g=container.capacity_g if container else None, sscc=container.sscc if container else None)
    if problem is not None:
        errors["measured_net_g"] = problem
    digest = data.get("photo_digest")
    if digest is not None and (not isinstance(digest, str) or not _HEX64.match(digest.lower())):
        errors["photo_digest"] = text("the photo's SHA-256 as 64 hexadecimal digits")
    coords = {}
    for name, limit in (("lat", 90), ("lon", 180)):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or abs(value) > limit):
            errors[name] = text("degrees within ±{limit}", limit=limit)
        coords[name] = float(value) if name not in errors and value is not None else None
    return {"kind": kind, "seal_intact": data.get("seal_intact"), "measured_net_g": mass,
            "photo_digest": digest.lower() if isinstance(digest, str) else None, **coords}


def read_custody_event(session: Session, recorder: Recorder, data: Mapping[str, Any], now: datetime) -> CustodyEvent:
    """Check every field at once and return the unsaved event (every foreign key as an id).

    A station's checkpoint is its own: naming another is refused (Forbidden).
    """
    errors: dict[str, str] = {}
    client_event_id = _text(data, "client_event_id", 64, errors, required=True)
    container, sscc = _container(session, data, errors)
    checkpoint = _checkpoint(session, recorder, data, errors)
    moment = _event_time(data, errors, now)
    fields = _scalars(data, errors, container)
    parties = {name: _optional_party(session, data, name, errors) for name in ("from_party_id", "to_party_id")}
    device = _text(data, "device", 120, errors)
    remarks = _text(data, "remarks", 2000, errors)
    if errors:
        raise ValidationFailed(errors)
    assert checkpoint is not None and moment is not None
    officer = recorder if isinstance(recorder, User) else None
    token = recorder if isinstance(recorder, DeviceToken) else None
    return CustodyEvent(
        client_event_id=client_event_id, checkpoint_id=checkpoint.id,
        container_id=container.id if container else None, unregistered_sscc=None if container else sscc,
        event_time=moment, event_time_zone=_zone(moment), device=device, remarks=remarks,
        officer_id=officer.id if officer else None, device_token_id=token.id if token else None,
        **parties, **{**fields, "kind": CustodyKind(fields["kind"])},
    )
