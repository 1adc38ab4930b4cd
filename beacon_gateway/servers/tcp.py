"""TCP ingestion on asyncio: Teltonika (Codec 8/8E), GT06 and NMEA lines, one coroutine per connection.

A device's packet is acknowledged only after its positions are committed; when they could
not be stored the connection is closed without the acknowledgement, so the device sends
the packet again. A stream that cannot be framed is closed too: TCP cannot resynchronise.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from beacon_gateway.decoders import gt06, teltonika
from beacon_gateway.position import ChecksumError, DecodeError, Position
from beacon_gateway.servers import Ingest
from beacon_gateway.writer import NotStored

log = logging.getLogger(__name__)

READ_SIZE = 65536
MAX_LINE_BYTES = 4096   # a text protocol line longer than this is not a device talking
IDLE_TIMEOUT_S = 600      # a silent device is dropped after this (trackers reconnect)
DRAIN_S = 5.0             # on stop, how long a connection may take to finish the packet it is storing
Session = Callable[[Ingest, "Connection"], Awaitable[None]]


class Hangup(Exception):
    """End this connection (logged once, with the reason)."""


class Connection:
    """One device's TCP connection: its byte stream, its address and the listener's "closing" signal."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 closing: asyncio.Event) -> None:
        self.reader, self.writer, self.closing = reader, writer, closing
        peer = writer.get_extra_info("peername")
        self.address: str | None = str(peer[0]) if peer else None   # the device's IP address

    async def read_more(self, buffer: bytes) -> bytes:
        """Return ``buffer`` with the device's next bytes; Hangup when it or the gateway stops."""
        read = asyncio.ensure_future(self.reader.read(READ_SIZE))
        stop = asyncio.ensure_future(self.closing.wait())
        done, _ = await asyncio.wait({read, stop}, timeout=IDLE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        for task in (read, stop):
            if task not in done:
                task.cancel()
        if read not in done:
            raise Hangup("gateway stopping" if stop in done else "device silent too long")
        data = read.result()
        if not data:
            raise Hangup("device closed the connection")
        return buffer + data

    async def send(self, data: bytes) -> None:
        """Write an answer to the device."""
        self.writer.write(data)
        await self.writer.drain()


async def admit_or_hang_up(ingest: Ingest, connection: Connection, device_id: str, protocol: str,
                           refusal_answer: bytes = b"") -> None:
    """Admit a TCP login (registered for this protocol, from an allowed address) or refuse and hang up.

    A refusal is logged and answered only as the protocol allows (Teltonika's 0x00; GT06 and
    NMEA get no acknowledgement), so a device never learns more than "not accepted".
    """
    refusal = await ingest.login_refusal(device_id, protocol, connection.address)
    if refusal is None:
        return
    log.warning("%s login from %s refused: %s", protocol, connection.address, refusal)
    if refusal_answer:
        await connection.send(refusal_answer)
    raise Hangup(f"login refused: {refusal}")


async def store_or_hang_up(ingest: Ingest, positions: list[Position]) -> None:
    """Commit positions; refusals are logged (resending would not help), failures hang up."""
    try:
        outcome = await ingest.store(positions)
    except NotStored as exc:
        raise Hangup(f"not stored, not acknowledged: {exc}") from exc
    for rejection in outcome.rejected:
        log.warning("refused %s record %d: %s", positions[0].device_id, rejection.index, rejection.reason)


async def teltonika_session(ingest: Ingest, connection: Connection) -> None:
    """IMEI handshake (0x01 for an admitted beacon, else 0x00), then AVL packets acknowledged by record count."""
    buffer, handshake = b"", None
    while handshake is None:
        buffer = await connection.read_more(buffer)
        handshake, buffer = teltonika.split_imei(buffer)
    imei = teltonika.parse_imei(handshake)
    await admit_or_hang_up(ingest, connection, imei, teltonika.PROTOCOL, teltonika.IMEI_REJECT)
    await connection.send(teltonika.IMEI_ACCEPT)
    while True:
        frame, buffer = teltonika.split_frame(buffer)
        if frame is None:
            buffer = await connection.read_more(buffer)
            continue
        try:
            positions, count = teltonika.decode_packet(frame, imei)
        except ChecksumError as exc:
            log.warning("Teltonika %s: %s; not acknowledged, the device resends", imei, exc)
            continue
        await store_or_hang_up(ingest, positions)
        await connection.send(teltonika.ack(count))


async def gt06_session(ingest: Ingest, connection: Connection) -> None:
    """Login (answered for an admitted beacon), then location, heartbeat and alarm packets."""
    buffer, imei = b"", None
    while True:
        frame, buffer = gt06.split_frame(buffer)
        if frame is None:
            buffer = await connection.read_more(buffer)
            continue
        try:
            message = gt06.decode_frame(frame, imei)
        except ChecksumError as exc:
            log.warning("GT06 %s: %s; not acknowledged", imei, exc)
            continue
        if message.kind == "login":
            if message.imei is None:
                raise Hangup("GT06 login without an IMEI")
            await admit_or_hang_up(ingest, connection, message.imei, gt06.PROTOCOL)
            imei = message.imei
        if message.positions:
            await store_or_hang_up(ingest, message.positions)
        answer = gt06.ack(message)
        if answer:
            await connection.send(answer)


class TcpListener:
    """A listening port running one protocol's session per connection; stops gracefully."""

    def __init__(self, session: Session, ingest: Ingest) -> None:
        self.session, self.ingest = session, ingest
        self.closing = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> TcpListener:
        """Listen on ``host:port``."""
        self.server = await asyncio.start_server(self._connected, host, port, limit=READ_SIZE)
        return self

    async def stop(self, drain_s: float = DRAIN_S) -> None:
        """Stop accepting; let each connection finish the packet it is storing (for ``drain_s`` at
        most: the rest are cancelled unacknowledged), then close it."""
        if self.server is not None:
            self.server.close()
        self.closing.set()
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=drain_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        peer = writer.get_extra_info("peername")
        name = self.session.__name__
        try:
            await self.session(self.ingest, Connection(reader, writer, self.closing))
        except (Hangup, DecodeError, ConnectionError, NotStored) as exc:
            log.info("%s %s: connection closed: %s", name, peer, exc or type(exc).__name__)
        except Exception:  # noqa: BLE001 - one broken connection must not stop the listener
            log.exception("%s %s failed", name, peer)
        finally:
            writer.close()
