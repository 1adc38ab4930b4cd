"""The broker the beacons publish to: it shares one stream between gateway processes and
loses nothing it acknowledged, however long the gateways are away.

Every test here runs the project's own Mosquitto with the shipped configuration
(``beacon_gateway/mosquitto/mosquitto.conf``), never the shared broker. MQTT v5 shared
subscriptions with QoS 1: each ping goes to exactly one of the subscribed gateway processes.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine

from tests.gateway.broker import SHIPPED, Broker
from tests.gateway.helpers import SteadyPublisher
from tests.gateway.seed import GatewayProcess, Seed, wait_until
from tests.pg_cluster import PgCluster
from tracker.db import make_engine
from tracker.models import BeaconProtocol

HOLD_S = 60               # how long the gateway stays down under the stream
DEFAULT_QUEUE = 1000      # Mosquitto's max_queued_messages when nothing sets it


@pytest.fixture(scope="session")
def mqtt_url(shipped_broker: Broker) -> str:
    """This module's MQTT tests run on a broker of their own, with the shipped configuration."""
    return shipped_broker.url


def _client(url: str, name: str) -> mqtt.Client:
    parsed = urlparse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{secrets.token_hex(3)}",
                         protocol=mqtt.MQTTv5)
    client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
    client.loop_start()
    return client


def test_shipped_configuration_keeps_messages_on_disk_without_a_queue_limit() -> None:
    settings = dict(line.split(" ", 1) for line in SHIPPED.read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings["persistence"] == "true"
    assert settings["max_queued_messages"] == "0" and settings["max_queued_bytes"] == "0"


def test_shared_subscription_delivers_each_ping_to_exactly_one_gateway(mqtt_url: str) -> None:
    run = secrets.token_hex(4)
    topic_filter = f"$share/gateway-{run}/test-{run}/beacons/+/pings"
    received: dict[str, list[int]] = {"a": [], "b": []}
    subscribed = threading.Barrier(3)
    lock = threading.Lock()

    def on_message(name: str):  # type: ignore[no-untyped-def]
        def handler(_client, _userdata, message) -> None:  # type: ignore[no-untyped-def]
            with lock:
                received[name].append(json.loads(message.payload)["seq"])
        return handler

    gateways = []
    for name in received:
        client = _client(mqtt_url, f"gateway-{name}")
        client.on_message = on_message(name)
        client.on_subscribe = lambda *_args: subscribed.wait(timeout=5)
        client.subscribe(topic_filter, qos=1)
        gateways.append(client)
    subscribed.wait(timeout=5)

    beacon = _client(mqtt_url, "beacon")
    for seq in range(40):
        info = beacon.publish(f"test-{run}/beacons/864454040000001/pings",
                              json.dumps({"seq": seq, "lat": 40.5, "lon": 72.8}), qos=1)
        info.wait_for_publish(timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(received["a"]) + len(received["b"]) < 40:
        time.sleep(0.05)
    for client in (*gateways, beacon):
        client.loop_stop()
        client.disconnect()

    assert sorted(received["a"] + received["b"]) == list(range(40))  # each exactly once
    assert received["a"] and received["b"]  # and the load is shared


@pytest.fixture
def seed(pg_cluster: PgCluster) -> Iterator[Seed]:
    engine: Engine = make_engine(pg_cluster.url)
    made = Seed(engine)
    yield made
    made.clean()
    engine.dispose()


def test_every_ping_the_broker_acknowledged_while_the_gateway_was_down_for_60_s_is_stored_once(
        seed: Seed, pg_cluster: PgCluster, shipped_broker: Broker, tmp_path: Path) -> None:
    run = secrets.token_hex(4)
    settings = {"GATEWAY_MQTT_URL": shipped_broker.url, "GATEWAY_MQTT_CLIENT_ID": f"gw-{run}",
                "GATEWAY_MQTT_TOPIC": f"$share/gw-{run}/test-{run}/beacons/+/pings",
                "GATEWAY_MQTT_SESSION_EXPIRY_S": "600"}
    beacon, _ = seed.beacon(BeaconProtocol.MQTT)
    gateway = GatewayProcess(pg_cluster.url, tmp_path / "instance", **settings)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    publisher = SteadyPublisher(shipped_broker.url, f"test-{run}/beacons/{beacon.device_id}/pings",
                                start, period_s=0.015)
    try:
        wait_until(lambda: seed.count() >= 20, what="the gateway storing the stream")
        gateway.kill()
        before = len(publisher.acknowledged)
        time.sleep(HOLD_S)
        held = len(publisher.acknowledged) - before
        gateway = GatewayProcess(pg_cluster.url, tmp_path / "instance", **settings)
        time.sleep(1)
    finally:
        acknowledged = publisher.stop()
    wait_until(lambda: seed.count() >= len(acknowledged), timeout=120,
               what=f"all {len(acknowledged)} acknowledged pings stored")
    assert held > DEFAULT_QUEUE  # more than Mosquitto's default queue would have kept
    stored = seed.fix_times(beacon.id)
    assert set(acknowledged) <= set(stored)          # none lost
    assert len(stored) <= len(acknowledged) + 1      # none twice (the last one may be unconfirmed)
    assert gateway.terminate(timeout=10) == 0
