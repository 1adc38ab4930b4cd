"""Real ``beacon-gateway serve`` processes: ``kill -9`` loses no acknowledged ping, two equal one."""
from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import database_of_its_own
from tests.gateway.broker import Broker
from tests.gateway.helpers import free_port, http, recv_exactly, teltonika_handshake, teltonika_packet
from tests.gateway.seed import GatewayProcess, Seed, wait_until
from tracker.models import Alert, BeaconProtocol, Position

START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
STREAMS = 4           # devices sending at once
KILL_AFTER = 20       # acknowledged messages before the kill


@pytest.fixture(scope="module")
def engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """This module's gateways commit and seal: a database of its own, so the run's shared one stays whole."""
    with database_of_its_own(engine, tmp_path_factory.mktemp("own-db")) as own:
        yield own


@pytest.fixture(scope="session")
def mqtt_url(shipped_broker: Broker) -> str:
    """This module's MQTT tests run on a broker of their own, with the shipped configuration."""
    return shipped_broker.url


@pytest.fixture
def seed(engine: Engine) -> Iterator[Seed]:
    """Committed rows on the session's database (SQLite file or PostgreSQL), deleted afterwards."""
    made = Seed(engine)
    yield made
    made.clean()


@pytest.fixture
def gateways(engine: Engine, tmp_path: Path) -> Iterator[Any]:
    """Start gateway subprocesses on the test database; all are stopped at the end."""
    started: list[GatewayProcess] = []
    url = engine.url.render_as_string(hide_password=False)

    def start(**settings: Any) -> GatewayProcess:
        gateway = GatewayProcess(url, tmp_path / "instance", **settings)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.process.poll() is None:
            gateway.kill()


def stream_until_gone(send: Any, acked: list[datetime], stop: threading.Event) -> None:
    """Call ``send(n)`` (returns the fix times it got acknowledged) until the gateway is gone."""
    n = 0
    while not stop.is_set():
        try:
            acked.extend(send(n))
        except OSError:
            return
        n += 1


def run_streams(senders: list[Any], gateway: GatewayProcess) -> list[list[datetime]]:
    """Stream from every sender, kill -9 the gateway mid-stream, return what each had acknowledged."""
    acked: list[list[datetime]] = [[] for _ in senders]
    stop = threading.Event()
    threads = [threading.Thread(target=stream_until_gone, args=(send, acked[i], stop), daemon=True)
               for i, send in enumerate(senders)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(map(len, acked)) >= KILL_AFTER * 3, what="acknowledged pings")
    gateway.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    return acked


def fix_times(n: int, count: int) -> list[datetime]:
    return [START + timedelta(seconds=30 * (n * count + k)) for k in range(count)]


def test_kill_9_during_an_http_stream_loses_no_acknowledged_ping(seed, gateways) -> None:
    port = free_port()
    devices = [seed.beacon(token=True) for _ in range(STREAMS)]

    def sender(beacon: Any, token: str) -> Any:
        def send(n: int) -> list[datetime]:
            times = fix_times(n, 3)
            body = {"device_id": beacon.device_id, "pings": [
                {"fix_time": t.isoformat(), "lat": 40.5 + n * 1e-4, "lon": 72.8} for t in times]}
            status, _ = http("POST", f"http://127.0.0.1:{port}/api/v1/pings", body,
                             {"Authorization": f"Bearer {token}"})
            return times if status == 200 else []
        return send

    gateway = gateways(GATEWAY_HTTP_PORT=port)
    acked = run_streams([sender(b, t) for b, t in devices], gateway)
    for (beacon, _), times in zip(devices, acked):
        stored = set(seed.fix_times(beacon.id))
        assert times and set(times) <= stored

    # The device resends what it was not told about: nothing is stored twice.
    gateways(GATEWAY_HTTP_PORT=port)
    beacon, token = devices[0]
    last = max(acked[0])
    n = (last - START).seconds // 90 + 1
    resent = sender(beacon, token)
    assert resent(n - 1) and resent(n)
    assert seed.fix_times(beacon.id) == sorted(set(seed.fix_times(beacon.id)))
    assert len(seed.fix_times(beacon.id)) == 3 * (n + 1)


