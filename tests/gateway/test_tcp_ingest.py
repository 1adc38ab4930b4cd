"""TCP ingestion with real sockets: Teltonika, GT06 and NMEA with literal packets; who may log in."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.helpers import LiveGateway, iter_fixes, recv_exactly, teltonika_handshake, teltonika_packet
from beacon_gateway.servers import Ingest
from beacon_gateway.servers.tcp import TcpListener, gt06_session, teltonika_session
from beacon_gateway.writer import NotStored
from tracker.models import BeaconProtocol, DeviceMessage, DeviceTraffic
from tracker.models import Position as PositionRow

# Teltonika's published Codec 8 example: IMEI 356307042441013 and one AVL record.
TELTONIKA_IMEI = "356307042441013"
TELTONIKA_HANDSHAKE = bytes.fromhex("000F333536333037303432343431303133")
TELTONIKA_PACKET = bytes.fromhex(
    "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A01"
    "4E0000000000000000010000C7CF")
# Captured GT06 packets (as in Traccar's decoder tests): login of 0864717003283581 with the
# answer echoing its serial, and a GPS location 0x12 (which GT06 leaves unanswered).
GT06_IMEI = "864717003283581"
GT06_LOGIN = bytes.fromhex("78780D01086471700328358100093F040D0A")
GT06_LOGIN_ACK = bytes.fromhex("78780501000955940d0a")
GT06_LOCATION = bytes.fromhex("787821121303120b2524c70138e363085b549003d43301940057d200cd52c000006aa1ca0d0a")


@pytest.fixture
def listen(sessions: sessionmaker[Session]) -> Iterator[Callable[..., tuple[str, int]]]:
    """Start a TCP listener for a protocol session on the test's transaction; return its address."""
    live = LiveGateway(sessions)
    started: list[TcpListener] = []

    def start(session: Any, ingest: Ingest | None = None, host: str = "127.0.0.1") -> tuple[str, int]:
        listener = live.call(TcpListener(session, ingest or live.ingest).start(host, 0))
        started.append(listener)
        return listener.server.sockets[0].getsockname()[:2]

    start.live = live  # type: ignore[attr-defined]
    yield start

    async def stop_all() -> None:
        for listener in started:
            await listener.stop()

    live.close(stop_all)


