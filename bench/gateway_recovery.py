"""Gateway recovery: how soon ingestion resumes after each kind of database interruption, and
whether every acknowledged ping is stored exactly once; then the MQTT broker under a long
gateway outage, with the shipped configuration beside Mosquitto's defaults.

    .venv/bin/python bench/gateway_recovery.py                 # about three minutes
    .venv/bin/python bench/gateway_recovery.py --hold 0        # the database part only

It starts its own PostgreSQL cluster (initdb/pg_ctl in a temporary folder, as the tests do)
and its own Mosquitto brokers, and one ``beacon-gateway serve`` process with HTTP and MQTT.
Four HTTP devices stream native JSON batches, each resending a batch until it gets 200;
an MQTT beacon publishes at QoS 1. For each interruption it prints the time from the
database answering again to the first acknowledgement (HTTP 200) and to ``/health`` 200.
The recovery time is measured, not promised: it depends on the machine's load.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from sqlalchemy import Engine  # noqa: E402

from tests.gateway.broker import SHIPPED, Broker  # noqa: E402
from tests.gateway.helpers import SteadyPublisher, free_port, http  # noqa: E402
from tests.gateway.seed import GatewayProcess, Seed  # noqa: E402
from tests.pg_cluster import PgCluster  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.models import BeaconProtocol  # noqa: E402

DEVICES = 4
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)


class HttpDevice(threading.Thread):
    """Posts batches of three fixes, each until acknowledged; notes when each 200 came."""

    def __init__(self, port: int, device_id: str, token: str, offset: int) -> None:
        super().__init__(daemon=True)
        self.url, self.device_id, self.token, self.offset = f"http://127.0.0.1:{port}/api/v1/pings", \
            device_id, token, offset
        self.acknowledged: list[datetime] = []
        self.answers: list[float] = []      # monotonic times of the 200s
        self.refused = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            fixes = [START + timedelta(seconds=10 * (3 * n + k)) for k in range(3)]
            body = {"device_id": self.device_id,
                    "pings": [{"fix_time": t.isoformat(), "lat": 40.5, "lon": 72.8} for t in fixes]}
            while not self._send(body):
                self.refused += 1
                time.sleep(0.05)
            self.acknowledged.extend(fixes)
            self.answers.append(time.monotonic())
            n += 1

    def _send(self, body: dict[str, object]) -> bool:
        try:
            return http("POST", self.url, body, {"Authorization": f"Bearer {self.token}"})[0] == 200
        except OSError:
            return False


def first_after(moment: float, devices: list[HttpDevice], timeout: float = 120) -> float:
    """Seconds from ``moment`` until every device had a 200 after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        firsts = [next((t for t in d.answers if t >= moment), None) for d in devices]
        if all(firsts):
            return max(firsts) - moment  # type: ignore[type-var]
        time.sleep(0.01)
    raise RuntimeError("ingestion did not resume")


def health_after(moment: float, port: int) -> float:
    """Seconds from ``moment`` until /health answers 200."""
    while http("GET", f"http://127.0.0.1:{port}/health")[0] != 200:
        time.sleep(0.01)
    return time.monotonic() - moment


def interruptions(cluster: PgCluster) -> list[tuple[str, Callable[[], None]]]:
    """Each interruption; it returns once the database answers again."""
    def terminate_40() -> None:
        for _ in range(40):
            cluster.terminate_backends()
            time.sleep(0.05)

    def kill_9() -> None:
        cluster.kill_9()
        time.sleep(5)
        cluster.start()

    def down_20_s() -> None:
        cluster.stop("fast")
        time.sleep(20)
        cluster.start()

    return [("pg_ctl restart -m fast", lambda: cluster.restart("fast")),
            ("pg_ctl restart -m fast (again)", lambda: cluster.restart("fast")),
            ("40 x pg_terminate_backend", terminate_40),
            ("kill -9 of PostgreSQL, 5 s down", kill_9),
            ("pg_ctl stop, 20 s down, start", down_20_s)]