def test_kill_9_during_a_teltonika_stream_loses_no_acknowledged_record(seed, gateways) -> None:
    port = free_port()
    devices = [seed.beacon(BeaconProtocol.TELTONIKA)[0] for _ in range(STREAMS)]

    def sender(imei: str) -> Any:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(teltonika_handshake(imei))
        assert recv_exactly(sock, 1) == b"\x01"

        def send(n: int) -> list[datetime]:
            times = fix_times(n, 4)
            sock.sendall(teltonika_packet([(t, 40.5 + n * 1e-4, 72.8) for t in times]))
            return times if recv_exactly(sock, 4) == (4).to_bytes(4, "big") else []
        return send

    gateway = gateways(GATEWAY_TCP_TELTONIKA_PORT=port)
    acked = run_streams([sender(beacon.device_id) for beacon in devices], gateway)
    for beacon, times in zip(devices, acked):
        assert times and set(times) <= set(seed.fix_times(beacon.id))


class Publisher:
    """A beacon publishing QoS 1 pings to the broker (which holds them for the gateways)."""

    def __init__(self, url: str, prefix: str) -> None:
        parsed = urlparse(url)
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}",
                                  protocol=mqtt.MQTTv5)
        self.client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self.client.loop_start()

    def publish(self, device_id: str, ping: dict[str, Any]) -> None:
        self.client.publish(f"{self.prefix}/beacons/{device_id}/pings", json.dumps(ping), qos=1) \
            .wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def mqtt_settings(url: str, run: str, client_id: str) -> dict[str, str]:
    return {"GATEWAY_MQTT_URL": url, "GATEWAY_MQTT_TOPIC": f"$share/gw-{run}/test-{run}/beacons/+/pings",
            "GATEWAY_MQTT_CLIENT_ID": client_id, "GATEWAY_MQTT_SESSION_EXPIRY_S": "60"}


def test_kill_9_during_an_mqtt_stream_loses_no_acknowledged_ping(seed, gateways, mqtt_url) -> None:
    run = secrets.token_hex(4)
    settings = mqtt_settings(mqtt_url, run, f"gw-{run}")
    beacon, _ = seed.beacon(BeaconProtocol.MQTT)
    gateway = gateways(**settings)
    publisher = Publisher(mqtt_url, f"test-{run}")
    total = 150
    pinged = threading.Thread(target=lambda: [
        publisher.publish(beacon.device_id, {"fix_time": t.isoformat(), "lat": 40.5, "lon": 72.8})
        for t in fix_times(0, total)], daemon=True)
    pinged.start()
    wait_until(lambda: seed.count() >= KILL_AFTER, what="stored pings")
    gateway.kill()
    pinged.join(30)
    publisher.close()
    # What the dead gateway had not acknowledged, the broker delivers to it again.
    gateways(**settings)
    wait_until(lambda: seed.count() == total, what=f"all {total} pings stored")
    assert seed.fix_times(beacon.id) == fix_times(0, total)


def track(seconds_apart: int = 10, count: int = 40) -> list[tuple[datetime, float, float]]:
    """A trip ending now along the seed route, with a 1.5 km excursion of about three minutes.

    The trip is recent enough that no silence longer than the signal-lost allowance is ever
    seen, and the excursion drifts out and back at road speed (no impossible jump).
    """
    end = datetime.now(timezone.utc).replace(microsecond=0)
    (x0, y0), (x1, y1) = (72.799, 40.528), (73.0, 40.933)
    points = []
    for k in range(count):
        f = 0.05 + 0.1 * k / count
        offset = 0.003 * max(0, min(k - 10, 30 - k, 6))  # degrees east, 250 m a step
        points.append((end - timedelta(seconds=seconds_apart * (count - 1 - k)),
                       y0 + f * (y1 - y0), x0 + f * (x1 - x0) + offset))
    return points


