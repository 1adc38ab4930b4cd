"""The gateway's Prometheus metrics: what came in, what was stored or refused, how fast commits are.

Every ``serve`` process keeps its own counters in its own registry and shows them at
``GET /metrics`` on its HTTP listener (``GATEWAY_HTTP_PORT``); several processes are
several scrape targets, summed in Prometheus (``sum by (protocol) (rate(...))``). Counters
start at 0 when a process starts, which ``rate()`` expects. A process run without its HTTP
listener has no endpoint.

Listeners, the writer and the decoders call the small functions below; none of them can
fail or block (a counter is a lock and an addition). Label values coming from devices
(packet types) are bounded, so a device sending garbage cannot grow the registry.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Iterable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest)

#: The registry ``/metrics`` shows: the gateway's own metrics and the process's (CPU, memory, files).
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Distinct (protocol, packet type) pairs kept apart; later ones are counted as "other".
MAX_PACKET_TYPES = 256
MAX_LABEL_CHARS = 24

MESSAGES = Counter("beacon_gateway_messages", "Messages received (HTTP requests, TCP packets, MQTT messages "
                   "carrying positions), by protocol", ["protocol"], registry=REGISTRY)
POSITIONS = Counter("beacon_gateway_positions", "Positions committed as new rows, by protocol", ["protocol"],
                    registry=REGISTRY)
DUPLICATES = Counter("beacon_gateway_duplicates", "Positions already stored (sent again), by protocol",
                     ["protocol"], registry=REGISTRY)
REFUSALS = Counter("beacon_gateway_refusals", "Positions or messages refused, by reason", ["reason"],
                   registry=REGISTRY)
UNKNOWN = Counter("beacon_gateway_unknown_packets", "Packets of a type the decoder does not know",
                  ["protocol", "packet_type"], registry=REGISTRY)
BATCH_SECONDS = Histogram("beacon_gateway_batch_commit_seconds",
                          "Time from a batch's first handler to its commit (committed batches only)",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                          registry=REGISTRY)
BATCH_POSITIONS = Histogram("beacon_gateway_batch_positions", "Positions per committed batch",
                            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 5000), registry=REGISTRY)
MQTT_BACKLOG = Gauge("beacon_gateway_mqtt_backlog", "MQTT messages received and not yet acknowledged",
                     registry=REGISTRY)
WAITING = Gauge("beacon_gateway_waiting_submissions", "Messages handed to the batch writer, not yet answered",
                registry=REGISTRY)
OLDEST_WAIT = Gauge("beacon_gateway_oldest_wait_seconds", "Age of the oldest message waiting for its commit "
                    "(/health answers 503 past GATEWAY_HEALTH_STALL_S)", registry=REGISTRY)

_packet_types: set[tuple[str, str]] = set()
_packet_types_lock = threading.Lock()


def show_protocols(protocols: Iterable[str]) -> None:
    """Show every protocol's counters from the start, at 0 (the registry's names), so a rate over
    a protocol that has sent nothing yet is 0 rather than missing."""
    for protocol in protocols:
        label = _label(protocol)
        MESSAGES.labels(label)
        POSITIONS.labels(label)
        DUPLICATES.labels(label)


def count_message(protocol: str) -> None:
    """Count one message received in ``protocol``."""
    _messages_of(protocol).inc()


@functools.lru_cache(maxsize=256)
def _messages_of(protocol: str) -> Any:
    """Return the message counter of one protocol (looking a label up costs more than counting)."""
    return MESSAGES.labels(_label(protocol))


def count_positions(protocol: str, stored: int, duplicates: int = 0) -> None:
    """Count positions committed as new rows and positions that were already there."""
    if stored:
        POSITIONS.labels(_label(protocol)).inc(stored)
    if duplicates:
        DUPLICATES.labels(_label(protocol)).inc(duplicates)


def count_refusal(reason: str, count: int = 1) -> None:
    """Count ``count`` refusals for ``reason`` (a pipeline code, or a listener's error code)."""
    if count:
        REFUSALS.labels(_label(reason)).inc(count)


def count_unknown(protocol: str, packet_type: int | str) -> None:
    """Count a packet of a type the decoder does not know (an int is shown in hex: 0xA0)."""
    kind = f"0x{packet_type:02X}" if isinstance(packet_type, int) else _label(packet_type)
    key = (_label(protocol), kind)
    with _packet_types_lock:
        if key not in _packet_types:
            if len(_packet_types) >= MAX_PACKET_TYPES:
                key = (key[0], "other")
            else:
                _packet_types.add(key)
    UNKNOWN.labels(*key).inc()


def observe_batch(seconds: float, positions: int) -> None:
    """Record one committed batch: how long it took and how many positions it held."""
    BATCH_SECONDS.observe(seconds)
    BATCH_POSITIONS.observe(positions)


def mqtt_backlog(change: int) -> None:
    """Add ``change`` (+1 received, -1 acknowledged or given up) to the MQTT backlog."""
    MQTT_BACKLOG.inc(change)


def watch_writer(waiting: Callable[[], float], oldest_wait_s: Callable[[], float]) -> None:
    """Read the writer's queue (count, oldest age) whenever the metrics are scraped."""
    WAITING.set_function(waiting)
    OLDEST_WAIT.set_function(oldest_wait_s)


def exposition() -> bytes:
    """Return every metric in the Prometheus text format."""
    return generate_latest(REGISTRY)


def _label(value: str) -> str:
    text = "".join(c for c in str(value)[:MAX_LABEL_CHARS] if c.isprintable())
    return text or "unknown"
