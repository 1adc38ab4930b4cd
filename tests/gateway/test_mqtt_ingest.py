"""MQTT ingestion through the real broker: shared subscription, QoS 1, PUBACK only after commit."""
from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.broker import Broker
from tests.gateway.helpers import LiveGateway
from beacon_gateway.servers.mqtt import MqttSubscriber, _plain_qos1, device_from_topic
from beacon_gateway.writer import NotStored, Outcome
from tracker.models import DeviceMessage
from tracker.models import Position as PositionRow

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="session")
def mqtt_url(shipped_broker: Broker) -> str:
    """This module's MQTT tests run on a broker of their own, with the shipped configuration."""
    return shipped_broker.url


class Run:
    """Topics and client ids of one test, so tests never see each other's messages."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.id = secrets.token_hex(4)
        self.prefix = f"test-{self.id}"
        self.filter = f"$share/gateway-{self.id}/{self.prefix}/beacons/+/pings"

    def subscriber(self, writer: Any) -> MqttSubscriber:
        return MqttSubscriber(writer, self.url, self.filter, f"gw-{self.id}-{secrets.token_hex(2)}",
                              session_expiry_s=30).start()

    def publish(self, device_id: str, *payloads: Any, properties: Properties | None = None) -> None:
        parsed = urlparse(self.url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"beacon-{self.id}",
                             protocol=mqtt.MQTTv5)
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        client.loop_start()
        for payload in payloads:
            data = payload if isinstance(payload, bytes) else json.dumps(payload)
            client.publish(f"{self.prefix}/beacons/{device_id}/pings", data, qos=1,
                           properties=properties).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def ping(seconds: int, **fields: Any) -> dict[str, Any]:
    return {"fix_time": (NOW - timedelta(minutes=5) + timedelta(seconds=seconds)).isoformat(),
            "lat": 40.5, "lon": 72.8, **fields}


@pytest.fixture
def run(mqtt_url: str) -> Run:
    return Run(mqtt_url)


@pytest.fixture
def live(sessions: sessionmaker[Session]) -> Iterator[LiveGateway]:
    gateway = LiveGateway(sessions)
    yield gateway
    gateway.close()


def wait_subscribed(subscriber: MqttSubscriber) -> None:
    wait_until(lambda: subscriber.client.is_connected())
    time.sleep(0.2)  # the SUBACK follows the CONNACK


def test_topic_names_the_device() -> None:
    assert device_from_topic("$share/gateway/beacons/+/pings", "beacons/864/pings") == "864"
    assert device_from_topic("$share/gateway/beacons/+/pings", "beacons/864/other") is None
    assert device_from_topic("beacons/+/pings", "x/beacons/864/pings") is None


def test_the_packet_beacons_send_is_read_by_the_gateway_and_any_other_left_to_paho() -> None:
    # PUBLISH, QoS 1: topic "b/1/pings", packet id 0x0102, no properties, then the payload.
    plain = b"\x00\x09b/1/pings\x01\x02\x00{\"lat\":1}"
    publish = _plain_qos1(0x32, plain)
    assert publish is not None
    assert (publish.topic, publish.mid, publish.qos, publish.payload) == ("b/1/pings", 0x0102, 1, b'{"lat":1}')
    assert _plain_qos1(0x3A, plain) is not None                       # a redelivery (DUP) too
    assert _plain_qos1(0x32, b"\x00\x09b/1/pings\x01\x02\x02\x01\x01{}") is None   # a property
    assert _plain_qos1(0x30, b"\x00\x09b/1/pings\x00{}") is None                     # QoS 0
    assert _plain_qos1(0x34, plain) is None                                             # QoS 2
    assert _plain_qos1(0x32, b"\x00\x00\x01\x02\x03\x23\x00\x05{}") is None       # a topic alias
    assert _plain_qos1(0x32, b"\x00\x09b/1/pings\x01") is None                       # cut short
    assert _plain_qos1(0x32, b"\x00\x09b/\xff/pings\x01\x02\x00{}") is None          # not UTF-8


def test_a_message_with_properties_is_stored_and_acknowledged_like_any_other(db, run, live, make_beacon) -> None:
    beacon = make_beacon()
    subscriber = run.subscriber(live.writer)
    wait_subscribed(subscriber)
    properties = Properties(PacketTypes.PUBLISH)
    properties.PayloadFormatIndicator = 1
    properties.UserProperty = ("firmware", "3.1")
    run.publish(beacon.device_id, ping(0), properties=properties)
    run.publish(beacon.device_id, ping(30))
    wait_until(lambda: subscriber.acknowledged == 2)
    subscriber.stop()
    db.expire_all()
    stored = db.scalars(select(PositionRow.fix_time).where(PositionRow.beacon_id == beacon.id)
                        .order_by(PositionRow.fix_time)).all()
    assert stored == [NOW - timedelta(minutes=5) + timedelta(seconds=s) for s in (0, 30)]


def test_a_message_with_text_that_is_not_unicode_is_refused_kept_and_acknowledged(db, run, live, make_beacon) -> None:
    # Before, the evidence encoding raised in paho's thread: never acknowledged, redelivered for ever.
    beacon = make_beacon()
    subscriber = run.subscriber(live.writer)
    wait_subscribed(subscriber)
    run.publish(beacon.device_id, b'{"fix_time": "2026-12-05T00:00:00Z", "lat": 1, "lon": 2, "note": "\\ud800"}',
                ping(30))
    wait_until(lambda: subscriber.acknowledged == 2)
    subscriber.stop()
    db.expire_all()
    assert db.scalars(select(PositionRow.fix_time).where(PositionRow.beacon_id == beacon.id)).all() == [
        NOW - timedelta(minutes=5) + timedelta(seconds=30)]
    kept = db.scalars(select(DeviceMessage).where(DeviceMessage.device_id == beacon.device_id)).all()
    assert [(m.kind, "surrogate" in m.reason) for m in kept] == [("malformed", True)]


def test_pings_are_stored_then_acknowledged_and_a_redelivery_changes_nothing(db, run, live, make_beacon) -> None:
    beacon = make_beacon()
    subscriber = run.subscriber(live.writer)
    wait_subscribed(subscriber)
    run.publish(beacon.device_id, ping(0), [ping(30), ping(60, speed_kmh=50)], ping(0))
    wait_until(lambda: subscriber.acknowledged == 3)
    subscriber.stop()
    db.expire_all()
    stored = db.scalars(select(PositionRow).where(PositionRow.beacon_id == beacon.id)
                        .order_by(PositionRow.fix_time)).all()
    assert [r.fix_time for r in stored] == [NOW - timedelta(minutes=5) + timedelta(seconds=s) for s in (0, 30, 60)]
    assert {r.protocol.value for r in stored} == {"mqtt"}


def test_unregistered_device_and_malformed_payload_are_acknowledged_and_not_stored(db, run, live) -> None:
    subscriber = run.subscriber(live.writer)
    wait_subscribed(subscriber)
    run.publish("000000000000000", ping(0))
    run.publish("000000000000001", b"{not json")
    wait_until(lambda: subscriber.acknowledged == 2)  # refused for good: the broker may forget them
    subscriber.stop()
    db.expire_all()
    assert db.scalar(select(PositionRow.id).limit(1)) is None
    # the unreadable payload is kept as evidence before it is acknowledged
    [kept] = db.scalars(select(DeviceMessage).where(DeviceMessage.device_id == "000000000000001"))
    assert (kept.kind, kept.raw, kept.protocol.value) == ("malformed", b"{not json", "mqtt")


class FlakyWriter:
    """Fails the first submission (as if the database were down), then succeeds."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, positions: Any, token: str | None = None) -> Future[Outcome]:
        self.calls += 1
        future: Future[Outcome] = Future()
        if self.calls == 1:
            future.set_exception(NotStored("database down"))
        else:
            future.set_result(Outcome(stored=len(positions)))
        return future


