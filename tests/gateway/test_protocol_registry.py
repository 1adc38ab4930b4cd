"""The protocol registry: every entry has its parts, and a protocol registered by a test alone is
served, parsed, captured, configured, counted and simulated without any other file knowing it."""
from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

import pytest

from beacon_gateway import metrics, protocols
from beacon_gateway.cli import main
from beacon_gateway.commands.serve import _tcp_protocols
from beacon_gateway.config import load_gateway_settings
from beacon_gateway.decoders import capture
from beacon_gateway.evidence import Evidence, packet_type
from beacon_gateway.position import DecodeError, Position
from beacon_gateway.protocols import Encoder, Framing, Link, Message, Protocol, SimulatedDevice
from beacon_gateway.servers.tcp import TcpListener
from tests.gateway.helpers import recv_exactly
from tracker.models import BeaconProtocol

# ---------------------------------------------------------------- a toy protocol, known to this file only
# Frames are "#" + comma-separated fields + "\n": "#L,<device id>" logs in, "#P,<epoch>,<lat>,<lon>"
# is a fix, anything else is a status; the server answers every frame with "OK<n>\n".
TOY = "toy"


def toy_split(buffer: bytes) -> tuple[bytes | None, bytes]:
    if buffer[:1] not in (b"", b"#"):
        raise DecodeError(f"toy frame must start with #, not {buffer[:1]!r}")
    end = buffer.find(b"\n")
    return (None, buffer) if end < 0 else (buffer[:end + 1], buffer[end + 1:])


def toy_resync(buffer: bytes) -> int:
    found = buffer.find(b"#", 1)
    return found if found > 0 else len(buffer)


def toy_decode(frame: bytes, link: Link) -> Message:
    kind, *values = frame[1:].strip().decode("ascii").split(",")
    if kind == "L":
        return Message(kind="login", reason="toy login", login=values[0], native=frame)
    if kind != "P":
        return Message(kind="status", reason=f"toy status {kind}", native=frame)
    if link.device_id is None:
        raise DecodeError("toy fix before login")
    try:
        epoch, lat, lon = int(values[0]), float(values[1]), float(values[2])
    except (ValueError, IndexError) as exc:
        raise DecodeError(f"toy fix {frame!r}: {exc}") from None
    return Message([Position(link.device_id, datetime.fromtimestamp(epoch, timezone.utc), lat, lon, TOY,
                             raw=frame)], native=frame)


def toy_answer(message: Message) -> bytes | None:
    return b"OK%d\n" % len(message.native)


def toy_messages(positions: Sequence[Position], _device: SimulatedDevice) -> list[bytes]:
    return [b"#P,%d,%.6f,%.6f\n" % (p.fix_time.timestamp(), p.lat, p.lon) for p in positions]


TOY_PROTOCOL = Protocol(
    TOY, "Toy", "tcp", "a protocol that exists only in this test",
    framing=Framing(toy_split, toy_resync, (b"#",)), decoder=toy_decode, acknowledge=toy_answer,
    encoder=Encoder(messages=toy_messages, opening=lambda device_id: b"#L,%s\n" % device_id.encode(),
                    opening_answer=lambda device_id: b"OK%d\n" % (len(device_id) + 4),
                    answer=lambda messages, _d: b"".join(b"OK%d\n" % len(m) for m in messages)),
    port_setting="GATEWAY_TCP_TOY_PORT", packet_type=lambda raw: raw[1] if raw[:1] == b"#" else None)

FIXES = b"#L,TOY-1\n#P,1796000000,40.5,72.8\n#S,battery\n#P,1796000030,40.501,72.8\n"


@pytest.fixture
def toy() -> Iterator[Protocol]:
    protocols.register(TOY_PROTOCOL)
    yield TOY_PROTOCOL
    protocols.unregister(TOY)


@dataclass
class _Outcome:
    rejected: list[Any] = field(default_factory=list)


