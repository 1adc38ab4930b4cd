"""The simulator's other packet types: each GT06 location/alarm layout and each Teltonika codec,
encoded by the simulator and decoded by the gateway's decoder, gives back the same fix; and
``simulate --packet`` drives a live gateway with them."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.cli import main
from beacon_gateway.decoders import gt06, teltonika
from beacon_gateway.position import Position
from beacon_gateway.simulator import Simulation, packets
from tracker.domain import geography as geo

IMEI = "356307042441013"
DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
SAMPLE = list(Simulation(geo.KHAIDARKAN_AKJOL, DEPARTED, device_id=IMEI, seed=5).positions())[400:403]
SOUTH_WEST = replace(SAMPLE[0], lat=-33.4489, lon=-70.6693, course=271.0, satellites=4)


def _same_fix(back: Position, original: Position, degrees: float, kmh: float, course: float,
              seconds: float = 0.0) -> None:
    assert abs((back.fix_time - original.fix_time).total_seconds()) <= seconds
    assert back.lat == pytest.approx(original.lat, abs=degrees)
    assert back.lon == pytest.approx(original.lon, abs=degrees)
    assert back.speed_kmh == pytest.approx(original.speed_kmh, abs=kmh)
    assert back.course == pytest.approx(original.course, abs=course)
    assert (back.satellites, back.valid, back.device_id) == (original.satellites, original.valid, IMEI)


@pytest.mark.parametrize("packet", packets.GT06_PACKETS)
def test_each_gt06_packet_the_simulator_sends_decodes_back_to_the_same_fix(packet: str) -> None:
    number = int(packet, 16)
    for serial, original in enumerate([*SAMPLE, SOUTH_WEST], start=2):
        alarmed = replace(original, extra={"alarm": "overspeed", "ignition": serial % 2 == 0})
        message = gt06.decode_frame(packets.gt06_located(number, alarmed, serial), IMEI)
        (back,) = message.positions
        _same_fix(back, original, degrees=1e-6, kmh=0.5, course=0.5)
        assert (message.protocol_number, message.serial, back.extra["packet"]) == (number, serial, packet)
        assert message.kind == gt06.LAYOUTS[number].kind
        if gt06.LAYOUTS[number].alarm:
            assert (back.extra["alarm"], back.extra["ignition"]) == ("overspeed", serial % 2 == 0)
            assert gt06.ack(message) is not None                # alarms are answered
        if gt06.LAYOUTS[number].tail == "acc":
            assert back.extra["ignition"] is (serial % 2 == 0)
        if gt06.LAYOUTS[number].cell is not None:
            assert back.extra["cell"]["mcc"] == 437


@pytest.mark.parametrize("codec, number, degrees, kmh, course, seconds", [
    ("8", 0x08, 1e-7, 0.5, 0.5, 0.001), ("8e", 0x8E, 1e-7, 0.5, 0.5, 0.001),
    ("16", 0x10, 1e-7, 0.5, 0.5, 0.001), ("7", 0x07, 1e-5, 0.5, 360 / 256, 1.0)])
def test_each_teltonika_codec_the_simulator_sends_decodes_back_to_the_same_fixes(
        codec: str, number: int, degrees: float, kmh: float, course: float, seconds: float) -> None:
    packet = teltonika.decode(packets.teltonika_codec_packet(codec, [*SAMPLE, SOUTH_WEST]), IMEI)
    assert (packet.kind, packet.codec, packet.count) == ("data", number, 4)
    for back, original in zip(packet.positions, [*SAMPLE, SOUTH_WEST], strict=True):
        _same_fix(back, original, degrees, kmh, course, seconds)
    if codec == "16":
        assert {p.extra["generation"] for p in packet.positions} == {7}     # periodical


@pytest.mark.parametrize("protocol, packet", [("gt06", "a0"), ("gt06", "27"), ("teltonika", "7")])
def test_simulate_writes_the_chosen_packet_type_and_parse_reads_it_back(
        protocol: str, packet: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trip.hex"
    assert main(["simulate", "--departed", "2026-11-20T04:00:00Z", "--protocol", protocol, "--packet", packet,
                 "--device-id", IMEI, "--limit", "3", "--to", str(path)]) == 0
    lines = path.read_text().splitlines()
    assert bytes.fromhex(lines[1])[8 if protocol == "teltonika" else 3] == int(packet, 16)
    assert main(["parse", "--format", protocol, str(path)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["fix_time"] for p in printed] == ["2026-11-20T04:00:00Z", "2026-11-20T04:00:30Z",
                                                "2026-11-20T04:01:00Z"]


def test_simulate_refuses_a_packet_type_its_protocol_does_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--protocol", "gt06", "--packet", "99", "--limit", "1"]) == 2
    assert "gt06 has no packet type '99'" in capsys.readouterr().err


@pytest.fixture
def gt06_gateway(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A live GT06 gateway (the registry's framed session, the real pipeline) on the test's transaction."""
    from beacon_gateway import protocols
    from beacon_gateway.servers.tcp import TcpListener, framed_session
    from tests.gateway.helpers import LiveGateway

    live = LiveGateway(sessions)
    listener = live.call(TcpListener(framed_session(protocols.get("gt06")), live.ingest).start("127.0.0.1", 0))
    host, port = listener.server.sockets[0].getsockname()[:2]
    yield f"tcp://{host}:{port}"
    live.close(listener.stop)


def test_a_simulated_gt06_alarm_trip_waits_for_each_answer_and_is_stored(
        db: Session, gt06_gateway: str, make_tracked_declaration: Callable[..., Any]) -> None:
    from tracker.models import BeaconProtocol, Position as StoredPosition

    departed = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=0)
    declaration = make_tracked_declaration(departed_at=departed)
    declaration.beacon.device_id, declaration.beacon.protocol = IMEI, BeaconProtocol.GT06
    db.flush()
    assert main(["simulate", "--to", gt06_gateway, "--protocol", "gt06", "--packet", "16", "--device-id", IMEI,
                 "--departed", departed.isoformat(), "--start-at", "30", "--limit", "6", "--batch", "3",
                 "--no-realtime"]) == 0
    db.expire_all()
    stored = db.scalars(select(StoredPosition).where(StoredPosition.beacon_id == declaration.beacon.id)
                        .order_by(StoredPosition.fix_time)).all()
    assert [p.fix_time for p in stored] == [departed + timedelta(minutes=30, seconds=30 * k) for k in range(6)]
