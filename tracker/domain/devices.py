"""Beacons and checkpoint stations: registering them and issuing their bearer tokens."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, NotFound, ValidationFailed
from tracker.domain.text import text
from tracker.domain.tokens import issue_token, revoke_token
from tracker.models import Beacon, BeaconProtocol, Checkpoint, Dealer, DeviceToken, User


def register_beacon(session: Session, *, device_id: str, protocol: str, owner_taxpayer: str | None = None,
                    reporting_period_s: int = 300, description: str = "",
                    created_by: User | None = None) -> tuple[Beacon, str]:
    """Register a beacon by its device id (IMEI) and return it with its token (shown once)."""
    errors: dict[str, str] = {}
    device_id = device_id.strip()
    if not device_id or len(device_id) > 64:
        errors["device_id"] = text("1 to 64 characters (the IMEI for most trackers)")
    if protocol not in {p.value for p in BeaconProtocol}:
        errors["protocol"] = text("one of {values}", values=", ".join(p.value for p in BeaconProtocol))
    if not 1 <= reporting_period_s <= 86_400:
        errors["reporting_period_s"] = text("1..86400 seconds")
    owner = None
    if owner_taxpayer:
        owner = session.scalars(select(Dealer).where(Dealer.taxpayer_number == owner_taxpayer)).one_or_none()
        if owner is None:
            errors["owner"] = text("no dealer with taxpayer number {taxpayer_number}",
                                   taxpayer_number=owner_taxpayer)
    if errors:
        raise ValidationFailed(errors)
    if session.scalar(select(Beacon.id).where(Beacon.device_id == device_id)) is not None:
        raise Conflict(text("beacon {device_id} is already registered", device_id=device_id))
    beacon = Beacon(device_id=device_id, protocol=BeaconProtocol(protocol), owner=owner,
                    reporting_period_s=reporting_period_s, description=description)
    session.add(beacon)
    session.flush()
    _row, secret = issue_token(session, name=description or f"beacon {device_id}", beacon=beacon,
                               created_by=created_by)
    return beacon, secret


def issue_station_token(session: Session, *, checkpoint_code: str, name: str,
                        created_by: User | None = None) -> tuple[DeviceToken, str]:
    """Issue a token for a scanner station at a checkpoint; return the row and the secret (shown once)."""
    checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.code == checkpoint_code)).one_or_none()
    if checkpoint is None:
        raise NotFound(text("no checkpoint {code}", code=checkpoint_code))
    return issue_token(session, name=name or f"{checkpoint_code} scanner station", checkpoint=checkpoint,
                       created_by=created_by)


def revoke_device_token(session: Session, token_id: int) -> DeviceToken:
    """Revoke a device token at once; requests with it are refused from now on."""
    row = session.get(DeviceToken, token_id)
    if row is None:
        raise NotFound(text("no device token {token_id}", token_id=token_id))
    if row.revoked_at is not None:
        raise Conflict(text("device token {token_id} is already revoked", token_id=token_id))
    revoke_token(row)
    session.flush()
    return row