@dataclass
class RecordingIngest:
    """What a listener hands on: logins checked, positions stored and messages kept, recorded."""

    logins: list[tuple[str, str]] = field(default_factory=list)
    stored: list[Position] = field(default_factory=list)
    kept: list[Evidence] = field(default_factory=list)

    async def login_refusal(self, device_id: str, protocol: str, _address: str | None) -> str | None:
        self.logins.append((device_id, protocol))
        return None if device_id == "TOY-1" else "not registered"

    async def store(self, positions: Sequence[Position], _token: str | None = None) -> _Outcome:
        self.stored.extend(positions)
        return _Outcome()

    async def keep(self, evidence: Evidence, _address: str | None = None) -> None:
        self.kept.append(evidence)


def _served(session: Any, ingest: RecordingIngest, sent: bytes, answers: int) -> list[bytes]:
    """Run ``session`` on a real listening socket, send ``sent``, read ``answers`` answer lines."""
    async def conversation() -> list[bytes]:
        listener = await TcpListener(session, ingest).start("127.0.0.1", 0)   # type: ignore[arg-type]
        address = listener.server.sockets[0].getsockname()[:2]              # type: ignore[union-attr]
        try:
            return await asyncio.to_thread(_talk, address, sent, answers)
        finally:
            await listener.stop()
    return asyncio.run(conversation())


def _talk(address: tuple[str, int], sent: bytes, answers: int) -> list[bytes]:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(sent)
        lines = []
        for _ in range(answers):
            line = b""
            while not line.endswith(b"\n"):
                line += recv_exactly(sock, 1)
            lines.append(line)
        return lines


# ---------------------------------------------------------------- every entry has its parts
@pytest.mark.parametrize("protocol", protocols.every(), ids=lambda p: p.name)
def test_every_entry_has_all_its_parts(protocol: Protocol) -> None:
    assert protocol.name and protocol.title and protocol.summary
    assert protocol.readable or protocol.transport == "mqtt"       # MQTT payloads are read as json
    if protocol.transport != "file":
        assert protocol.name in {p.value for p in BeaconProtocol}  # a beacon can be registered for it
        assert protocol.encoder is not None and protocol.port_setting
        assert protocol.encoder.messages(_FIX, SimulatedDevice("356307042441013", None))
    if protocol.transport == "tcp":
        assert protocol.port_setting.startswith("GATEWAY_TCP_") and protocol.port_setting.endswith("_PORT")
        assert protocol.session is not None or (protocol.framing and protocol.decoder and protocol.acknowledge)
    if protocol.framing is not None:
        assert protocol.decoder and protocol.acknowledge and protocol.framing.starts and protocol.packet_type


def test_every_beacon_protocol_has_an_entry_and_ports_are_not_shared() -> None:
    assert {p.value for p in BeaconProtocol} <= set(protocols.names())
    tcp = [p.port_setting for p in protocols.every() if p.transport == "tcp"]
    assert len(tcp) == len(set(tcp))


_FIX = [Position("356307042441013", datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc), 41.873, 72.941,
                 "json", speed_kmh=48.0, course=90.0, satellites=9)]


# ---------------------------------------------------------------- a protocol registered by a test alone
def test_a_registered_protocol_gets_its_port_setting(toy: Protocol, tmp_path: Any) -> None:
    settings = load_gateway_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path), "GATEWAY_TCP_TOY_PORT": "5999"})
    assert settings.tcp_port(TOY) == 5999
    assert [(title, port) for title, port, _ in _tcp_protocols(settings)] == [("Toy", 5999)]


def test_a_registered_protocol_is_served_logged_in_stored_kept_and_answered(toy: Protocol, tmp_path: Any) -> None:
    settings = load_gateway_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path), "GATEWAY_TCP_TOY_PORT": "1"})
    (_, _, session), = _tcp_protocols(settings)
    ingest = RecordingIngest()
    answers = _served(session, ingest, b"junk" + FIXES, 4)
    assert answers == [b"OK9\n", b"OK24\n", b"OK11\n", b"OK26\n"]
    assert ingest.logins == [("TOY-1", TOY)]
    assert [(p.device_id, p.lat) for p in ingest.stored] == [("TOY-1", 40.5), ("TOY-1", 40.501)]
    assert [(e.kind, e.raw) for e in ingest.kept] == [
        ("malformed", b"junk"), ("login", b"#L,TOY-1\n"), ("status", b"#S,battery\n")]
    assert packet_type(ingest.kept[-1]) == ord("S")


