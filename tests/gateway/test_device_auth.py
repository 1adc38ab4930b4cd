"""Devices prove who they are: the networks a TCP beacon may use, and an OsmAnd ping without its key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import UNAUTHORIZED, build_pipeline
from beacon_gateway.position import Position
from beacon_gateway.writer import BatchWriter, Submission
from tracker.domain.devices import MAX_NETWORKS, address_allowed, parse_networks
from tracker.domain.errors import ValidationFailed
from tracker.domain.tokens import issue_token
from tracker.models import BeaconProtocol

NETWORKS = ["203.0.113.0/24", "2001:db8::/32"]


@pytest.mark.parametrize(("address", "allowed"), [
    ("203.0.113.9", True),
    ("2001:db8::7", True),
    ("::ffff:203.0.113.9", True),             # an IPv4 device seen by a dual-stack listener
    ("2001:db8::7%eth0", True),               # a link-local zone suffix does not hide the address
    ("198.51.100.1", False),
    ("2001:db9::1", False),
    ("", False),
    ("203.0.113.9\x00", False),
])
def test_a_peer_address_is_allowed_only_inside_the_beacons_networks(address: str, allowed: bool) -> None:
    assert address_allowed(NETWORKS, address) is allowed


def test_no_networks_allow_any_address() -> None:
    assert address_allowed([], "198.51.100.1") and address_allowed([], "")


def test_networks_are_written_out_canonically_once_each() -> None:
    assert parse_networks([" 203.0.113.0/24 ", "2001:DB8:0::/32", "", "198.51.100.7", "203.0.113.0/24"]) == \
        ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "office", "10.0.0.0/33", "1" * 10_000, "10.0.0.0/8\x00",
                                   "\udc80", "::/129"])
def test_anything_but_a_network_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_networks(["192.0.2.0/24", entry])
    assert "CIDR" in str(refused.value.errors["allowed_networks"])
    assert len(str(refused.value.errors["allowed_networks"])) < 300     # a huge entry is not echoed whole


def test_more_networks_than_the_ceiling_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        parse_networks([f"10.{n}.0.0/16" for n in range(MAX_NETWORKS + 1)])


def test_an_osmand_ping_without_a_key_is_refused_by_the_pipeline_itself(db, sessions: sessionmaker[Session],
                                                                        make_beacon) -> None:
    # Whatever a server forgets, an OsmAnd fix never reaches the database without its key.
    beacon = make_beacon(protocol=BeaconProtocol.OSMAND)
    _, key = issue_token(db, name="phone", beacon=beacon)
    db.flush()
    writer = BatchWriter(sessions, build_pipeline(GatewaySettings(database_url="sqlite://")))
    when = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    fix = Position(device_id=beacon.device_id, fix_time=when, lat=40.5, lon=72.8, protocol="osmand", raw=b"x")
    keyless, keyed = Submission([fix]), Submission([fix], key)
    writer.write([keyless])
    writer.write([keyed])
    assert [r.code for r in keyless.future.result().rejected] == [UNAUTHORIZED]
    assert keyed.future.result().stored == 1
