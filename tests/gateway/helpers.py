"""Helpers for the gateway's server tests: a live gateway on a thread, HTTP calls, packets.

The gateway runs on its own event loop thread with a real batch writer, on the test's
database transaction (``sessions``), so nothing it stores outlives the test.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import urllib.error
import urllib.request
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterator

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
    from datetime import timedelta

    for n in range(count):
        yield start + timedelta(seconds=n * step_s), 40.5 + n * 0.001, 72.8
