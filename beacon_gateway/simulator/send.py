"""Where simulated fixes go: standard output or a file, HTTP, TCP, or MQTT, in a protocol's own bytes.

What a protocol's device sends and waits for comes from its registry entry's ``Encoder``.
"""
from __future__ import annotations

import socket
import sys
import typing
import urllib.request
import uuid
from typing import IO, Sequence
from urllib.parse import quote, urlparse

from beacon_gateway import protocols
from beacon_gateway.position import Position
from beacon_gateway.protocols import Encoder, Protocol, SimulatedDevice
from beacon_gateway.simulator import encoders as enc


def simulated_protocols() -> tuple[str, ...]:
    """Return the protocols the simulator speaks: every registry entry with an encoder."""
    return tuple(p.name for p in protocols.every() if p.encoder is not None)


def packet_types() -> str:
    """Name each protocol's packet types, for ``--packet``'s help."""
    return "; ".join(f"{p.name}: {', '.join(p.encoder.packets)}" for p in protocols.every()
                     if p.encoder is not None and p.encoder.packets)


def speaker(name: str, device_id: str, packet: str | None = None) -> tuple[Protocol, Encoder, SimulatedDevice]:
    """Return the registry entry ``name``, its encoder and the simulated device sending ``packet``
    (default: the protocol's first packet type); ValueError when the simulator cannot."""
    protocol = protocols.get(name)
    if protocol.encoder is None:
        raise ValueError(f"the simulator does not speak {name}")
    choices = protocol.encoder.packets
    if packet is not None and packet.lower() not in choices:
        raise ValueError(f"{name} has no packet type {packet!r}; choose from {', '.join(choices) or 'none'}")
    chosen = packet.lower() if packet is not None else (choices[0] if choices else None)
    return protocol, protocol.encoder, SimulatedDevice(device_id, chosen)


class Sender(typing.Protocol):
    """Delivers batches of one device's fixes."""

    def send(self, positions: Sequence[Position]) -> None:
        """Deliver ``positions`` (raises OSError when the other end refuses)."""

    def close(self) -> None:
        """Release the connection."""


class LineSender:
    """Writes a file as the protocol's encoder says: JSON lines (as ``parse`` prints) for json,
    text protocols' own lines, binary frames as one hex frame per line (which ``parse`` reads back)."""

    def __init__(self, stream: IO[str], protocol: str, device_id: str, owned: bool = False,
                 packet: str | None = None) -> None:
        _, self.encoder, self.device = speaker(protocol, device_id, packet)
        self.stream, self.owned = stream, owned
        if self.encoder.opening is not None and self.encoder.opening_in_file:
            self._write([self._line(self.encoder.opening(device_id))])

    def _line(self, message: bytes) -> str:
        return message.decode().rstrip("\r\n") if self.encoder.text else message.hex()

    def _write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def send(self, positions: Sequence[Position]) -> None:
        """Write the positions."""
        if self.encoder.lines is not None:
            self._write(self.encoder.lines(positions))
        else:
            self._write([self._line(m) for m in self.encoder.messages(positions, self.device)])

    def close(self) -> None:
        """Close the file (never standard output)."""
        if self.owned:
            self.stream.close()


