"""MQTT ingestion: JSON pings on ``beacons/{device_id}/pings`` through an MQTT v5 shared subscription.

QoS 1 with manual acknowledgement: a message's PUBACK goes out only once its positions are
committed (or it was refused for good: a message that can never be stored is acknowledged so
the broker stops sending it, and logged). The session is persistent (``clean_start=False``,
a session expiry interval) under a stable client id, so messages unacknowledged when a
gateway dies are delivered again when it comes back; the other members of the shared
subscription keep receiving new ones meanwhile. A message is acknowledged only on the
connection it came on: after a reconnect the broker resends what was unacknowledged, with
the same packet ids, so an acknowledgement sent late on the new connection could settle
another message that reused the id.

Broker settings matter: Mosquitto queues at most ``max_queued_messages`` (default 1000)
QoS 1 messages per subscriber beyond those in flight and drops the rest, before any
gateway sees them. The project's broker configuration, ``beacon_gateway/mosquitto/
mosquitto.conf``, sets no limit and turns persistence on.

paho decodes what beacons send at a cost the gateway notices: for every MQTT v5 PUBLISH it
builds a whole ``Properties`` table and an ``MQTTMessage`` with its own ``threading.Condition``,
about a third of the gateway's CPU per ping (py-spy on ``bench/gateway.py``). :class:`LeanClient`
decodes the usual packet (QoS 1, no properties, a UTF-8 topic) itself and hands paho every other.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from beacon_gateway import metrics
from beacon_gateway.decoders import json_batch
from beacon_gateway.evidence import Evidence, EvidenceBound
from beacon_gateway.position import DecodeError
from beacon_gateway.writer import BatchWriter, Outcome

log = logging.getLogger(__name__)

PROTOCOL = "mqtt"
KEEPALIVE_S = 30
#: Messages the broker may send before the first is acknowledged. A message is acknowledged
#: only once committed, so this bounds a batch: Mosquitto's default (20 unacknowledged,
#: when the client names no Receive Maximum) held the gateway to 20 messages a commit.
RECEIVE_MAXIMUM = 1000
REDELIVERY_PAUSE_S = 1.0


class Publish:
    """An incoming PUBLISH as the subscriber reads it: what paho's ``MQTTMessage`` offers, and no more."""

    __slots__ = ("topic", "payload", "mid", "qos")

    def __init__(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.topic, self.payload, self.mid, self.qos = topic, payload, mid, qos


class LeanClient(mqtt.Client):
    """paho's client, decoding the PUBLISH packets beacons send without paho's per-packet objects.

    It overrides paho's ``_handle_publish`` (a private method; paho is pinned below 2.3 for
    it): a QoS 1 packet whose property length is zero and whose topic is UTF-8 becomes a
    :class:`Publish` for ``on_message``, with paho's locking and error handling around the
    call; any other packet (properties, QoS 0 or 2, a topic alias, a malformed one) goes
    through paho's own code unchanged. Only MQTT v5 clients with ``manual_ack`` and no
    per-topic callbacks take the short path, the way the subscriber uses paho.
    """

    _per_topic = False

    def message_callback_add(self, sub: str, callback: Any) -> None:
        """Add a per-topic callback (paho's); the packets then all take paho's path."""
        self._per_topic = True
        super().message_callback_add(sub, callback)

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        short = self._protocol == mqtt.MQTTv5 and self._manual_ack and not self._per_topic
        publish = _plain_qos1(header, packet) if short else None
        if publish is None:
            return super()._handle_publish()
        with self._callback_mutex:
            on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, publish)
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


