"""The broker the beacons publish to shares one stream between gateway processes.

The gateway relies on MQTT v5 shared subscriptions with QoS 1: each ping goes to
exactly one of the subscribed gateway processes.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import urlparse

import paho.mqtt.client as mqtt


def _client(url: str, name: str) -> mqtt.Client:
    parsed = urlparse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{secrets.token_hex(3)}",
                         protocol=mqtt.MQTTv5)
    client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
    client.loop_start()
    return client


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