class HttpSender:
    """Posts native JSON batches (with the beacon's bearer token) or OsmAnd requests (with it as ``key``)."""

    def __init__(self, url: str, protocol: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.base, self.protocol, self.token, self.timeout_s = url.rstrip("/"), protocol, token, timeout_s

    def send(self, positions: Sequence[Position]) -> None:
        """Send and wait for the gateway's answer (it answers after the fixes are stored)."""
        if self.protocol == "osmand":
            key = f"key={quote(self.token)}&" if self.token else ""   # as Traccar Client: ?key= typed into its URL
            for position in positions:
                self._call(urllib.request.Request(f"{self.base}/?{key}{enc.osmand_query(position)}", method="POST"))
            return
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._call(urllib.request.Request(f"{self.base}/api/v1/pings", data=enc.json_batch(positions),
                                          headers=headers, method="POST"))

    def _call(self, request: urllib.request.Request) -> None:
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - URL given by the user
            response.read()

    def close(self) -> None:
        """Nothing to release."""


class TcpSender:
    """Speaks a TCP protocol as its encoder says: the opening (Teltonika's handshake, a GT06 login,
    NMEA's line naming the device), then each batch, waiting for the answers the gateway owes."""

    def __init__(self, url: str, protocol: str, device_id: str, packet: str | None = None,
                 timeout_s: float = 30.0) -> None:
        target = urlparse(url)
        entry, self.encoder, self.device = speaker(protocol, device_id, packet)
        port = target.port or entry.usual_port
        if not port:
            raise ValueError(f"{url}: say which port {protocol} is served on (tcp://host:port)")
        self.sock = socket.create_connection((target.hostname or "127.0.0.1", port), timeout=timeout_s)
        if self.encoder.opening is not None:
            self.sock.sendall(self.encoder.opening(device_id))
        if self.encoder.opening_answer is not None:
            self._expect(self.encoder.opening_answer(device_id), f"gateway refused device {device_id}")

    def _expect(self, answer: bytes, refusal: str) -> None:
        """Read the ``answer`` the gateway owes; OSError when it says something else."""
        data = b""
        while len(data) < len(answer):
            chunk = self.sock.recv(len(answer) - len(data))
            if not chunk:
                raise OSError("gateway closed the connection")
            data += chunk
        if data != answer:
            raise OSError(f"{refusal}: answered {data.hex()}, expected {answer.hex()}")

    def send(self, positions: Sequence[Position]) -> None:
        """Send and wait until the gateway acknowledges what its protocol acknowledges."""
        messages = self.encoder.messages(positions, self.device)
        self.sock.sendall(b"".join(messages))
        if self.encoder.answer is not None:
            self._expect(self.encoder.answer(messages, self.device), "gateway acknowledged something else")

    def close(self) -> None:
        """Close the connection; for a protocol without acknowledgement (NMEA), first wait until the
        gateway has stored the last fixes (it closes its side once the tail is stored)."""
        try:
            if self.encoder.answer is None:
                self.sock.shutdown(socket.SHUT_WR)
                while self.sock.recv(4096):
                    pass
        except OSError:
            pass                      # already gone: nothing more to wait for
        finally:
            self.sock.close()


class MqttSender:
    """Publishes native JSON batches on ``beacons/{device_id}/pings`` with QoS 1."""

    def __init__(self, url: str, device_id: str, protocol: str = "mqtt", topic_prefix: str = "beacons") -> None:
        import paho.mqtt.client as mqtt

        target = urlparse(url)
        _, self.encoder, self.device = speaker(protocol, device_id)
        self.topic = f"{topic_prefix}/{device_id}/pings"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{uuid.uuid4().hex[:12]}",
                                  protocol=mqtt.MQTTv5)
        if target.username:
            self.client.username_pw_set(target.username, target.password)
        self.client.connect(target.hostname or "127.0.0.1", target.port or 1883)
        self.client.loop_start()

    def send(self, positions: Sequence[Position]) -> None:
        """Publish and wait for the broker's PUBACK."""
        for message in self.encoder.messages(positions, self.device):
            self.client.publish(self.topic, message, qos=1).wait_for_publish(timeout=30)

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def sender_for(target: str, name: str, device_id: str, token: str | None, packet: str | None = None) -> Sender:
    """Return the sender for ``target``: '-', a file path, http(s)://, tcp:// or mqtt:// URL."""
    protocol, scheme = protocols.get(name), urlparse(target).scheme
    speaker(name, device_id, packet)          # refuses a protocol or packet type the simulator cannot send
    if protocol.transport == "mqtt" or scheme == "mqtt":
        if scheme != "mqtt":
            raise ValueError(f"the {name} protocol needs an mqtt://host:port target")
        return MqttSender(target, device_id, name)
    if scheme in ("http", "https"):
        if protocol.transport != "http":
            raise ValueError(f"{name} is not sent over HTTP: use {' or '.join(protocols.names('http'))}")
        return HttpSender(target, name, token)
    if scheme == "tcp":
        if protocol.transport != "tcp":
            raise ValueError(f"{name} is not sent over TCP: use {', '.join(protocols.names('tcp'))}")
        return TcpSender(target, name, device_id, packet)
    if target == "-":
        return LineSender(sys.stdout, name, device_id, packet=packet)
    return LineSender(open(target, "w", encoding="utf-8"), name, device_id, owned=True, packet=packet)  # noqa: SIM115