def _plain_qos1(header: int, packet: bytes) -> Publish | None:
    """Decode a QoS 1 PUBLISH with no properties and a non-empty UTF-8 topic; None for any other."""
    if header & 0x06 != 0x02 or len(packet) < 2:
        return None
    topic_end = 2 + (packet[0] << 8 | packet[1])
    if topic_end == 2 or len(packet) < topic_end + 3 or packet[topic_end + 2] != 0:
        return None                 # no topic (an alias), truncated, or properties: paho's own path
    try:
        topic = packet[2:topic_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    mid = packet[topic_end] << 8 | packet[topic_end + 1]
    return Publish(topic, bytes(packet[topic_end + 3:]), mid, 1)


def device_from_topic(topic_filter: str, topic: str) -> str | None:
    """Return the device id that fills the filter's ``+`` in ``topic``, or None when it does not match."""
    pattern = topic_filter.split("/")
    if topic_filter.startswith("$share/"):
        pattern = pattern[2:]
    parts = topic.split("/")
    if len(parts) != len(pattern) or "+" not in pattern:
        return None
    if any(p not in ("+", part) for p, part in zip(pattern, parts)):
        return None
    device_id = parts[pattern.index("+")]
    return device_id or None


class MqttSubscriber:
    """A paho client on its own network thread, feeding the batch writer."""

    def __init__(self, writer: BatchWriter, url: str, topic_filter: str, client_id: str,
                 session_expiry_s: int = 3600) -> None:
        self.writer, self.topic_filter = writer, topic_filter
        self.bound = EvidenceBound()
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.session_expiry_s = session_expiry_s
        self.client = LeanClient(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv5, manual_ack=True)
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        self.client.on_disconnect = lambda *_args: self._next_connection()
        self.subscribed = threading.Event()  # set at the first SUBACK: the stream is flowing
        self._pending = 0
        self.acknowledged = 0  # messages acknowledged so far (for logs and tests)
        self._lock = threading.Condition()
        self._stopping = False
        self._redelivering = threading.Lock()
        self._connection = 0  # counts connections: an ack goes only on the one a message came on

    def start(self) -> MqttSubscriber:
        """Connect (persistent session) and start the network thread."""
        self._connect()
        return self

    def _connect(self) -> None:
        # connect_async + loop_start: the network thread keeps retrying while the broker is away.
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S, clean_start=False,
                                  properties=properties)
        self.client.loop_start()

    def stop(self, timeout: float = 5) -> None:
        """Take no new message, wait for the acknowledgements of those being stored, disconnect."""
        with self._lock:
            self._stopping = True
            self._lock.wait_for(lambda: self._pending == 0, timeout)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                    _properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        self._next_connection()
        client.subscribe(self.topic_filter, qos=1)
        log.info("MQTT subscribed to %s as %s", self.topic_filter, client._client_id.decode())

    def _next_connection(self) -> None:
        # Connected anew, or cut off: what came on the old connection is not acknowledged on it.
        with self._lock:
            self._connection += 1

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: Publish | mqtt.MQTTMessage) -> None:
        with self._lock:
            if self._stopping:
                return  # not acknowledged: the broker delivers it again
            self._pending += 1
            connection = self._connection
        metrics.mqtt_backlog(+1)
        device_id = device_from_topic(self.topic_filter, message.topic)
        try:
            if device_id is None:
                raise DecodeError(f"topic {message.topic!r} does not name a device")
            positions = [replace(p, protocol=PROTOCOL)
                         for p in json_batch.decode_batch(message.payload, device_id=device_id)]
        except DecodeError as exc:
            # Refused for good, but kept as evidence first; acknowledged once that is committed.
            log.warning("MQTT message on %s refused for good: %s", message.topic, exc)
            metrics.count_refusal("invalid_message")
            kept = self.bound.bounded(Evidence(device_id, PROTOCOL, "malformed", str(exc), message.payload),
                                      device_id or message.topic)
            future = self.writer.submit((), evidence=(kept,))
        else:
            future = self.writer.submit(positions)
        future.add_done_callback(lambda done: self._stored(done, message, connection))

    def _stored(self, future: Future[Outcome], message: Publish | mqtt.MQTTMessage, connection: int) -> None:
        if future.exception() is not None:
            log.warning("MQTT message on %s not stored, not acknowledged: %s", message.topic,
                        future.exception())
            self._settle(message, connection, acknowledge=False)
            threading.Thread(target=self._redeliver, daemon=True).start()
            return
        for rejection in future.result().rejected:
            log.warning("MQTT message on %s ping %d refused: %s", message.topic, rejection.index,
                        rejection.reason)
        self._settle(message, connection, acknowledge=True)

    def _settle(self, message: Publish | mqtt.MQTTMessage, connection: int, acknowledge: bool) -> None:
        with self._lock:
            # Stored, but came on an earlier connection: its redelivery is acknowledged instead.
            acknowledge = acknowledge and connection == self._connection
            if acknowledge:
                self.client.ack(message.mid, message.qos)
            self.acknowledged += acknowledge
            self._pending -= 1
            self._lock.notify_all()
        metrics.mqtt_backlog(-1)

    def _redeliver(self) -> None:
        # MQTT resends an unacknowledged message only on a new connection: reconnect.
        if not self._redelivering.acquire(blocking=False):
            return
        try:
            self.client.disconnect()
            self.client.loop_stop()
            time.sleep(REDELIVERY_PAUSE_S)
            if not self._stopping:
                self._connect()
        finally:
            self._redelivering.release()
