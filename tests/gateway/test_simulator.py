"""The simulated beacon: realistic, reproducible trips, encoded in each protocol the gateway decodes."""
from __future__ import annotations

import json
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.cli import main
from tracker.domain.corridor import Corridor
from beacon_gateway.decoders import gt06, json_batch, nmea, osmand, teltonika
from beacon_gateway.position import Position
from beacon_gateway.simulator import Deviation, Pause, Simulation
from beacon_gateway.simulator import encoders as enc
from beacon_gateway.simulator.send import HttpSender, MqttSender, TcpSender
from tracker.domain import geography as geo

DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
IMEI = "356307042441013"


def trip(**kw: Any) -> list[Position]:
    return list(Simulation(geo.KHAIDARKAN_AKJOL, DEPARTED, device_id=IMEI, **kw).positions())


def test_the_same_seed_gives_the_same_trip_and_another_seed_another() -> None:
    assert trip(seed=3) == trip(seed=3)
    assert trip(seed=3) != trip(seed=4)


@pytest.mark.parametrize("noise_m", [10.0, 30.0])
def test_noise_is_of_the_requested_size(noise_m: float) -> None:
    fixes = trip(noise_m=noise_m)
    corridor = Corridor(geo.route_line(geo.KHAIDARKAN_AKJOL), 500)
    off = corridor.distances_m([p.lon for p in fixes], [p.lat for p in fixes])
    assert noise_m / 4 < float(np.median(off)) < noise_m
    assert float(np.max(off)) < 3 * noise_m


def test_the_trip_takes_as_long_as_its_speed_and_stops_say() -> None:
    sim = Simulation(geo.KHAIDARKAN_AKJOL, DEPARTED, speed_kmh=60, pauses=[Pause(30, waypoint="Osh")])
    hours = sim.length_m / 60_000 + 0.5
    assert sim.duration_s / 3600 == pytest.approx(hours)
    standing = [p for p in sim.positions() if p.speed_kmh is not None and p.speed_kmh < 2]
    assert 58 <= len(standing) <= 62          # 30 minutes of fixes every 30 s
    assert all(geo.haversine_m(geo.site("OSH"), geo.Waypoint(p.lat, p.lon)) < 100 for p in standing)


def test_a_tunnel_gap_silences_the_device_around_the_tunnel() -> None:
    fixes = trip(gap_at="Too-Ashuu tunnel", gap_min=10)
    gaps = [(b.fix_time - a.fix_time, a) for a, b in zip(fixes, fixes[1:])]
    longest, before = max(gaps, key=lambda g: g[0])
    assert timedelta(minutes=10) <= longest <= timedelta(minutes=11)
    assert geo.haversine_m(geo.TOO_ASHUU_TUNNEL, geo.Waypoint(before.lat, before.lon)) < 6_000
    assert sorted(g for g, _ in gaps)[-2] == timedelta(seconds=30)


def test_a_deviation_leaves_the_route_at_driving_speed_and_comes_back() -> None:
    fixes = trip(noise_m=10, deviations=[Deviation(100, 6, 2_000)])
    corridor = Corridor(geo.route_line(geo.KHAIDARKAN_AKJOL), 500)
    off = corridor.distances_m([p.lon for p in fixes], [p.lat for p in fixes])
    minutes = np.array([(p.fix_time - DEPARTED).total_seconds() / 60 for p in fixes])
    assert off[(minutes > 103) & (minutes < 104)].min() > 1_900
    assert off[(minutes < 100) | (minutes > 107)].max() < 60
    assert np.all(np.diff(off[(minutes >= 100) & (minutes <= 102.5)]) < 60 / 3.6 * 30 + 30)


@pytest.mark.parametrize("text", ["5:10", "a:b:c", "-1:3:500", "10:0:500"])
def test_a_malformed_deviation_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="deviation"):
        Deviation.parse(text)


def test_stops_are_given_by_time_or_by_place() -> None:
    assert Pause.parse("90:25") == Pause(25, at_min=90)
    assert Pause.parse("Kara-Kul:40") == Pause(40, waypoint="Kara-Kul")


SAMPLE = trip(seed=5)[400:404]


def _decode(protocol: str, positions: list[Position]) -> list[Position]:
    if protocol == "json":
        return json_batch.decode_batch(enc.json_batch(positions))
    if protocol == "osmand":
        return [osmand.decode_query(enc.osmand_query(p)) for p in positions]
    if protocol == "nmea":
        return [p for p in nmea.decode_lines([s for p in positions for s in enc.nmea_sentences(p)], IMEI)
                if isinstance(p, Position)]
    if protocol == "teltonika":
        assert teltonika.parse_imei(enc.teltonika_handshake(IMEI)) == IMEI
        decoded, count = teltonika.decode_packet(enc.teltonika_packet(positions), IMEI)
        assert count == len(positions)
        return decoded
    assert gt06.decode_frame(enc.gt06_login(IMEI), None).imei == IMEI
    return [gt06.decode_frame(enc.gt06_location(p, n), IMEI).positions[0] for n, p in enumerate(positions)]


