"""Where simulated fixes go: standard output or a file, HTTP, TCP, or MQTT, in a protocol's own bytes."""
from __future__ import annotations

import json
import socket
import sys
import urllib.request
import uuid
from typing import IO, Protocol, Sequence
from urllib.parse import quote, urlparse

from beacon_gateway.position import Position
from beacon_gateway.simulator import encoders as enc

PROTOCOLS = ("json", "osmand", "nmea", "teltonika", "gt06", "mqtt")


class Sender(Protocol):
    """Delivers batches of one device's fixes."""

    def send(self, positions: Sequence[Position]) -> None:
        """Deliver ``positions`` (raises OSError when the other end refuses)."""

    def close(self) -> None:
        """Release the connection."""


class LineSender:
    """Writes text lines: JSON lines (as ``parse`` prints) for json, else the protocol's own messages.

    Binary protocols are written as one hex frame per line, which ``parse`` reads back.
    """

    def __init__(self, stream: IO[str], protocol: str, device_id: str, owned: bool = False) -> None:
        self.stream, self.protocol, self.serial, self.owned = stream, protocol, 1, owned
        if protocol == "teltonika":
            self._write([enc.teltonika_handshake(device_id).hex()])
        elif protocol == "gt06":
            self._write([enc.gt06_login(device_id).hex()])

    def _write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def send(self, positions: Sequence[Position]) -> None:
        """Write the positions."""
        if self.protocol == "json":
            self._write([json.dumps({"device_id": p.device_id, **enc.json_ping(p), "flags": list(p.flags)})
                         for p in positions])
        elif self.protocol == "osmand":
            self._write([enc.osmand_query(p) for p in positions])
        elif self.protocol == "nmea":
            self._write([s for p in positions for s in enc.nmea_sentences(p)])
        elif self.protocol == "teltonika":
            self._write([enc.teltonika_packet(positions).hex()])
        elif self.protocol == "gt06":
            self._write([self._gt06(p).hex() for p in positions])
        else:
            self._write([enc.json_batch(positions).decode()])

    def _gt06(self, position: Position) -> bytes:
        self.serial += 1
        return enc.gt06_location(position, self.serial)

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
    """Speaks Teltonika (handshake, packets, count acks), GT06 (login, locations) or NMEA over TCP.

    An NMEA connection starts with a line naming the device, then carries plain sentences.
    """

    def __init__(self, url: str, protocol: str, device_id: str, timeout_s: float = 30.0) -> None:
        target = urlparse(url)
        self.protocol, self.serial = protocol, 1
        self.sock = socket.create_connection((target.hostname or "127.0.0.1", target.port or 5027), timeout=timeout_s)
        if protocol == "teltonika":
            self.sock.sendall(enc.teltonika_handshake(device_id))
            if self._read(1) != b"\x01":
                raise OSError(f"gateway refused device {device_id}")
        elif protocol == "gt06":
            self.sock.sendall(enc.gt06_login(device_id, self.serial))
            self._read(10)
        else:
            # NMEA has no identity of its own: the gateway reads the device id from the first line.
            self.sock.sendall(f"{device_id}\r\n".encode())

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise OSError("gateway closed the connection")
            data += chunk
        return data

    def send(self, positions: Sequence[Position]) -> None:
        """Send and, for Teltonika, wait until the gateway acknowledges the records."""
        if self.protocol == "teltonika":
            self.sock.sendall(enc.teltonika_packet(positions))
            if int.from_bytes(self._read(4), "big") != len(positions):
                raise OSError("gateway acknowledged a different number of records")
        elif self.protocol == "gt06":
            for position in positions:
                self.serial += 1
                self.sock.sendall(enc.gt06_location(position, self.serial))
        else:
            self.sock.sendall("".join(s + "\r\n" for p in positions for s in enc.nmea_sentences(p)).encode())

    def close(self) -> None:
        """Close the connection; for NMEA, first wait until the gateway has stored the last fixes."""
        try:
            if self.protocol == "nmea":
                # NMEA has no acknowledgement: the gateway closes its side once the tail is stored.
                self.sock.shutdown(socket.SHUT_WR)
                while self.sock.recv(4096):
                    pass
        except OSError:
            pass                      # already gone: nothing more to wait for
        finally:
            self.sock.close()


class MqttSender:
    """Publishes native JSON batches on ``beacons/{device_id}/pings`` with QoS 1."""

    def __init__(self, url: str, device_id: str, topic_prefix: str = "beacons") -> None:
        import paho.mqtt.client as mqtt

        target = urlparse(url)
        self.topic = f"{topic_prefix}/{device_id}/pings"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{uuid.uuid4().hex[:12]}",
                                  protocol=mqtt.MQTTv5)
        if target.username:
            self.client.username_pw_set(target.username, target.password)
        self.client.connect(target.hostname or "127.0.0.1", target.port or 1883)
        self.client.loop_start()

    def send(self, positions: Sequence[Position]) -> None:
        """Publish and wait for the broker's PUBACK."""
        self.client.publish(self.topic, enc.json_batch(positions), qos=1).wait_for_publish(timeout=30)

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def sender_for(target: str, protocol: str, device_id: str, token: str | None) -> Sender:
    """Return the sender for ``target``: '-', a file path, http(s)://, tcp:// or mqtt:// URL."""
    scheme = urlparse(target).scheme
    if protocol == "mqtt" or scheme == "mqtt":
        if scheme != "mqtt":
            raise ValueError("the mqtt protocol needs an mqtt://host:port target")
        return MqttSender(target, device_id)
    if scheme in ("http", "https"):
        if protocol not in ("json", "osmand"):
            raise ValueError(f"{protocol} is not sent over HTTP: use json or osmand")
        return HttpSender(target, protocol, token)
    if scheme == "tcp":
        if protocol not in ("teltonika", "gt06", "nmea"):
            raise ValueError(f"{protocol} is not sent over TCP: use teltonika, gt06 or nmea")
        return TcpSender(target, protocol, device_id)
    if target == "-":
        return LineSender(sys.stdout, protocol, device_id)
    return LineSender(open(target, "w", encoding="utf-8"), protocol, device_id, owned=True)  # noqa: SIM115
