"""A beacon's kept messages in the portal: newest first, reason, protocol and raw bytes (escaped),
a page at a time, filtered by kind and reason; auditors and the licensing authority only."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy.orm import Session

from tracker.models import BeaconProtocol, DeviceMessage, Role

pytestmark = pytest.mark.usefixtures("fast_passwords")
START = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def kept(db: Session, make_beacon: Callable[..., Any]) -> Callable[..., DeviceMessage]:
    """Factory: a message kept from a device, ``minutes`` after START."""
    def make(device_id: str, minutes: int, kind: str = "heartbeat", reason: str = "GT06 0x13 heartbeat",
             raw: bytes = b"\x78\x78\x0a\x13", size: int | None = None) -> DeviceMessage:
        row = DeviceMessage(device_id=device_id, protocol=BeaconProtocol.GT06, kind=kind, reason=reason,
                            received_at=START + timedelta(minutes=minutes), raw=raw, size=size or len(raw))
        db.add(row)
        db.flush()
        return row
    return make


def rows(page: str) -> list[str]:
    """The ids of the listed messages, in order."""
    return re.findall(r'<tr id="message-(\d+)">', page)


def test_the_licensing_authority_reads_a_beacons_messages_newest_first_with_reason_and_hex(
        client, auth, make_user, make_beacon, kept) -> None:
    beacon, other = make_beacon(protocol=BeaconProtocol.GT06), make_beacon(protocol=BeaconProtocol.GT06)
    old = kept(beacon.device_id, 1, "login", "GT06 0x01 login without a position", bytes.fromhex("78780d01"))
    new = kept(beacon.device_id, 5, "unknown", "GT06 packet type 0xee <script>alert(1)</script>",
               bytes.fromhex("7878 05ee 0001 0d0a"), size=5000)
    kept(other.device_id, 3)
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    devices = client.get("/devices").get_data(as_text=True)
    assert f'href="/devices/beacons/{beacon.id}/messages"' in devices
    response = client.get(f"/devices/beacons/{beacon.id}/messages")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert rows(page) == [str(new.id), str(old.id)]
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "78 78 05 ee 00 01 0d 0a" in page and "78 78 0d 01" in page
    assert "unknown packet type" in page and ">gt06<" in page
    assert "(first 8 bytes kept)" in page                      # 5000 bytes received, 8 kept


def test_messages_are_filtered_by_kind_and_by_words_of_the_reason(client, auth, make_user, make_beacon,
                                                                   kept) -> None:
    beacon = make_beacon(protocol=BeaconProtocol.GT06)
    login = kept(beacon.device_id, 1, "login", "GT06 0x01 login without a position")
    refused = kept(beacon.device_id, 2, "refused", "login refused: beacon may not connect from 10.0.0.7")
    percent = kept(beacon.device_id, 3, "status", "battery 100% charged")
    auth.sign_in_as(make_user(Role.AUDITOR))
    url = f"/devices/beacons/{beacon.id}/messages"
    assert rows(client.get(url, query_string={"kind": "refused"}).get_data(as_text=True)) == [str(refused.id)]
    assert rows(client.get(url, query_string={"reason": "LOGIN"}).get_data(as_text=True)) == \
        [str(refused.id), str(login.id)]
    assert rows(client.get(url, query_string={"reason": "100%"}).get_data(as_text=True)) == [str(percent.id)]
    assert rows(client.get(url, query_string={"reason": "%"}).get_data(as_text=True)) == [str(percent.id)]
    nothing = client.get(url, query_string={"kind": "ping"}).get_data(as_text=True)
    assert rows(nothing) == [] and "No kept message matches this filter" in nothing
    every = client.get(url, query_string={"kind": "no-such-kind", "reason": "x" * 10_000})
    assert every.status_code == 200


def test_a_long_list_comes_a_page_at_a_time(client, auth, make_user, make_beacon, kept) -> None:
    beacon = make_beacon(protocol=BeaconProtocol.GT06)
    made = [kept(beacon.device_id, minute) for minute in range(30)]
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    url = f"/devices/beacons/{beacon.id}/messages"
    first = client.get(url).get_data(as_text=True)
    second = client.get(url, query_string={"page": "2"}).get_data(as_text=True)
    newest_first = [str(m.id) for m in reversed(made)]
    assert (rows(first), rows(second)) == (newest_first[:25], newest_first[25:])
    assert "26–30 of 30" in second


@pytest.mark.parametrize("role", [Role.TRADER, Role.CUSTOMS_OFFICER])
def test_other_roles_get_403_and_strangers_the_sign_in_page(client, auth, make_user, make_beacon, kept,
                                                            role) -> None:
    beacon = make_beacon()
    kept(beacon.device_id, 1, reason="secret reason")
    url = f"/devices/beacons/{beacon.id}/messages"
    signed_out = client.get(url)
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    auth.sign_in_as(make_user(role))
    response = client.get(url)
    assert response.status_code == 403 and "secret reason" not in response.get_data(as_text=True)


def test_an_unknown_beacon_is_not_found(client, auth, make_user) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    assert client.get("/devices/beacons/987654/messages").status_code == 404


def test_the_page_speaks_russian(db, client, auth, make_user, make_beacon, kept) -> None:
    beacon, admin = make_beacon(), make_user(Role.LICENSING_ADMIN)
    kept(beacon.device_id, 1, "malformed", "GT06 CRC mismatch")
    admin.language = "ru"
    db.flush()
    auth.sign_in_as(admin)
    page = client.get(f"/devices/beacons/{beacon.id}/messages").get_data(as_text=True)
    assert f"Сохранённые сообщения {beacon.device_id}" in page and "нечитаемые байты" in page