def database_part(cluster: PgCluster, seed: Seed, instance: Path) -> None:
    """Interrupt the database under a stream; print recovery times and acknowledged vs stored."""
    port = free_port()
    gateway = GatewayProcess(cluster.url, instance, GATEWAY_HTTP_PORT=port)
    devices = []
    for n in range(DEVICES):
        beacon, token = seed.beacon(token=True)
        devices.append((beacon.id, HttpDevice(port, beacon.device_id, token, n)))
    for _, device in devices:
        device.start()
    threads = [device for _, device in devices]
    time.sleep(2)
    print("| interruption | first 200 on every device after the database is back | /health 200 after |")
    print("|---|---|---|")
    for name, interrupt in interruptions(cluster):
        interrupt()
        back = time.monotonic()
        resumed = first_after(back, threads)
        healthy = health_after(back, port)
        print(f"| {name} | {resumed:.2f} s | {healthy:.2f} s |", flush=True)
        time.sleep(2)
    for device in threads:
        device.stopping.set()
    for device in threads:
        device.join(60)
    acknowledged = sum(len(d.acknowledged) for d in threads)
    stored = [seed.fix_times(beacon_id) for beacon_id, _ in devices]
    lost = sum(len(set(d.acknowledged) - set(s)) for (_, d), s in zip(devices, stored))
    twice = sum(len(s) - len(set(s)) for s in stored)
    print(f"\nHTTP: {acknowledged} pings acknowledged, {sum(map(len, stored))} stored, {lost} lost, "
          f"{twice} stored twice; {sum(d.refused for d in threads)} requests refused (503 or "
          f"connection refused) and sent again; the gateway process was never restarted "
          f"(exit code on SIGTERM: {gateway.terminate(timeout=10)})")


def mqtt_part(cluster: PgCluster, seed: Seed, instance: Path, hold_s: float, config: str) -> None:
    """Keep the gateway down ``hold_s`` under a QoS 1 stream; print PUBACKed vs stored."""
    folder = Path(tempfile.mkdtemp(prefix="mercury-mqtt-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "mosquitto")
    broker = Broker(folder, free_port())
    if config == "defaults":  # Mosquitto's own queue limit, as when nothing is configured
        broker.config.write_text("\n".join(line for line in broker.config.read_text().splitlines()
                                           if not line.startswith("max_queued")))
    broker.start()
    run = secrets.token_hex(4)
    settings = {"GATEWAY_HTTP_PORT": "0", "GATEWAY_MQTT_URL": broker.url, "GATEWAY_MQTT_CLIENT_ID": f"gw-{run}",
                "GATEWAY_MQTT_TOPIC": f"$share/gw-{run}/b-{run}/beacons/+/pings",
                "GATEWAY_MQTT_SESSION_EXPIRY_S": "600"}
    beacon, _ = seed.beacon(BeaconProtocol.MQTT)
    try:
        gateway = GatewayProcess(cluster.url, instance, **settings)
        publisher = SteadyPublisher(broker.url, f"b-{run}/beacons/{beacon.device_id}/pings", START,
                                    period_s=0.015)
        time.sleep(3)
        gateway.kill()
        before = len(publisher.acknowledged)
        time.sleep(hold_s)
        held = len(publisher.acknowledged) - before
        gateway = GatewayProcess(cluster.url, instance, **settings)
        time.sleep(2)
        acknowledged = publisher.stop()
        stored = settle(lambda: seed.fix_times(beacon.id))
        lost = len(set(acknowledged) - set(stored))
        print(f"| {config} | {hold_s:.0f} s | {held} | {len(acknowledged)} | {len(stored)} | {lost} | "
              f"{len(stored) - len(set(stored))} |", flush=True)
        gateway.terminate(timeout=10)
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


def settle(read: Callable[[], list[datetime]], quiet_s: float = 5) -> list[datetime]:
    """Read until the answer has not changed for ``quiet_s`` seconds."""
    last, since = read(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = read()
        if len(now) != len(last):
            last, since = now, time.monotonic()
    return last


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hold", type=float, default=60, help="MQTT: seconds the gateway stays down (0: skip)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mercury-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PgCluster(root, free_port())
    instance = Path(tempfile.mkdtemp(prefix="mercury-gw-")) / "instance"
    print(f"gateway recovery, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    try:
        cluster.create()
        engine: Engine = make_engine(cluster.url, pool_pre_ping=True)
        seed = Seed(engine)
        database_part(cluster, seed, instance)
        if args.hold:
            print(f"\nMQTT, gateway killed and kept down under a QoS 1 stream of ~60 pings/s ({SHIPPED.name}):\n")
            print("| broker configuration | gateway down | PUBACKed while down | PUBACKed in all | stored | lost | "
                  "stored twice |")
            print("|---|---|---|---|---|---|---|")
            for config in ("shipped", "defaults"):
                mqtt_part(cluster, seed, instance, args.hold, config)
        engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(instance.parent, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other work on this machine counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
