"""TCP ingestion on asyncio: one coroutine per connection, running its protocol's session.

Teltonika (IMEI handshake first) and NMEA lines (``servers.nmea``) have sessions of their
own; GT06 and every other framed protocol of the registry share ``framed_session``.

A device's packet is acknowledged only after its positions (or, for a packet that is not a
position, its raw bytes as evidence) are committed; when they could not be stored the
connection is closed without the acknowledgement, so the device sends the packet again.
Bytes that are not a packet are kept as evidence and skipped to the next packet start: the
connection stays open. Only a refused login or a batch that cannot be stored hangs up.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Awaitable, Callable

from beacon_gateway import protocols
from beacon_gateway.decoders import gt06, teltonika
from beacon_gateway.evidence import Evidence
from beacon_gateway.position import ChecksumError, DecodeError, Position
from beacon_gateway.protocols import Link, Protocol
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
                           refusal_answer: bytes = b"", raw: bytes = b"") -> None:
    """Admit a TCP login (registered for this protocol, from an allowed address) or refuse and hang up.

    A refusal is kept as evidence, logged and answered only as the protocol allows
    (Teltonika's 0x00; GT06 and NMEA get no acknowledgement), so a device never learns
    more than "not accepted".
    """
    refusal = await ingest.login_refusal(device_id, protocol, connection.address)
    if refusal is None:
        return
    log.warning("%s login from %s refused: %s", protocol, connection.address, refusal)
    await keep(ingest, connection, Evidence(device_id, protocol, "refused", f"login refused: {refusal}", raw))
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


async def keep(ingest: Ingest, connection: Connection, evidence: Evidence) -> None:
    """Commit a message that is not a position as evidence; hang up when it cannot be stored."""
    try:
        await ingest.keep(evidence, connection.address)
    except NotStored as exc:
        raise Hangup(f"evidence not stored: {exc}") from exc


async def skip_broken(ingest: Ingest, connection: Connection, evidence: Evidence, buffer: bytes,
                      skip: int) -> bytes:
    """Keep the first ``skip`` bytes of ``buffer`` (not a packet) as ``evidence``; return the rest."""
    await keep(ingest, connection, replace(evidence, reason=f"{evidence.reason}; skipped", raw=buffer[:skip]))
    return buffer[skip:]


async def teltonika_session(ingest: Ingest, connection: Connection) -> None:
    """IMEI handshake (0x01 for an admitted beacon, else 0x00), then packets of any codec:
    data acknowledged by record count, pings and command answers kept, broken bytes skipped."""
    buffer, handshake = b"", None
    while handshake is None:
        buffer = await connection.read_more(buffer)
        try:
            handshake, buffer = teltonika.split_imei(buffer)
        except DecodeError as exc:
            await keep(ingest, connection, Evidence(None, teltonika.PROTOCOL, "malformed", str(exc), buffer))
            raise
    imei = teltonika.parse_imei(handshake)
    await admit_or_hang_up(ingest, connection, imei, teltonika.PROTOCOL, teltonika.IMEI_REJECT, handshake)
    await keep(ingest, connection, Evidence(imei, teltonika.PROTOCOL, "login", "IMEI handshake admitted", handshake))
    await connection.send(teltonika.IMEI_ACCEPT)
    while True:
        try:
            frame, buffer = teltonika.split_frame(buffer)
        except DecodeError as exc:
            broken = Evidence(imei, teltonika.PROTOCOL, "malformed", str(exc), b"")
            buffer = await skip_broken(ingest, connection, broken, buffer, teltonika.resync(buffer))
            continue
        if frame is None:
            buffer = await connection.read_more(buffer)
            continue
        await _teltonika_packet(ingest, connection, imei, frame)


async def _teltonika_packet(ingest: Ingest, connection: Connection, imei: str, frame: bytes) -> None:
    """Store or keep one packet, then answer it as the protocol says."""
    try:
        packet = teltonika.decode(frame, imei)
    except ChecksumError as exc:
        log.warning("Teltonika %s: %s; not acknowledged, the device resends", imei, exc)
        broken = Evidence(imei, teltonika.PROTOCOL, "malformed", f"{exc}; not acknowledged", frame)
        await keep(ingest, connection, broken)
        return
    except DecodeError as exc:
        # The CRC vouches these are the bytes the device meant: resending would not help. They
        # are committed as evidence, then acknowledged so the device moves on.
        log.warning("Teltonika %s: %s; kept as evidence", imei, exc)
        await keep(ingest, connection, Evidence(imei, teltonika.PROTOCOL, "unknown", str(exc), frame))
        await connection.send(teltonika.ack(frame[9]))
        return
    if packet.kind == "data":
        await store_or_hang_up(ingest, packet.positions)
    else:
        reason = f"codec 0x{packet.codec:02x} command answer: {packet.text}" if packet.text else "keep-alive ping"
        await keep(ingest, connection, Evidence(imei, teltonika.PROTOCOL, packet.kind, reason, frame))
    if packet.answer is not None:
        await connection.send(packet.answer)


def framed_session(protocol: Protocol) -> Session:
    """The conversation of a framed protocol (GT06 and any registry entry without a session of its
    own): frames cut by its framing, decoded by its decoder, a login admitted, positions stored,
    everything else kept, each frame answered by its acknowledgement. Broken bytes are kept and
    skipped to the next frame start, and the connection stays open."""
    assert protocol.framing is not None and protocol.decoder is not None
    framing = protocol.framing

    async def session(ingest: Ingest, connection: Connection) -> None:
        buffer, link = b"", Link()
        while True:
            try:
                frame, buffer = framing.split(buffer)
            except DecodeError as exc:
                broken = Evidence(link.device_id, protocol.name, "malformed", str(exc), b"")
                buffer = await skip_broken(ingest, connection, broken, buffer, framing.resync(buffer))
                continue
            if frame is None:
                buffer = await connection.read_more(buffer)
                continue
            await _framed_packet(ingest, connection, protocol, link, frame)

    session.__name__ = session.__qualname__ = f"{protocol.name}_session"
    return session


async def _framed_packet(ingest: Ingest, connection: Connection, protocol: Protocol, link: Link,
                         frame: bytes) -> None:
    """Store or keep one frame, then answer it as the protocol says."""
    assert protocol.decoder is not None
    try:
        message = protocol.decoder(frame, link)
    except DecodeError as exc:
        log.warning("%s %s: %s; not acknowledged", protocol.title, link.device_id, exc)
        await keep(ingest, connection, Evidence(link.device_id, protocol.name, "malformed", str(exc), frame))
        return
    if message.hang_up:
        await keep(ingest, connection, Evidence(link.device_id, protocol.name, message.kind, message.reason, frame))
        raise Hangup(message.reason)
    if message.login is not None:
        await admit_or_hang_up(ingest, connection, message.login, protocol.name, raw=frame)
        link.device_id = message.login
    if message.positions:
        await store_or_hang_up(ingest, message.positions)
    else:
        await keep(ingest, connection, Evidence(link.device_id, protocol.name, message.kind, message.reason, frame))
    answer = protocol.acknowledge(message) if protocol.acknowledge is not None else None
    if answer:
        await connection.send(answer)


async def gt06_session(ingest: Ingest, connection: Connection) -> None:
    """GT06: login (answered for an admitted beacon), then every packet type (the registry's framed session)."""
    await framed_session(protocols.get(gt06.PROTOCOL))(ingest, connection)


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
