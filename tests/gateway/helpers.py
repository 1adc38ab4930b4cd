"""Helpers for the gateway's server tests: a live gateway on a thread, HTTP calls, packets.

The gateway runs on its own event loop thread with a real batch writer, on the test's
database transaction (``sessions``), so nothing it stores outlives the test.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
import threading
import urllib.error
import urllib.request
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import build_pipeline
from beacon_gateway.servers import Ingest
from beacon_gateway.writer import BatchWriter


class LiveGateway:
    """An event loop thread with a batch writer; ``call`` runs a coroutine on it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.writer = BatchWriter(sessions, build_pipeline(GatewaySettings(database_url="sqlite://")),
                                  max_wait_s=0.005).start()
        self.ingest = Ingest(self.writer, sessions)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Awaitable[Any]) -> Any:
        """Run ``coroutine`` on the gateway's loop and return its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=30)

    def close(self, stop: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Stop the listeners (``stop``), the writer and the loop."""
        if stop is not None:
            self.call(stop())
        self.writer.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, body: bytes | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Send a request; return (status, JSON body)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# ------------------------------------------------------------------ Teltonika Codec 8 packets
def crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM (ARC): polynomial 0xA001 reflected, initial 0, as Teltonika specifies."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def teltonika_handshake(imei: str) -> bytes:
    """The IMEI handshake a Teltonika device sends first."""
    return len(imei).to_bytes(2, "big") + imei.encode()


def teltonika_packet(fixes: list[tuple[datetime, float, float]]) -> bytes:
    """A Codec 8 AVL packet of records (time, lat, lon) with 8 satellites, no IO elements."""
    records = b""
    for when, lat, lon in fixes:
        millis = int(when.astimezone(timezone.utc).timestamp() * 1000)
        gps = struct.pack(">iihHBH", round(lon * 1e7), round(lat * 1e7), 800, 90, 8, 50)
        records += struct.pack(">QB", millis, 0) + gps + bytes([0, 0, 0, 0, 0, 0])
    data = bytes([0x08, len(fixes)]) + records + bytes([len(fixes)])
    return b"\x00\x00\x00\x00" + len(data).to_bytes(4, "big") + data + crc16_ibm(data).to_bytes(4, "big")


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes or fail (the gateway closed the connection)."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def iter_fixes(start: datetime, count: int, step_s: int = 30) -> Iterator[tuple[datetime, float, float]]:
    """Fixes along a line north from Osh, ``step_s`` apart."""
    for n in range(count):
        yield start + timedelta(seconds=n * step_s), 40.5 + n * 0.001, 72.8


# ------------------------------------------------------------------ sockets and MQTT beacons
def close_wait_sockets(pid: int) -> int:
    """Return how many TCP sockets of process ``pid`` are in CLOSE-WAIT (the peer closed, it did not)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        with open(table) as rows:
            next(rows)
            count += sum(1 for row in rows if row.split()[3] == "08" and row.split()[9] in inodes)
    return count


class SteadyPublisher:
    """A beacon publishing one QoS 1 ping every ``period_s`` on its own thread.

    ``acknowledged`` lists the fix times the broker PUBACKed: what the beacon then forgets.
    """

    def __init__(self, url: str, topic: str, start: datetime, period_s: float = 0.05) -> None:
        parsed = urlparse(url)
        self.topic, self.start, self.period_s = topic, start, period_s
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}",
                                  protocol=mqtt.MQTTv5)
        self.client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self.client.loop_start()
        self.acknowledged: list[datetime] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.period_s):
            fix_time = self.start + timedelta(seconds=n)
            info = self.client.publish(self.topic, json.dumps(
                {"fix_time": fix_time.isoformat(), "lat": 40.5 + n * 1e-5, "lon": 72.8}), qos=1)
            try:
                info.wait_for_publish(10)
            except (RuntimeError, ValueError):  # not connected: the beacon was not acknowledged
                pass
            if info.is_published():
                self.acknowledged.append(fix_time)
            n += 1

    def stop(self) -> list[datetime]:
        """Stop publishing; return the acknowledged fix times."""
        self._stop.set()
        self._thread.join(15)
        self.client.loop_stop()
        self.client.disconnect()
        return self.acknowledged
