"""Device identity checks the servers need outside the pipeline (TCP logins, OsmAnd statuses).

TCP protocols carry no secret: a device is admitted by its IMEI when that IMEI is a beacon
registered for the protocol it speaks, and, when the beacon names networks it connects from,
when the connection comes from one of them.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.domain.devices import address_allowed
from tracker.domain.tokens import hash_token, well_formed_token
from tracker.models import Beacon, DeviceKind, DeviceToken

MAX_DEVICE_ID_CHARS = 64   # as registered (tracker.models.Beacon.device_id)


def tcp_login_refusal(sessions: sessionmaker[Session], device_id: str, protocol: str,
                      address: str | None) -> str | None:
    """Return why a TCP login as ``device_id`` from ``address`` is refused, or None to admit it."""
    if not 1 <= len(device_id) <= MAX_DEVICE_ID_CHARS or not device_id.isprintable():
        return f"{device_id[:MAX_DEVICE_ID_CHARS]!r} is not a device id"
    with sessions() as session:
        beacon = session.scalars(select(Beacon).where(Beacon.device_id == device_id)).one_or_none()
        if beacon is None:
            return f"{device_id!r} is not a registered beacon"
        if beacon.protocol.value != protocol:
            return f"beacon {device_id!r} is registered for {beacon.protocol.value}, not {protocol}"
        if not address_allowed(beacon.allowed_networks, address or ""):
            return f"beacon {device_id!r} may not connect from {address}"
        return None


def key_refusal(sessions: sessionmaker[Session], device_id: str, key: str) -> tuple[int, str] | None:
    """Return (401 or 403, why) when ``key`` is not a live token of the beacon ``device_id``, or None.

    Used for messages that do not go through the pipeline (an OsmAnd status without a fix);
    the pipeline's ``AuthenticateDevice`` checks positions the same way.
    """
    if not well_formed_token(key):
        return 401, "the device key is not a beacon token"
    with sessions() as session:
        token = session.scalars(select(DeviceToken).where(
            DeviceToken.token_hash == hash_token(key), DeviceToken.kind == DeviceKind.BEACON,
            DeviceToken.revoked_at.is_(None))).one_or_none()
        beacon_id = session.scalar(select(Beacon.id).where(Beacon.device_id == device_id))
    if token is None:
        return 401, "the device key is not a live beacon token"
    if beacon_id is None:
        return 401, f"device {device_id!r} is not a registered beacon"
    if token.beacon_id != beacon_id:
        return 403, f"the device key is not the key of beacon {device_id!r}"
    return None
