"""Beacons and checkpoint stations: registering them, their secrets and where they may connect from.

A beacon's secret is its device token: the bearer token of the native JSON protocol and the
``key`` of the OsmAnd protocol. TCP protocols (GT06, Teltonika, NMEA) cannot carry one: such a
beacon is known by its IMEI, and may be held to a list of networks it connects from.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, NotFound, ValidationFailed
from tracker.domain.text import listed, text
from tracker.domain.tokens import issue_token, revoke_token
from tracker.models import Beacon, BeaconProtocol, Checkpoint, Dealer, DeviceToken, User

#: Protocols whose messages carry no secret: the beacon is identified by its IMEI (and address).
IMEI_IDENTIFIED = frozenset({BeaconProtocol.NMEA, BeaconProtocol.TELTONIKA, BeaconProtocol.GT06})
MAX_NETWORKS = 32
MAX_NETWORK_CHARS = 64   # the longest IPv6 network written out is 43 characters


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
        errors["reporting_period_s"] = text("1–86400 seconds")
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


def beacon_by_device_id(session: Session, device_id: str) -> Beacon:
    """Return the beacon registered under ``device_id``; NotFound when there is none."""
    beacon = session.scalars(select(Beacon).where(Beacon.device_id == device_id.strip())).one_or_none()
    if beacon is None:
        raise NotFound(text("no beacon {device_id}", device_id=device_id))
    return beacon


def issue_beacon_key(session: Session, device_id: str,
                     created_by: User | None = None) -> tuple[DeviceToken, str, list[DeviceToken]]:
    """Give a beacon a new secret (bearer token and OsmAnd key) and revoke the ones it had.

    Returns the new row, its secret (shown once) and the rows revoked: a leaked key stops
    working the moment its replacement is issued.
    """
    beacon = beacon_by_device_id(session, device_id)
    revoked = [row for row in beacon.tokens if row.revoked_at is None]
    for row in revoked:
        revoke_token(row)
    row, secret = issue_token(session, name=beacon.description or f"beacon {beacon.device_id}",
                              beacon=beacon, created_by=created_by)
    return row, secret, revoked


def parse_networks(entries: Iterable[str]) -> list[str]:
    """Return the CIDR networks (IPv4 or IPv6) written out canonically; blank entries are skipped.

    Raises ValidationFailed on ``allowed_networks`` naming every entry that is not a network.
    """
    networks: list[str] = []
    bad: list[str] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            if len(entry) > MAX_NETWORK_CHARS:
                raise ValueError(entry)
            networks.append(str(ipaddress.ip_network(entry, strict=True)))
        except ValueError:
            bad.append(repr(entry[:MAX_NETWORK_CHARS]))
    if bad:
        raise ValidationFailed({"allowed_networks": text(
            "not a network in CIDR notation (such as 203.0.113.0/24 or 2001:db8::/32): {entries}",
            entries=listed(bad))})
    if len(networks) > MAX_NETWORKS:
        raise ValidationFailed({"allowed_networks": text("at most {count} networks", count=MAX_NETWORKS)})
    return list(dict.fromkeys(networks))


def set_allowed_networks(session: Session, device_id: str, entries: Iterable[str]) -> Beacon:
    """Replace the networks a beacon may connect from (no entries: any address)."""
    networks = parse_networks(entries)
    beacon = beacon_by_device_id(session, device_id)
    beacon.allowed_networks = networks
    session.flush()
    return beacon


def address_allowed(networks: Sequence[str], address: str) -> bool:
    """Return whether ``address`` (a peer's IP address) is inside one of ``networks`` (empty: any)."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])      # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped                                       # a dual-stack socket's IPv4 peer
    return any(ip in ipaddress.ip_network(network) for network in networks)
