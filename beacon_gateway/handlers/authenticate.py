"""Authenticate devices: every ping must come from a registered beacon, with its secret where it has one.

The native JSON protocol carries the beacon's token as a bearer token, OsmAnd as its ``key``;
both are the same secret, stored as a SHA-256 hash and compared in constant time. TCP
protocols carry none: their logins are checked by ``beacon_gateway.auth`` (IMEI, protocol,
address) before any position arrives. MQTT devices authenticate to the broker.
"""
from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from beacon_gateway.config import GatewaySettings
from beacon_gateway.decoders import osmand
from beacon_gateway.pipeline import FORBIDDEN, UNAUTHORIZED, Batch, Ping
from tracker.db import among
from tracker.domain.tokens import hash_token, well_formed_token
from tracker.models import Beacon, DeviceKind, DeviceToken

log = logging.getLogger(__name__)

#: last_used_at is refreshed at most this often, so busy beacons do not write it per request
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)
#: Protocols whose every message must carry the device's secret. (A native JSON batch without
#: its bearer token is refused by the HTTP server before it is even decoded.)
SECRET_REQUIRED = frozenset({osmand.PROTOCOL})


class AuthenticateDevice:
    """Resolve each ping's device id to a beacon and check its bearer token when one came."""

    name = "authenticate"
    needs_savepoint = True

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: registration and tokens live in the database."""

    def __call__(self, batch: Batch) -> None:
        """Attach beacon ids; refuse unknown devices, bad tokens and other beacons' tokens."""
        live = batch.live()
        beacons = lock_registered(batch, {ping.position.device_id for ping in live})
        tokens = self._tokens(batch, {ping.token for ping in live if ping.token})
        refused: dict[int, Ping] = {}
        for ping in live:
            self._check(ping, beacons, tokens)
            if ping.rejection is not None:
                refused.setdefault(ping.submission, ping)
        for ping in refused.values():  # once per submission, however many pings it had
            log.warning("%s ping of %r refused: %s", ping.position.protocol, ping.position.device_id, ping.reason)
        self._touch(batch, {tokens[ping.token].id for ping in live
                            if ping.rejection is None and ping.token in tokens})

    @staticmethod
    def _tokens(batch: Batch, secrets: set[str]) -> dict[str, DeviceToken]:
        hashes = {hash_token(secret): secret for secret in secrets if well_formed_token(secret)}
        if not hashes:
            return {}
        rows = batch.session.scalars(select(DeviceToken).where(
            DeviceToken.token_hash.in_(hashes), DeviceToken.kind == DeviceKind.BEACON,
            DeviceToken.revoked_at.is_(None)))
        # The index found the row; the hashes are compared once more in constant time.
        return {hashes[row.token_hash]: row for row in rows
                if hmac.compare_digest(row.token_hash, hash_token(hashes[row.token_hash]))}

    @staticmethod
    def _check(ping: Ping, beacons: dict[str, int], tokens: dict[str, DeviceToken]) -> None:
        device_id = ping.position.device_id
        beacon_id = beacons.get(device_id)
        if ping.token is None and ping.position.protocol in SECRET_REQUIRED:
            ping.reject(UNAUTHORIZED, f"a {ping.position.protocol} message must carry the device key")
        elif ping.token is not None and ping.token not in tokens:
            ping.reject(UNAUTHORIZED, "the bearer token is not a live beacon token")
        elif beacon_id is None:
            ping.reject(UNAUTHORIZED, f"device {device_id!r} is not a registered beacon")
        elif ping.token is not None and tokens[ping.token].beacon_id != beacon_id:
            ping.reject(FORBIDDEN, f"the bearer token is not the token of beacon {device_id!r}")
        else:
            ping.beacon_id = beacon_id

    @staticmethod
    def _touch(batch: Batch, token_ids: set[int]) -> None:
        if not token_ids:
            return
        stale = batch.now - TOKEN_TOUCH_INTERVAL
        batch.session.execute(
            update(DeviceToken)
            .where(DeviceToken.id.in_(sorted(token_ids)),
                   or_(DeviceToken.last_used_at.is_(None), DeviceToken.last_used_at < stale))
            .values(last_used_at=batch.now)
            .execution_options(synchronize_session=False))


def lock_registered(batch: Batch, device_ids: set[str]) -> dict[str, int]:
    """Return the registered beacons among ``device_ids`` (device id -> beacon id), holding their rows.

    The rows stay locked until commit (PostgreSQL; SQLite has one writer anyway), so one
    gateway process at a time works on a beacon, and the flags and the evaluation of a
    batch see every fix another process committed for it. Locks are taken in id order, so
    two processes never wait on each other in a cycle. A beacon whose ping is then refused
    (a wrong token) is locked too, for this short transaction only.
    """
    if not device_ids:
        return {}
    rows = batch.session.execute(select(Beacon.device_id, Beacon.id)
                                 .where(among(batch.session, Beacon.device_id, sorted(device_ids)))
                                 .order_by(Beacon.id).with_for_update())
    return {device_id: beacon_id for device_id, beacon_id in rows}