def test_message_not_stored_is_not_acknowledged_and_comes_again(run) -> None:
    writer = FlakyWriter()
    subscriber = run.subscriber(writer)
    wait_subscribed(subscriber)
    run.publish("864454040000001", ping(0))
    wait_until(lambda: subscriber.acknowledged == 1)  # after a reconnect the broker sent it again
    subscriber.stop()
    assert writer.calls == 2


class SlowWriter:
    """Holds every submission uncommitted until released (a long commit), then stores it."""

    def __init__(self) -> None:
        self.held: list[tuple[Future[Outcome], int]] = []

    def submit(self, positions: Any, token: str | None = None) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        self.held.append((future, len(positions)))
        return future

    def release(self) -> None:
        for future, count in self.held:
            future.set_result(Outcome(stored=count))


def test_a_batch_worth_of_messages_arrives_while_earlier_ones_wait_for_their_commit(run) -> None:
    # Unacknowledged messages are what a commit gathers: the broker must not stop at its default 20.
    writer = SlowWriter()
    subscriber = run.subscriber(writer)
    wait_subscribed(subscriber)
    run.publish("864454040000001", *[ping(n) for n in range(300)])
    wait_until(lambda: len(writer.held) == 300)
    assert subscriber.acknowledged == 0
    writer.release()
    wait_until(lambda: subscriber.acknowledged == 300)
    subscriber.stop()