@pytest.mark.parametrize("protocol, degrees, kmh", [("json", 1e-9, 1e-9), ("osmand", 1e-6, 0.01),
                                                    ("nmea", 1e-6, 0.01), ("teltonika", 1e-7, 0.5),
                                                    ("gt06", 1e-6, 0.5)])
def test_each_encoding_decodes_back_to_the_same_fix(protocol: str, degrees: float, kmh: float) -> None:
    decoded = _decode(protocol, SAMPLE)
    assert len(decoded) == len(SAMPLE)
    for original, back in zip(SAMPLE, decoded):
        assert back.fix_time == original.fix_time
        assert back.lat == pytest.approx(original.lat, abs=degrees)
        assert back.lon == pytest.approx(original.lon, abs=degrees)
        assert back.speed_kmh == pytest.approx(original.speed_kmh, abs=kmh)
        assert back.valid


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append(("POST", self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def http_server() -> Iterator[tuple[str, list]]:
    _Recorder.requests = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.requests
    server.shutdown()


def test_json_over_http_posts_batches_with_the_bearer_token(http_server: tuple[str, list]) -> None:
    url, seen = http_server
    HttpSender(url, "json", token="mt_secret").send(SAMPLE)
    (method, path, headers, body) = seen[0]
    assert (method, path, headers["Authorization"]) == ("POST", "/api/v1/pings", "Bearer mt_secret")
    assert [p.fix_time for p in json_batch.decode_batch(body)] == [p.fix_time for p in SAMPLE]


def test_osmand_over_http_sends_one_request_per_fix_with_the_key(http_server: tuple[str, list]) -> None:
    url, seen = http_server
    HttpSender(url, "osmand", token="mt_secret").send(SAMPLE[:2])
    assert [osmand.decode_query(path.split("?", 1)[1]).fix_time for _, path, _, _ in seen] == \
        [p.fix_time for p in SAMPLE[:2]]
    assert all(osmand.request_key(path.split("?", 1)[1]) == "mt_secret" for _, path, _, _ in seen)


def test_teltonika_over_tcp_waits_for_the_handshake_and_the_record_count() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[Position] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            imei = teltonika.parse_imei(connection.recv(17))
            connection.sendall(teltonika.IMEI_ACCEPT)
            buffer = b""
            while (frame := teltonika.split_frame(buffer))[0] is None:
                buffer += connection.recv(4096)
            positions, count = teltonika.decode_packet(frame[0], imei)
            received.extend(positions)
            connection.sendall(teltonika.ack(count))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    sender = TcpSender(f"tcp://127.0.0.1:{listener.getsockname()[1]}", "teltonika", IMEI)
    sender.send(SAMPLE)
    sender.close()
    thread.join(5)
    listener.close()
    assert [(p.device_id, p.fix_time) for p in received] == [(IMEI, p.fix_time) for p in SAMPLE]


def test_mqtt_publishes_json_batches_on_the_beacons_topic(mqtt_url: str) -> None:
    import paho.mqtt.client as mqtt

    device = f"SIM-{uuid.uuid4().hex[:8]}"
    got: list[bytes] = []
    ready, arrived = threading.Event(), threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                           protocol=mqtt.MQTTv5)
    listener.on_subscribe = lambda *a: ready.set()
    listener.on_message = lambda _c, _u, message: (got.append(message.payload), arrived.set())
    host, port = mqtt_url.split("//")[1].split(":")
    listener.connect(host, int(port))
    listener.subscribe(f"beacons/{device}/pings", qos=1)
    listener.loop_start()
    try:
        assert ready.wait(5)
        sender = MqttSender(mqtt_url, device)
        sender.send(SAMPLE)
        sender.close()
        assert arrived.wait(5)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert [p.fix_time for p in json_batch.decode_batch(got[0])] == [p.fix_time for p in SAMPLE]


def test_simulate_writes_json_lines_that_parse_reads_back(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trip.hex"
    assert main(["simulate", "--departed", "2026-11-20T04:00:00Z", "--protocol", "gt06", "--device-id", IMEI,
                 "--limit", "5", "--to", str(path)]) == 0
    assert main(["parse", "--format", "gt06", str(path)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["fix_time"] for p in printed] == [f"2026-11-20T04:0{m // 2}:{30 * (m % 2):02d}Z" for m in range(5)]
    assert {p["device_id"] for p in printed} == {IMEI}


def test_simulate_refuses_a_gap_at_a_place_not_on_the_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--tunnel-gap", "10", "--gap-at", "Paris", "--limit", "1"]) == 2
    assert "not a named point of the route" in capsys.readouterr().err


@pytest.fixture
def gateway(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A live HTTP gateway (engineer E's servers and pipeline) on the test's transaction."""
    from tests.gateway.helpers import LiveGateway
    from beacon_gateway.servers.http import start_http

    live = LiveGateway(sessions)
    runner = live.call(start_http(live.ingest, "127.0.0.1", 0, max_body_bytes=1024 * 1024))
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    live.close(runner.cleanup)


def test_a_simulated_detour_sent_to_the_gateway_raises_one_off_route_alert(
        db: Session, gateway: str, make_tracked_declaration: Callable[..., Any]) -> None:
    from tracker.domain.tokens import issue_token
    from tracker.models import Alert, Position as StoredPosition

    departed = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=0)
    declaration = make_tracked_declaration(corridor_m=250, departed_at=departed)
    _, token = issue_token(db, name="sim", beacon=declaration.beacon)
    db.flush()
    assert main(["simulate", "--to", gateway, "--token", token, "--device-id", declaration.beacon.device_id,
                 "--departed", departed.isoformat(), "--start-at", "55", "--limit", "30", "--batch", "10",
                 "--deviate", "60:5:1500", "--no-realtime"]) == 0
    db.expire_all()
    assert len(db.scalars(select(StoredPosition).where(StoredPosition.declaration_id == declaration.id)).all()) == 30
    alerts = {a.kind: a for a in db.scalars(select(Alert).where(Alert.declaration_id == declaration.id))}
    assert sorted(alerts) == ["off_route", "signal_lost"]     # the device went quiet two hours ago
    assert alerts["off_route"].details["max_distance_m"] > 1_400
    assert alerts["off_route"].status == "closed" and alerts["signal_lost"].status == "open"


def test_simulate_carries_on_a_stored_declarations_trip_with_its_beacon(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from shapely.geometry import LineString

    from tracker import migrate
    from tracker.db import make_engine, make_session_factory
    from tracker.models import (Beacon, BeaconProtocol, Checkpoint, CheckpointKind, Dealer, Declaration,
                                DeclarationKind, DeclarationStatus)

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    departed = datetime.now(timezone.utc) - timedelta(hours=2)
    with make_session_factory(engine)() as session:
        dealer = Dealer(legal_name="Khaidarkan Mercury Combine", taxpayer_number="01234567890123", country="KG")
        ends = [Checkpoint(code=code, name=code, kind=CheckpointKind.CUSTOMS_POST, lat=w.lat, lon=w.lon)
                for code, w in (("KHD", geo.KHAIDARKAN_AKJOL[0]), ("AKJOL", geo.KHAIDARKAN_AKJOL[-1]))]
        session.add(Declaration(
            kind=DeclarationKind.EXPORT, status=DeclarationStatus.IN_TRANSIT, reference="26KGHG00000000370",
            declarant=dealer, consignor=dealer, consignee=dealer, origin=ends[0], destination=ends[1],
            beacon=Beacon(device_id=IMEI, protocol=BeaconProtocol.JSON),
            route=LineString([(w.lon, w.lat) for w in geo.KHAIDARKAN_AKJOL]), departed_at=departed))
        session.commit()
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["simulate", "--declaration", "26KGHG00000000370", "--speed", "60", "--limit", "2",
                 "--no-realtime"]) == 0
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["device_id"] == IMEI
    fix_time = datetime.fromisoformat(first["fix_time"].replace("Z", "+00:00"))
    assert timedelta(0) <= fix_time - datetime.now(timezone.utc) <= timedelta(seconds=31)   # carries on from now
    assert geo.haversine_m(geo.Waypoint(first["lat"], first["lon"]), geo.point_along(geo.KHAIDARKAN_AKJOL, 120_000)[0]) < 2_000
    assert main(["simulate", "--declaration", "in-transit", "--speed", "60", "--limit", "1", "--no-realtime"]) == 0
    assert json.loads(capsys.readouterr().out)["device_id"] == IMEI


@pytest.fixture
def nmea_gateway(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A live NMEA-over-TCP gateway (the real listener and pipeline) on the test's transaction."""
    from tests.gateway.helpers import LiveGateway
    from beacon_gateway.servers.nmea import nmea_session
    from beacon_gateway.servers.tcp import TcpListener

    live = LiveGateway(sessions)
    listener = live.call(TcpListener(nmea_session, live.ingest).start("127.0.0.1", 0))
    host, port = listener.server.sockets[0].getsockname()[:2]
    yield f"tcp://{host}:{port}"
    live.close(listener.stop)


def test_a_simulated_nmea_trip_over_tcp_is_stored_by_the_gateway(
        db: Session, nmea_gateway: str, make_tracked_declaration: Callable[..., Any]) -> None:
    from tracker.models import BeaconProtocol, Position as StoredPosition

    departed = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=0)
    declaration = make_tracked_declaration(departed_at=departed)
    declaration.beacon.protocol = BeaconProtocol.NMEA
    db.flush()
    assert main(["simulate", "--to", nmea_gateway, "--protocol", "nmea", "--device-id",
                 declaration.beacon.device_id, "--departed", departed.isoformat(), "--start-at", "30",
                 "--limit", "12", "--batch", "4", "--no-realtime"]) == 0
    db.expire_all()
    stored = db.scalars(select(StoredPosition).where(StoredPosition.beacon_id == declaration.beacon.id)
                        .order_by(StoredPosition.fix_time)).all()
    assert len(stored) == 12                       # the last epoch too, stored before the hang-up
    assert [p.fix_time for p in stored] == [departed + timedelta(minutes=30, seconds=30 * k) for k in range(12)]
    assert all(p.protocol == BeaconProtocol.NMEA for p in stored)