def outcome(engine: Engine, beacon_ids: list[int], declaration_ids: list[int]) -> Any:
    """What a user sees: each beacon's positions and each declaration's alerts, ids left out."""
    delivery_flags = {"time_backwards", "late"}  # facts about delivery order, not about the fix
    with Session(engine) as session:
        positions = [[(p.fix_time, p.lat, p.lon, p.raw, sorted(set(p.flags) - delivery_flags),
                       declaration_ids.index(p.declaration_id))
                      for p in session.scalars(select(Position).where(Position.beacon_id == b)
                                               .order_by(Position.fix_time))] for b in beacon_ids]
        alerts = [[(a.kind, a.status.value, a.opened_at, a.closed_at,
                    {k: v for k, v in a.details.items() if "id" not in k})
                   for a in session.scalars(select(Alert).where(Alert.declaration_id == d)
                                            .order_by(Alert.opened_at, Alert.kind))] for d in declaration_ids]
    return positions, alerts


def test_two_gateway_processes_store_the_same_rows_and_raise_the_same_alerts_as_one(
        seed, gateways, mqtt_url, engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several gateway processes share PostgreSQL, not an embedded SQLite file")
    trip = track()
    outcomes = []
    for processes in (1, 2):
        run = secrets.token_hex(4)
        devices = [seed.beacon(BeaconProtocol.MQTT)[0] for _ in range(3)]
        declarations = [seed.declaration(beacon, trip[0][0] - timedelta(minutes=1)) for beacon in devices]
        for n in range(processes):
            gateways(**mqtt_settings(mqtt_url, run, f"gw-{run}-{n}"))
        publisher = Publisher(mqtt_url, f"test-{run}")
        for when, lat, lon in trip:
            for beacon in devices:
                publisher.publish(beacon.device_id, {"fix_time": when.isoformat(), "lat": lat, "lon": lon,
                                                     "speed_kmh": 60})
        publisher.publish(devices[0].device_id, {"fix_time": trip[5][0].isoformat(), "lat": trip[5][1],
                                                 "lon": trip[5][2], "speed_kmh": 60})  # delivered twice
        publisher.close()
        ids = [beacon.id for beacon in devices]
        wait_until(lambda: seed.count(ids) == len(trip) * len(devices), what="the whole trip stored")
        outcomes.append(outcome(engine, ids, declarations))
    single, double = outcomes
    assert any(kind == "off_route" for alerts in single[1] for kind, *_ in alerts)
    assert double == single


def test_sigterm_exits_0_having_answered_and_stored_what_it_accepted(seed, gateways) -> None:
    port = free_port()
    beacon, token = seed.beacon(token=True)
    gateway = gateways(GATEWAY_HTTP_PORT=port)
    body = {"device_id": beacon.device_id,
            "pings": [{"fix_time": t.isoformat(), "lat": 40.5, "lon": 72.8} for t in fix_times(0, 50)]}
    answered: list[int] = []
    request = threading.Thread(target=lambda: answered.append(http(
        "POST", f"http://127.0.0.1:{port}/api/v1/pings", body, {"Authorization": f"Bearer {token}"})[0]))
    request.start()
    wait_until(lambda: seed.count() > 0 or bool(answered), what="the request under way")
    assert gateway.terminate() == 0
    request.join(10)
    assert answered == [200] and len(seed.fix_times(beacon.id)) == 50


def test_a_running_gateway_raises_signal_lost_once_for_a_beacon_that_stopped_reporting(
        seed, gateways, engine) -> None:
    from sqlalchemy import update
    from tracker.models import Beacon

    port = free_port()
    beacon, token = seed.beacon(token=True)
    with Session(engine) as session:   # reporting every 2 s: silence counts after 4 s
        session.execute(update(Beacon).where(Beacon.id == beacon.id).values(reporting_period_s=2))
        session.commit()
    gateway = gateways(GATEWAY_HTTP_PORT=port, GATEWAY_OVERDUE_CHECK_S="0.3")
    now = datetime.now(timezone.utc).replace(microsecond=0)     # the last ping is heard now, then silence
    # Departed at its first ping: a longer wait would be a silence since departure (its own test).
    declaration = seed.declaration(beacon, now - timedelta(seconds=2))
    pings = [{"fix_time": (now - timedelta(seconds=2 - k)).isoformat(), "lat": 40.53 + 0.0002 * k, "lon": 72.8}
             for k in range(3)]
    status, _ = http("POST", f"http://127.0.0.1:{port}/api/v1/pings", {"device_id": beacon.device_id,
                                                                     "pings": pings},
                     {"Authorization": f"Bearer {token}"})
    assert status == 200

    def lost() -> list[Alert]:
        with Session(engine) as session:
            return list(session.scalars(select(Alert).where(Alert.declaration_id == declaration,
                                                            Alert.kind == "signal_lost")))

    wait_until(lambda: bool(lost()), what="a signal_lost alert without any new ping")
    time.sleep(1.0)                                            # three more checks: they change nothing
    assert gateway.terminate() == 0
    [alert] = lost()
    assert alert.status.value == "open" and alert.details["start"].startswith(pings[-1]["fix_time"][:19])


def test_a_running_gateway_raises_signal_lost_for_a_beacon_that_never_reported_since_departure(
        seed, gateways, engine) -> None:
    from sqlalchemy import update
    from tracker.models import Beacon

    beacon, _ = seed.beacon()
    with Session(engine) as session:   # reporting every 2 s: silence counts 4 s after departure
        session.execute(update(Beacon).where(Beacon.id == beacon.id).values(reporting_period_s=2))
        session.commit()
    departed = datetime.now(timezone.utc)
    declaration = seed.declaration(beacon, departed)
    gateway = gateways(GATEWAY_HTTP_PORT=free_port(), GATEWAY_OVERDUE_CHECK_S="0.3")

    def lost() -> list[Alert]:
        with Session(engine) as session:
            return list(session.scalars(select(Alert).where(Alert.declaration_id == declaration,
                                                            Alert.kind == "signal_lost")))

    wait_until(lambda: bool(lost()), what="signal_lost for a beacon silent since departure")
    time.sleep(1.0)                                            # more checks: raised once
    assert gateway.terminate() == 0
    [alert] = lost()
    assert alert.details["departed_at"] == alert.details["start"] == departed.strftime("%Y-%m-%dT%H:%M:%SZ")


def metric(port: int, name: str, **labels: str) -> float:
    """Return one sample of a running gateway's /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        families = text_string_to_metric_families(response.read().decode())
        return next((s.value for f in families for s in f.samples if s.name == name and s.labels == labels), 0.0)


def test_each_gateway_process_shows_its_own_metrics(seed, gateways) -> None:
    ports = [free_port(), free_port()]
    beacon, token = seed.beacon(token=True)
    processes = [gateways(GATEWAY_HTTP_PORT=port) for port in ports]
    for n, (port, count) in enumerate(zip(ports, (3, 5))):
        body = {"device_id": beacon.device_id, "pings": [
            {"fix_time": t.isoformat(), "lat": 40.5, "lon": 72.8} for t in fix_times(n, count)]}
        assert http("POST", f"http://127.0.0.1:{port}/api/v1/pings", body,
                    {"Authorization": f"Bearer {token}"})[0] == 200
    assert [metric(port, "beacon_gateway_positions_total", protocol="json") for port in ports] == [3.0, 5.0]
    assert [metric(port, "beacon_gateway_messages_total", protocol="json") for port in ports] == [1.0, 1.0]
    assert metric(ports[0], "process_resident_memory_bytes") > 0
    assert [process.terminate() for process in processes] == [0, 0]
