"""Devices streaming to a live ``beacon-gateway serve`` the way real ones do: each packet is
sent again until the gateway acknowledges it. Used by the database-failure tests.

HTTP devices post native JSON batches (only a 200 counts), Teltonika trackers do the IMEI
handshake and reconnect when the gateway hangs up, and an MQTT beacon publishes at QoS 1.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.error
from datetime import datetime, timedelta, timezone
from typing import Callable

from tests.gateway.helpers import SteadyPublisher, http, recv_exactly, teltonika_handshake, teltonika_packet
from tests.gateway.seed import GatewayProcess, Seed, wait_until
from tests.gateway.broker import Broker
from tracker.models import BeaconProtocol

START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
RESUMED_AFTER = 5   # packets each device must get acknowledged after an interruption

def ports(gateway: GatewayProcess) -> tuple[int, int]:
    """The gateway's HTTP and Teltonika ports."""
    return int(gateway.settings["GATEWAY_HTTP_PORT"]), int(gateway.settings["GATEWAY_TCP_TELTONIKA_PORT"])


class Device:
    """A tracker on its own thread: sends packets of fixes, resending each until acknowledged."""

    def __init__(self, send: Callable[[list[datetime]], bool], per_packet: int = 3) -> None:
        self.send, self.per_packet = send, per_packet
        self.acknowledged: list[datetime] = []
        self.refusals = 0
        self.stopping = threading.Event()
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            fixes = [START + timedelta(seconds=10 * (n * self.per_packet + k)) for k in range(self.per_packet)]
            deadline = time.monotonic() + 60
            while not self.send(fixes):
                if self.abandoned.is_set():
                    return
                self.refusals += 1
                assert time.monotonic() < deadline, "the gateway never acknowledged again"
                time.sleep(0.1)
            self.acknowledged.extend(fixes)
            n += 1

    def stop(self) -> list[datetime]:
        """Finish the packet under way (until acknowledged); return every acknowledged fix time."""
        self.stopping.set()
        self.thread.join(90)
        return self.acknowledged


def http_device(port: int, device_id: str, token: str) -> Device:
    """A device posting native JSON batches; only a 200 counts as acknowledged."""
    def send(fixes: list[datetime]) -> bool:
        body = {"device_id": device_id,
                "pings": [{"fix_time": t.isoformat(), "lat": 40.5, "lon": 72.8} for t in fixes]}
        try:
            status, _ = http("POST", f"http://127.0.0.1:{port}/api/v1/pings", body,
                             {"Authorization": f"Bearer {token}"})
        except (OSError, urllib.error.URLError):
            return False
        return status == 200
    return Device(send)


def teltonika_device(port: int, imei: str) -> Device:
    """A Teltonika tracker: IMEI handshake, Codec 8 packets, reconnects when the gateway hangs up."""
    connection: list[socket.socket] = []

    def send(fixes: list[datetime]) -> bool:
        try:
            if not connection:
                sock = socket.create_connection(("127.0.0.1", port), timeout=15)
                connection.append(sock)
                sock.sendall(teltonika_handshake(imei))
                if recv_exactly(sock, 1) != b"\x01":
                    raise ConnectionError("IMEI refused")
            connection[0].sendall(teltonika_packet([(t, 40.5, 72.8) for t in fixes]))
            return recv_exactly(connection[0], 4) == len(fixes).to_bytes(4, "big")
        except OSError:
            if connection:
                connection.pop().close()
            return False
    device = Device(send, per_packet=4)
    device.close = lambda: [sock.close() for sock in connection]  # type: ignore[attr-defined]
    return device


class Traffic:
    """Two HTTP devices, two Teltonika trackers and an MQTT beacon streaming to one gateway."""

    def __init__(self, seed: Seed, gateway: GatewayProcess, broker: Broker) -> None:
        http_port, tcp_port = ports(gateway)
        self.seed = seed
        self.beacons: list[int] = []
        self.devices: list[Device] = []
        for _ in range(2):
            beacon, token = seed.beacon(token=True)
            self.beacons.append(beacon.id)
            self.devices.append(http_device(http_port, beacon.device_id, token))
        for _ in range(2):
            beacon, _ = seed.beacon(BeaconProtocol.TELTONIKA)
            self.beacons.append(beacon.id)
            self.devices.append(teltonika_device(tcp_port, beacon.device_id))
        beacon, _ = seed.beacon(BeaconProtocol.MQTT)
        self.mqtt_beacon = beacon.id
        prefix = gateway.settings["GATEWAY_MQTT_TOPIC"].split("/")[2]
        self.publisher = SteadyPublisher(broker.url, f"{prefix}/beacons/{beacon.device_id}/pings",
                                         START, period_s=0.02)

    def abandon(self) -> None:
        """Stop every device and the publisher at once, whatever they were doing."""
        for device in self.devices:
            device.stopping.set()
            device.abandoned.set()
            getattr(device, "close", lambda: None)()
        self.publisher.stop()

    def acknowledged(self) -> list[int]:
        """How many fixes each device has had acknowledged so far."""
        return [len(device.acknowledged) for device in self.devices]

    def wait_for_progress(self, packets: int = RESUMED_AFTER) -> None:
        """Wait until every device has had ``packets`` more packets acknowledged."""
        before = self.acknowledged()
        wait_until(lambda: all(now - then >= packets * device.per_packet for now, then, device
                               in zip(self.acknowledged(), before, self.devices)),
                   timeout=60, what="every device acknowledged again")

    def finish(self) -> None:
        """Stop every device; assert each acknowledged fix is stored once, and nothing else."""
        acknowledged = [device.stop() for device in self.devices]
        published = self.publisher.stop()
        for device in self.devices:
            getattr(device, "close", lambda: None)()
        for beacon_id, fixes in zip(self.beacons, acknowledged):
            assert fixes and self.seed.fix_times(beacon_id) == sorted(fixes)
        wait_until(lambda: len(self.seed.fix_times(self.mqtt_beacon)) >= len(published), timeout=60,
                   what="every ping the broker acknowledged stored")
        stored = self.seed.fix_times(self.mqtt_beacon)
        assert published and set(published) <= set(stored)
        assert len(stored) <= len(published) + 1  # the last publish may have gone unconfirmed
