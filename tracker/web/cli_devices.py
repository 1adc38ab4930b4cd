"""Flask CLI: ``device`` — register beacons, their keys and networks, issue station tokens, revoke, list."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from tracker.db import session_scope
from tracker.domain.devices import (
    IMEI_IDENTIFIED,
    beacon_by_device_id,
    issue_beacon_key,
    issue_station_token,
    register_beacon,
    revoke_device_token,
    set_allowed_networks,
)
from tracker.domain.errors import DomainError
from tracker.models import Beacon, BeaconProtocol, DeviceToken
from tracker.web.database import session_factory

device_group = AppGroup("device", help="Beacons and checkpoint stations, their tokens and networks.")
GATEWAY_URL = "http://GATEWAY-HOST:5055"


def _fail(exc: DomainError) -> None:
    raise click.ClickException(exc.message)


@device_group.command("add-beacon")
@click.option("--device-id", required=True, help="The beacon's id as it reports it (IMEI for most trackers).")
@click.option("--protocol", required=True, type=click.Choice([p.value for p in BeaconProtocol]))
@click.option("--owner", "owner_taxpayer", help="Taxpayer number of the dealer that owns it.")
@click.option("--period", "reporting_period_s", default=300, show_default=True, type=int,
              help="Seconds between reports (signal loss is two periods without one).")
@click.option("--description", default="")
def add_beacon(device_id: str, protocol: str, owner_taxpayer: str | None, reporting_period_s: int,
               description: str) -> None:
    """Register a beacon and print its bearer token (shown once, never stored)."""
    try:
        with session_scope(session_factory()) as session:
            _beacon, secret = register_beacon(session, device_id=device_id, protocol=protocol,
                                              owner_taxpayer=owner_taxpayer, description=description,
                                              reporting_period_s=reporting_period_s)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"beacon {device_id} registered; its token (shown once): {secret}")


@device_group.command("add-station")
@click.option("--checkpoint", "checkpoint_code", required=True, help="Checkpoint code of the station.")
@click.option("--name", default="", help="What the station is, e.g. 'Ak-Jol lane 2 scanner'.")
def add_station(checkpoint_code: str, name: str) -> None:
    """Issue a scanner station's bearer token for a checkpoint (shown once, never stored)."""
    try:
        with session_scope(session_factory()) as session:
            row, secret = issue_station_token(session, checkpoint_code=checkpoint_code, name=name)
            token_id = row.id
    except DomainError as exc:
        _fail(exc)
    click.echo(f"station token {token_id} for {checkpoint_code} (shown once): {secret}")


@device_group.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke device token TOKEN_ID at once."""
    try:
        with session_scope(session_factory()) as session:
            revoke_device_token(session, token_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"device token {token_id} revoked")


@device_group.command("list")
def list_tokens() -> None:
    """List device tokens: id, kind, what it stands for, last use, revoked."""
    with session_scope(session_factory()) as session:
        for row in session.scalars(select(DeviceToken).order_by(DeviceToken.id)):
            target = row.beacon.device_id if row.beacon else row.checkpoint.code if row.checkpoint else "?"
            used = f"{row.last_used_at:%Y-%m-%dT%H:%M:%SZ}" if row.last_used_at else "never used"
            revoked = f"revoked {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if row.revoked_at else "live"
            click.echo(f"{row.id:>5}  {row.kind.value:<8} {target:<18} {used:<22} {revoked}  {row.name}")


@device_group.command("set-key")
@click.option("--device-id", required=True, help="The beacon's id (IMEI).")
@click.option("--gateway-url", default=GATEWAY_URL, show_default=True,
              help="The gateway's HTTP address, to print the server URL for Traccar Client.")
def set_key(device_id: str, gateway_url: str) -> None:
    """Give a beacon a new key (OsmAnd ?key=, JSON bearer token), shown once; its old keys stop working."""
    try:
        with session_scope(session_factory()) as session:
            row, secret, revoked = issue_beacon_key(session, device_id)
            token_id, revoked_ids = row.id, [old.id for old in revoked]
    except DomainError as exc:
        _fail(exc)
    click.echo(f"beacon {device_id}: key {token_id} (shown once): {secret}")
    click.echo(f"Traccar Client server URL: {gateway_url.rstrip('/')}/?key={secret}")
    click.echo(f"revoked: {', '.join(map(str, revoked_ids))}" if revoked_ids else "no earlier key to revoke")


@device_group.command("set-networks")
@click.option("--device-id", required=True, help="The beacon's id (IMEI).")
@click.argument("networks", nargs=-1)
def set_networks(device_id: str, networks: tuple[str, ...]) -> None:
    """Let a TCP beacon connect only from NETWORKS (CIDR, IPv4 or IPv6); none: from any address."""
    try:
        with session_scope(session_factory()) as session:
            beacon = set_allowed_networks(session, device_id, networks)
            allowed = list(beacon.allowed_networks)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"beacon {device_id} may connect from {', '.join(allowed) if allowed else 'any address'}")


@device_group.command("show")
@click.option("--device-id", required=True, help="The beacon's id (IMEI).")
def show(device_id: str) -> None:
    """Show how a beacon proves who it is: its keys (never their secrets) and its networks."""
    try:
        with session_scope(session_factory()) as session:
            for line in _beacon_lines(beacon_by_device_id(session, device_id)):
                click.echo(line)
    except DomainError as exc:
        _fail(exc)


def _beacon_lines(beacon: Beacon) -> list[str]:
    """Describe a beacon's identity for ``show``."""
    keyless = beacon.protocol in IMEI_IDENTIFIED
    lines = [f"beacon {beacon.device_id}  protocol {beacon.protocol.value}  "
             + ("identified by IMEI (the protocol carries no key)" if keyless else "must send its key")]
    networks = ", ".join(beacon.allowed_networks) or "any address"
    lines.append(f"networks: {networks}" + ("" if keyless else " (checked for TCP protocols only)"))
    for row in beacon.tokens:
        used = f"last used {row.last_used_at:%Y-%m-%dT%H:%M:%SZ}" if row.last_used_at else "never used"
        state = f"revoked {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if row.revoked_at else "live"
        lines.append(f"key {row.id}: {state}, issued {row.created_at:%Y-%m-%dT%H:%M:%SZ}, {used}")
    if not any(row.revoked_at is None for row in beacon.tokens) and not keyless:
        lines.append("no live key: every message is refused until `device set-key` issues one")
    return lines
