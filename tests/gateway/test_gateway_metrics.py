"""/metrics and /health on a running gateway: what operators scrape, read over real HTTP requests."""
from __future__ import annotations

import json
import secrets
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Iterator
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway import metrics
from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch, build_pipeline
from beacon_gateway.position import Position
from beacon_gateway.servers.http import start_http
from beacon_gateway.servers.mqtt import MqttSubscriber
from beacon_gateway.writer import BatchWriter
from tests.gateway.helpers import LiveGateway, http
from tests.gateway.test_gateway_database_failure import Blocked
from tracker.domain.tokens import issue_token

NOW = datetime.now(timezone.utc).replace(microsecond=0)


class Live:
    """A gateway with its HTTP listener, on the test's transaction."""

    def __init__(self, live: LiveGateway, url: str) -> None:
        self.live, self.url = live, url

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Return every sample of GET /metrics: (name, sorted labels) -> value."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


def serve(live: LiveGateway) -> tuple[Live, object]:
    runner = live.call(start_http(live.ingest, "127.0.0.1", 0, max_body_bytes=64 * 1024))
    host, port = runner.addresses[0][:2]
    return Live(live, f"http://{host}:{port}"), runner


@pytest.fixture
def gateway(sessions: sessionmaker[Session]) -> Iterator[Live]:
    live = LiveGateway(sessions)
    running, runner = serve(live)
    yield running
    live.close(runner.cleanup)  # type: ignore[attr-defined]


def pings(device_id: str, *seconds: int) -> dict[str, object]:
    start = NOW - timedelta(minutes=5)
    return {"device_id": device_id, "pings": [
        {"fix_time": (start + timedelta(seconds=s)).isoformat(), "lat": 40.5, "lon": 72.8} for s in seconds]}


def change(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_messages_positions_duplicates_and_refusals(db, gateway: Live, make_beacon) -> None:
    beacon = make_beacon()
    _, token = issue_token(db, name="t", beacon=beacon)
    db.flush()
    auth = {"Authorization": f"Bearer {token}"}
    before = gateway.metrics()
    assert http("POST", f"{gateway.url}/api/v1/pings", pings(beacon.device_id, 0, 30, 60), auth)[0] == 200
    assert http("POST", f"{gateway.url}/api/v1/pings", pings(beacon.device_id, 60), auth)[0] == 200
    assert http("POST", f"{gateway.url}/api/v1/pings", pings(beacon.device_id, 90))[0] == 401
    assert http("POST", f"{gateway.url}/api/v1/pings", pings("999", 90), auth)[0] == 401
    assert http("GET", f"{gateway.url}/?id={beacon.device_id}&lat=40.5&lon=72.8&key={token}"
                       "&timestamp=not-a-time")[0] == 422
    after = gateway.metrics()
    assert change(before, after, "beacon_gateway_messages_total", protocol="json") == 4
    assert change(before, after, "beacon_gateway_messages_total", protocol="osmand") == 1
    assert change(before, after, "beacon_gateway_positions_total", protocol="json") == 3
    assert change(before, after, "beacon_gateway_duplicates_total", protocol="json") == 1
    assert change(before, after, "beacon_gateway_refusals_total", reason="unauthorized") == 2
    assert change(before, after, "beacon_gateway_refusals_total", reason="invalid_message") == 1
    assert change(before, after, "beacon_gateway_batch_commit_seconds_count") == 3
    assert change(before, after, "beacon_gateway_batch_positions_sum") == 5
    assert after[("beacon_gateway_waiting_submissions", ())] == 0


def test_unknown_packet_types_show_in_hex_and_a_flood_of_types_stays_bounded(gateway: Live) -> None:
    before = gateway.metrics()
    metrics.count_unknown("gt06", 0xA0)
    metrics.count_unknown("gt06", 0xA0)
    for packet_type in range(1000, 1000 + 2 * metrics.MAX_PACKET_TYPES):
        metrics.count_unknown("teltonika", packet_type)
    after = gateway.metrics()
    assert change(before, after, "beacon_gateway_unknown_packets_total", protocol="gt06", packet_type="0xA0") == 2
    kinds = {dict(labels)["packet_type"] for name, labels in after if name == "beacon_gateway_unknown_packets_total"}
    assert len(kinds) <= metrics.MAX_PACKET_TYPES + 1 and "other" in kinds
    assert sum(value for (name, _), value in after.items() if name == "beacon_gateway_unknown_packets_total") \
        - sum(value for (name, _), value in before.items() if name == "beacon_gateway_unknown_packets_total") \
        == 2 + 2 * metrics.MAX_PACKET_TYPES      # every packet counted, even those lumped together


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/metrics", b"", 405), ("DELETE", "/metrics", None, 405), ("PUT", "/health", b"{}", 405),
    ("GET", "/metrics", b"x" * 10_000_000, 413), ("GET", "/health", b"x" * 200_000, 413),
    ("GET", "/metrics", b"\x00\xff", 413), ("GET", "/metrics/../../etc/passwd", None, 404),
])
def test_hostile_requests_to_metrics_and_health_get_4xx(gateway: Live, method: str, path: str,
                                                        body: bytes | None, status: int) -> None:
    code, answer = http(method, f"{gateway.url}{path}", body)
    assert code == status and answer["error"]
    assert http("GET", f"{gateway.url}/health") == (200, {"status": "ok"})