def test_a_registered_protocol_refuses_an_unknown_device_and_hangs_up(toy: Protocol) -> None:
    ingest = RecordingIngest()
    with pytest.raises(ConnectionError):
        _served(toy.session or _framed(toy), ingest, b"#L,STRANGER\n#P,1796000000,40.5,72.8\n", 1)
    assert ingest.stored == [] and [e.kind for e in ingest.kept] == ["refused"]


def _framed(protocol: Protocol) -> Any:
    from beacon_gateway.servers.tcp import framed_session
    return framed_session(protocol)


def test_a_registered_protocol_is_parsed_from_a_capture_and_a_hex_dump(toy: Protocol, tmp_path: Any,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert TOY in capture.formats()
    stream, dump = tmp_path / "toy.bin", tmp_path / "toy.hex"
    stream.write_bytes(FIXES + b"garbage#P,bad\n")
    dump.write_text("\n".join(line.hex() for line in FIXES.splitlines(keepends=True)))
    assert main(["parse", "--format", TOY, str(stream)]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["fix_time"] for line in out.splitlines()] == ["2026-11-30T00:53:20Z",
                                                                            "2026-11-30T00:53:50Z"]
    assert err.splitlines()[0].endswith("toy frame must start with #, not b'g'")
    assert main(["parse", "--format", TOY, str(dump)]) == 0
    assert {json.loads(line)["device_id"] for line in capsys.readouterr().out.splitlines()} == {"TOY-1"}


def test_a_registered_protocol_is_simulated_into_a_file_that_parse_reads_back(
        toy: Protocol, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    trip = tmp_path / "trip.hex"
    assert main(["simulate", "--protocol", TOY, "--device-id", "TOY-1", "--departed", "2026-11-20T04:00:00Z",
                 "--limit", "3", "--to", str(trip)]) == 0
    assert main(["parse", "--format", TOY, str(trip)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["device_id"], p["fix_time"]) for p in printed] == [
        ("TOY-1", "2026-11-20T04:00:00Z"), ("TOY-1", "2026-11-20T04:00:30Z"), ("TOY-1", "2026-11-20T04:01:00Z")]


def test_a_registered_protocol_is_simulated_over_tcp_to_its_served_port(toy: Protocol) -> None:
    from beacon_gateway.simulator import Simulation
    from tracker.domain import geography as geo

    ingest = RecordingIngest()
    fixes = list(Simulation(geo.KHAIDARKAN_AKJOL, datetime(2026, 11, 20, 4, tzinfo=timezone.utc),
                            device_id="TOY-1").positions())[:3]

    async def drive() -> None:
        listener = await TcpListener(_framed(toy), ingest).start("127.0.0.1", 0)   # type: ignore[arg-type]
        port = listener.server.sockets[0].getsockname()[1]                        # type: ignore[union-attr]
        try:
            await asyncio.to_thread(_send, f"tcp://127.0.0.1:{port}", fixes)
        finally:
            await listener.stop()

    asyncio.run(drive())
    assert [p.fix_time for p in ingest.stored] == [p.fix_time for p in fixes]


def _send(url: str, fixes: list[Position]) -> None:
    from beacon_gateway.simulator.send import TcpSender

    sender = TcpSender(url, TOY, "TOY-1")
    sender.send(fixes)
    sender.close()


def test_a_registered_protocol_has_its_counters_on_metrics(toy: Protocol) -> None:
    metrics.show_protocols(protocols.names())
    assert b'beacon_gateway_messages_total{protocol="toy"} 0.0' in metrics.exposition()


def test_the_readmes_protocol_table_is_the_registrys() -> None:
    from pathlib import Path

    from beacon_gateway.protocols.table import markdown_table

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- protocol table: python -m beacon_gateway.protocols.table -->\n")
    end = readme.index("\n<!-- end of protocol table -->")
    assert readme[readme.index("\n", start) + 1:end] == markdown_table()