def rows(db: Session, beacon_id: int) -> list[PositionRow]:
    db.expire_all()
    return list(db.scalars(select(PositionRow).where(PositionRow.beacon_id == beacon_id)
                           .order_by(PositionRow.fix_time)))


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def ipv6_loopback() -> bool:
    """Return whether this machine can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_teltonika_spec_example_is_acknowledged_with_its_record_count_after_commit(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA)
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(TELTONIKA_PACKET)
        assert recv_exactly(sock, 4) == (1).to_bytes(4, "big")
        [row] = rows(db, beacon.id)  # committed before the answer came
    assert row.fix_time == datetime(2019, 6, 10, 10, 4, 46, tzinfo=timezone.utc)
    assert row.raw and row.raw in TELTONIKA_PACKET and row.protocol == BeaconProtocol.TELTONIKA  # its AVL record
    assert "null_island" in row.flags


def test_teltonika_packets_in_one_session_each_get_their_count(db, listen, make_beacon) -> None:
    beacon = make_beacon(protocol=BeaconProtocol.TELTONIKA)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    fixes = list(iter_fixes(start, 5))
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(teltonika_handshake(beacon.device_id))
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(teltonika_packet(fixes[:3]) + teltonika_packet(fixes[3:]))  # one write, two packets
        assert recv_exactly(sock, 8) == (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
        sock.sendall(teltonika_packet(fixes[:3]))  # resent after a lost answer: nothing new
        assert recv_exactly(sock, 4) == (3).to_bytes(4, "big")
    assert [(r.fix_time, r.lat) for r in rows(db, beacon.id)] == [(t, pytest.approx(lat)) for t, lat, _ in fixes]


def test_teltonika_unknown_imei_gets_0x00_and_is_hung_up_on(listen) -> None:
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(teltonika_handshake("352093081452251"))
        assert sock.recv(8) == b"\x00"
        assert sock.recv(8) == b""


def test_teltonika_packet_with_a_bad_crc_is_not_acknowledged(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA)
    damaged = TELTONIKA_PACKET[:-1] + b"\x00"
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(damaged + TELTONIKA_PACKET)
        assert recv_exactly(sock, 4) == (1).to_bytes(4, "big")  # only the good one is answered
    assert len(rows(db, beacon.id)) == 1


def test_teltonika_positions_not_stored_are_not_acknowledged(db, listen, make_beacon) -> None:
    class Failing(Ingest):
        async def store(self, positions: Any, token: str | None = None) -> Any:
            raise NotStored("database down")

    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA)
    live = listen.live  # type: ignore[attr-defined]
    with connect(listen(teltonika_session, Failing(live.writer, live.ingest.sessions))) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(TELTONIKA_PACKET)
        assert sock.recv(8) == b""  # hung up without the record count: the device resends
    assert rows(db, beacon.id) == []


def test_gt06_login_then_location_is_answered_and_stored(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN)
        assert recv_exactly(sock, len(GT06_LOGIN_ACK)) == GT06_LOGIN_ACK
        sock.sendall(GT06_LOCATION)
        sock.sendall(GT06_LOGIN)  # a second answer proves the location before it was handled
        assert recv_exactly(sock, len(GT06_LOGIN_ACK)) == GT06_LOGIN_ACK
    [row] = rows(db, beacon.id)
    assert row.fix_time == datetime(2019, 3, 18, 11, 37, 36, tzinfo=timezone.utc)
    assert (round(row.lat, 6), round(row.lon, 6), row.speed_kmh) == (11.391913, 77.89064, 3.0)
    assert row.raw == GT06_LOCATION


def test_gt06_login_of_an_unknown_device_is_hung_up_on(listen) -> None:
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN)
        assert sock.recv(16) == b""


def test_gt06_location_before_login_is_hung_up_on(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOCATION)
        assert sock.recv(16) == b""
    assert rows(db, beacon.id) == []


# The classic NMEA 0183 examples (RMC and GGA of one fix), a damaged line, then a second fix.
NMEA_LINES = (
    b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
    b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
    b"$GPGGA,123520,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*00\r\n"
    b"$GPRMC,123521,A,4807.100,N,01131.000,E,022.4,084.4,230394,003.1,W*6B\r\n"
)


def test_nmea_receiver_is_identified_by_its_first_line_and_its_fixes_stored(db, listen, make_beacon) -> None:
    beacon = make_beacon(protocol=BeaconProtocol.NMEA)
    from beacon_gateway.servers.nmea import nmea_session

    with connect(listen(nmea_session)) as sock:
        sock.sendall(beacon.device_id.encode() + b"\r\n" + NMEA_LINES)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(16) == b""  # closed only after the last fix was stored
    first, second = rows(db, beacon.id)
    assert first.fix_time == datetime(1994, 3, 23, 12, 35, 19, tzinfo=timezone.utc)
    assert (round(first.lat, 6), round(first.lon, 6), first.altitude_m, first.satellites) == \
        (48.1173, 11.516667, 545.4, 8)
    assert second.fix_time == datetime(1994, 3, 23, 12, 35, 21, tzinfo=timezone.utc)


def test_nmea_receiver_with_an_unknown_id_is_hung_up_on(listen) -> None:
    from beacon_gateway.servers.nmea import nmea_session

    with connect(listen(nmea_session)) as sock:
        sock.sendall(b"not-a-beacon\r\n" + NMEA_LINES)
        assert sock.recv(16) == b""


# ------------------------------------------------------------------ who may log in: IMEI, protocol, address
def test_teltonika_from_an_allowed_network_is_admitted(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA,
                         allowed_networks=["203.0.113.0/24", "127.0.0.0/8"])
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(TELTONIKA_PACKET)
        assert recv_exactly(sock, 4) == (1).to_bytes(4, "big")
    assert len(rows(db, beacon.id)) == 1


def test_teltonika_from_outside_its_networks_gets_0x00_and_nothing_is_stored(db, listen, make_beacon,
                                                                             caplog) -> None:
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA,
                         allowed_networks=["203.0.113.0/24", "2001:db8::/32"])
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE + TELTONIKA_PACKET)
        assert sock.recv(8) == b"\x00"
        assert sock.recv(8) == b""
    assert rows(db, beacon.id) == []
    assert f"'{TELTONIKA_IMEI}' may not connect from 127.0.0.1" in caplog.text


def test_gt06_login_from_outside_its_networks_is_hung_up_on_without_an_answer(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06, allowed_networks=["10.0.0.0/8"])
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN + GT06_LOCATION)
        assert sock.recv(16) == b""
    assert rows(db, beacon.id) == []


def test_nmea_receiver_from_outside_its_networks_is_hung_up_on(db, listen, make_beacon) -> None:
    from beacon_gateway.servers.nmea import nmea_session

    beacon = make_beacon(protocol=BeaconProtocol.NMEA, allowed_networks=["192.0.2.7/32"])
    with connect(listen(nmea_session)) as sock:
        sock.sendall(beacon.device_id.encode() + b"\r\n" + NMEA_LINES)
        assert sock.recv(16) == b""
    assert rows(db, beacon.id) == []


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_device_is_admitted_by_an_ipv6_network_and_refused_by_an_ipv4_one(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA, allowed_networks=["::1/128"])
    address = listen(teltonika_session, host="::1")
    with connect(address) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
    beacon.allowed_networks = ["127.0.0.0/8"]
    db.flush()
    with connect(address) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert sock.recv(8) == b"\x00"


def test_imei_of_a_beacon_that_has_a_key_cannot_log_in_over_tcp(db, listen, make_beacon) -> None:
    # The OsmAnd phone's IMEI is no way in through a keyless protocol.
    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.OSMAND)
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE + TELTONIKA_PACKET)
        assert sock.recv(8) == b"\x00"
        assert sock.recv(8) == b""
    assert rows(db, beacon.id) == []


@pytest.mark.parametrize("first_line", [b"35693803\x005643809", b"9" * 65, b"\x1b[2J"])
def test_nmea_receiver_naming_no_device_id_is_hung_up_on(db, listen, first_line) -> None:
    from beacon_gateway.servers.nmea import nmea_session

    with connect(listen(nmea_session)) as sock:
        sock.sendall(first_line + b"\r\n" + NMEA_LINES)
        assert sock.recv(16) == b""
    assert db.scalar(select(PositionRow.id).limit(1)) is None


# ------------------------------------------------------------------ framing never gives up; nothing dropped silently
def evidence(db: Session, device_id: str | None) -> list[tuple[str, bytes]]:
    db.expire_all()
    return [(m.kind, m.raw) for m in db.scalars(select(DeviceMessage).where(DeviceMessage.device_id == device_id)
                                                 .order_by(DeviceMessage.id))]


def traffic(db: Session, beacon_id: int, live: LiveGateway) -> tuple[int, int, int, int, int]:
    live.writer.flush_traffic()        # counts are gathered in memory and written every few seconds
    row = db.get(DeviceTraffic, beacon_id)
    db.refresh(row)
    return row.messages, row.positions, row.unknown, row.refused, row.unrecorded


# Extended login of 864717003283581 with time zone UTC+6 (2582), answered with serial 1; a 0x22
# location at 16:30 device time (10:30 UTC); a 0x12 location; heartbeat 0x23 and time request 0x8A.
GT06_LOGIN_TZ = bytes.fromhex("7878110108647170032835813620258200013c730d0a")
GT06_0X22_LOCAL = bytes.fromhex(
    "787822221a0c04101e00c9049998d80800acf028140001ad01123400abcd010000001656770d0a")
GT06_HEARTBEAT_23 = bytes.fromhex("78780b23460190040002001166210d0a")
GT06_TIME_REQUEST = bytes.fromhex("7878058a0005bab20d0a")
# a length of 0 (a broken Wi-Fi packet of an unknown type): not a packet at all
GT06_GARBAGE = bytes.fromhex("787800550102030d0a")


def test_gt06_garbage_between_two_locations_is_kept_and_skipped(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN_TZ + GT06_0X22_LOCAL + GT06_GARBAGE + GT06_LOCATION + GT06_HEARTBEAT_23
                     + GT06_TIME_REQUEST)
        assert recv_exactly(sock, 10) == bytes.fromhex("787805010001d9dc0d0a")          # login
        assert recv_exactly(sock, 10)[:6] == bytes.fromhex("787805230011")               # heartbeat 0x23
        time_answer = recv_exactly(sock, 16)                                               # time request
        assert time_answer[:4] == bytes.fromhex("78780b8a") and time_answer[10:12] == b"\x00\x05"
        assert datetime(2000 + time_answer[4], *time_answer[5:10], tzinfo=timezone.utc) > \
            datetime.now(timezone.utc) - timedelta(minutes=1)
    first, second = rows(db, beacon.id)
    # the login's time zone (UTC+6) applies to both locations' device times
    assert second.fix_time == datetime(2026, 12, 4, 10, 30, tzinfo=timezone.utc) and second.raw == GT06_0X22_LOCAL
    assert first.fix_time == datetime(2019, 3, 18, 5, 37, 36, tzinfo=timezone.utc) and first.raw == GT06_LOCATION
    assert evidence(db, GT06_IMEI) == [("login", GT06_LOGIN_TZ), ("malformed", GT06_GARBAGE),
                                       ("heartbeat", GT06_HEARTBEAT_23), ("time_request", GT06_TIME_REQUEST)]
    assert traffic(db, beacon.id, listen.live) == (6, 2, 1, 0, 0)


def test_gt06_unknown_packet_type_is_kept_and_the_connection_stays(db, listen, make_beacon) -> None:
    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    unknown = bytes.fromhex("7878075f010200151aef0d0a")
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN + unknown + GT06_LOGIN)
        assert recv_exactly(sock, 20) == GT06_LOGIN_ACK * 2
    assert evidence(db, GT06_IMEI)[1] == ("unknown", unknown)
    assert traffic(db, beacon.id, listen.live)[:3] == (3, 0, 1)


def test_gt06_refused_login_is_kept_as_evidence(db, listen) -> None:
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN)
        assert sock.recv(16) == b""
    assert evidence(db, GT06_IMEI) == [("refused", GT06_LOGIN)]


def test_teltonika_garbage_ping_and_command_answer_between_records(db, listen, make_beacon) -> None:
    from tests.gateway.test_decode_teltonika import CODEC7, CODEC12_ANSWER

    beacon = make_beacon(device_id=TELTONIKA_IMEI, protocol=BeaconProtocol.TELTONIKA)
    garbage = b"\x13\x37not a packet"
    with connect(listen(teltonika_session)) as sock:
        sock.sendall(TELTONIKA_HANDSHAKE)
        assert recv_exactly(sock, 1) == b"\x01"
        sock.sendall(CODEC7 + garbage + b"\xff" + CODEC12_ANSWER + TELTONIKA_PACKET)
        # codec 7 and codec 8 each answered with their record count; the ping and the command
        # answer get none, and the garbage does not close the connection
        assert recv_exactly(sock, 8) == (1).to_bytes(4, "big") * 2
    codec8, codec7 = rows(db, beacon.id)
    assert codec7.fix_time == datetime(2026, 12, 4, 10, 30, tzinfo=timezone.utc) and codec7.raw in CODEC7
    assert codec8.fix_time == datetime(2019, 6, 10, 10, 4, 46, tzinfo=timezone.utc)
    assert evidence(db, TELTONIKA_IMEI) == [("login", TELTONIKA_HANDSHAKE), ("malformed", garbage),
                                            ("ping", b"\xff"), ("command_response", CODEC12_ANSWER)]
    assert traffic(db, beacon.id, listen.live) == (6, 2, 1, 0, 0)


def test_a_device_flooding_garbage_is_counted_but_its_bytes_kept_only_up_to_its_bound(db, listen, make_beacon) -> None:
    from beacon_gateway.evidence import EvidenceBound

    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    live = listen.live  # type: ignore[attr-defined]
    bounded = Ingest(live.writer, live.ingest.sessions, bound=EvidenceBound(per_hour=2))
    unknown = bytes.fromhex("7878075f010200151aef0d0a")
    with connect(listen(gt06_session, bounded)) as sock:
        sock.sendall(GT06_LOGIN + unknown * 3 + GT06_LOGIN)
        assert recv_exactly(sock, 20) == GT06_LOGIN_ACK * 2
    assert evidence(db, GT06_IMEI) == [("login", GT06_LOGIN), ("unknown", unknown)]
    assert traffic(db, beacon.id, listen.live) == (5, 0, 3, 0, 3)


def test_the_admins_device_page_shows_each_beacons_counts(db, listen, make_beacon, make_user, auth, client) -> None:
    import re

    from tracker.models import Role

    beacon = make_beacon(device_id=GT06_IMEI, protocol=BeaconProtocol.GT06)
    quiet = make_beacon(protocol=BeaconProtocol.GT06)
    with connect(listen(gt06_session)) as sock:
        sock.sendall(GT06_LOGIN + GT06_LOCATION + GT06_GARBAGE + bytes.fromhex("7878075f010200151aef0d0a")
                     + GT06_LOGIN)
        assert recv_exactly(sock, 20) == GT06_LOGIN_ACK * 2
    listen.live.writer.flush_traffic()
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    page = client.get("/devices").get_data(as_text=True)
    block = page[page.index(f'id="traffic-{beacon.device_id}"'):]
    block = block[:block.index("</dl>")]
    counts = dict(re.findall(r'data-count="(\w+)">([\d\s\u00a0,]+)<', block))
    assert {name: int(re.sub(r"\D", "", value)) for name, value in counts.items()} == {
        "messages": 5, "positions": 1, "unknown": 2, "refused": 0}
    assert f'id="traffic-{quiet.device_id}"' not in page and "Nothing received yet" in page