class Slow:
    """A handler taking ``pause_s`` per batch: commits go on, but slower than messages come."""

    name = "slow"
    pause_s = 0.15

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure."""

    def __call__(self, batch: Batch) -> None:
        time.sleep(Slow.pause_s)


def test_health_is_not_ready_while_a_message_waits_too_long_though_commits_go_on(
        sessions: sessionmaker[Session]) -> None:
    live = LiveGateway(sessions)
    live.writer.stop()
    live.writer = live.ingest.writer = BatchWriter(
        sessions, build_pipeline(GatewaySettings(database_url="sqlite://"), extra=[Slow]), max_positions=1,
        max_wait_s=0.001).start()
    live.ingest.stall_s = 0.5
    running, runner = serve(live)
    try:
        waiting = [live.writer.submit([Position("350000000000009", NOW + timedelta(seconds=n), 40.5, 72.8, "json")])
                   for n in range(12)]                       # about 1.8 s of commits, one at a time
        time.sleep(0.9)
        assert sum(f.done() for f in waiting) >= 3           # commits are going through ...
        status, body = http("GET", f"{running.url}/health")  # ... but the last message waits 0.9 s
        assert status == 503 and "waited" in body["problem"]
        assert running.metrics()[("beacon_gateway_oldest_wait_seconds", ())] > 0.5
        for future in waiting:
            future.result(10)
        assert http("GET", f"{running.url}/health") == (200, {"status": "ok"})
    finally:
        live.close(runner.cleanup)  # type: ignore[attr-defined]


def test_mqtt_backlog_counts_messages_held_until_their_commit(sessions: sessionmaker[Session], mqtt_url: str,
                                                             make_beacon) -> None:
    beacon = make_beacon()
    live = LiveGateway(sessions)
    live.writer.stop()
    live.writer = live.ingest.writer = BatchWriter(
        sessions, build_pipeline(GatewaySettings(database_url="sqlite://"), extra=[Blocked])).start()
    Blocked.release.clear()
    running, runner = serve(live)
    topic = f"metrics-{secrets.token_hex(4)}/+/pings"
    subscriber = MqttSubscriber(live.writer, mqtt_url, topic, f"gw-{secrets.token_hex(4)}", 0).start()
    parsed = urlparse(mqtt_url)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        assert subscriber.subscribed.wait(10)
        before = running.metrics()[("beacon_gateway_mqtt_backlog", ())]
        publisher.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        publisher.loop_start()
        for n in range(3):
            publisher.publish(topic.replace("+", beacon.device_id), json.dumps(
                {"fix_time": (NOW + timedelta(seconds=n)).isoformat(), "lat": 40.5, "lon": 72.8}), qos=1)
        deadline = time.monotonic() + 10
        while running.metrics()[("beacon_gateway_mqtt_backlog", ())] - before < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.metrics()[("beacon_gateway_mqtt_backlog", ())] - before == 3
        Blocked.release.set()
        deadline = time.monotonic() + 10
        while subscriber.acknowledged < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert subscriber.acknowledged == 3
        assert running.metrics()[("beacon_gateway_mqtt_backlog", ())] == before
    finally:
        Blocked.release.set()
        publisher.loop_stop()
        publisher.disconnect()
        subscriber.stop(5)
        live.close(runner.cleanup)  # type: ignore[attr-defined]
