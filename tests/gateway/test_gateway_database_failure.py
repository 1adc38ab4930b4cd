"""A running gateway whose PostgreSQL restarts, loses its connections or crashes heals by itself.

The database is a throw-away cluster (``pg_cluster``) that the tests restart, stop and
kill -9; one ``beacon-gateway serve`` process keeps running through it all while devices
stream: HTTP (native JSON), Teltonika over TCP and an MQTT beacon through the project's own
broker. A device resends what it was not acknowledged, as real ones do. Afterwards every
acknowledged ping is stored exactly once and nothing else is, and the gateway answers again
without having been restarted.
"""
from __future__ import annotations

import secrets
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch, build_pipeline
from beacon_gateway.position import Position
from beacon_gateway.servers.http import start_http
from beacon_gateway.writer import BatchWriter, NotStored, Outcome
from tests.conftest import database_of_its_own
from tests.gateway.broker import Broker
from tests.gateway.helpers import LiveGateway, close_wait_sockets, free_port, http, recv_exactly, teltonika_handshake, \
    teltonika_packet
from tests.gateway.seed import GatewayProcess, Seed, wait_until
from tests.gateway.traffic import START, Traffic, ports
from tests.pg_cluster import PgCluster
from tracker.db import make_engine, make_session_factory
from tracker.domain.tokens import TOKEN_PREFIX
from tracker.models import BeaconProtocol



# ------------------------------------------------------------------ in one process, any database
class DeadConnection:
    """A handler whose transaction is lost ``times`` times, as after a dropped connection."""

    name = "dead-connection"
    times = 0

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure."""

    def __call__(self, batch: Batch) -> None:
        if DeadConnection.times > 0:
            DeadConnection.times -= 1
            raise PendingRollbackError("This Session's transaction has been rolled back")


@pytest.fixture(scope="module")
def engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """This module's gateways commit and seal: a database of its own, so the run's shared one stays whole."""
    with database_of_its_own(engine, tmp_path_factory.mktemp("own-db")) as own:
        yield own


def position(device_id: str, seconds: int) -> Position:
    return Position(device_id=device_id, fix_time=START + timedelta(seconds=seconds), lat=40.5, lon=72.8,
                    protocol="json")


def test_a_lost_transaction_is_retried_then_refused_and_the_writer_goes_on_storing(engine: Engine) -> None:
    seed = Seed(engine)
    beacon, _ = seed.beacon()
    writer = BatchWriter(make_session_factory(engine),
                         build_pipeline(GatewaySettings(database_url="sqlite://"), extra=[DeadConnection]),
                         max_wait_s=0.001).start()
    try:
        DeadConnection.times = 1                   # lost once: the retry stores it
        assert writer.submit([position(beacon.device_id, 0)]).result(10) == Outcome(stored=1)
        DeadConnection.times = 3                   # lost on every attempt: refused, not acknowledged
        with pytest.raises(NotStored):
            writer.submit([position(beacon.device_id, 10)]).result(10)
        assert writer.problem(stall_s=60) is None  # the thread lives on
        assert writer.submit([position(beacon.device_id, 20)]).result(10) == Outcome(stored=1)
        assert seed.fix_times(beacon.id) == [START, START + timedelta(seconds=20)]
    finally:
        writer.stop(5)
        seed.clean()


class Blocked:
    """A handler that holds its batch until released (a database that stopped answering)."""

    name = "blocked"
    release = threading.Event()

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure."""

    def __call__(self, batch: Batch) -> None:
        Blocked.release.wait(30)


def test_health_answers_503_while_positions_wait_without_a_commit(sessions: sessionmaker[Session]) -> None:
    live = LiveGateway(sessions)
    live.writer.stop()
    live.writer = live.ingest.writer = BatchWriter(
        sessions, build_pipeline(GatewaySettings(database_url="sqlite://"), extra=[Blocked])).start()
    live.ingest.stall_s = 0                        # any wait without a commit counts as a stall
    runner = live.call(start_http(live.ingest, "127.0.0.1", 0, max_body_bytes=64 * 1024))
    url = "http://{}:{}/health".format(*runner.addresses[0][:2])
    try:
        assert http("GET", url) == (200, {"status": "ok"})
        Blocked.release.clear()
        waiting = live.writer.submit([position("350000000000009", 0)])
        time.sleep(0.01)
        status, body = http("GET", url)
        assert status == 503 and body["problem"].startswith("a message has waited")
        Blocked.release.set()
        waiting.result(10)
        assert http("GET", url) == (200, {"status": "ok"})
    finally:
        Blocked.release.set()
        live.close(runner.cleanup)


# ------------------------------------------------------------------ a gateway process, a cluster it breaks
@pytest.fixture(scope="module")
def cluster_engine(pg_cluster: PgCluster) -> Iterator[Engine]:
    engine = make_engine(pg_cluster.url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def seed(cluster_engine: Engine, pg_cluster: PgCluster) -> Iterator[Seed]:
    made = Seed(cluster_engine)
    yield made
    pg_cluster.start()  # when a test failed with the database down
    made.clean()


@pytest.fixture
def traffic(seed: Seed, gateway: GatewayProcess, shipped_broker: Broker) -> Iterator[Traffic]:
    """Devices streaming to the gateway; abandoned at the end when the test did not finish them."""
    made = Traffic(seed, gateway, shipped_broker)
    yield made
    made.abandon()


@pytest.fixture
def gateway(pg_cluster: PgCluster, shipped_broker: Broker, tmp_path: Path) -> Iterator[Any]:
    """One gateway process on the cluster with HTTP, Teltonika and MQTT; killed at the end if alive."""
    run = secrets.token_hex(4)
    process = GatewayProcess(
        pg_cluster.url, tmp_path / "instance", GATEWAY_HTTP_PORT=free_port(),
        GATEWAY_TCP_TELTONIKA_PORT=free_port(), GATEWAY_MQTT_URL=shipped_broker.url,
        GATEWAY_MQTT_TOPIC=f"$share/gw-{run}/test-{run}/beacons/+/pings",
        GATEWAY_MQTT_CLIENT_ID=f"gw-{run}", GATEWAY_HEALTH_STALL_S="5")
    yield process
    if process.process.poll() is None:
        process.kill()


def assert_refusing(gateway: GatewayProcess) -> None:
    """While the database is away: /health 503, HTTP 503, a Teltonika login gets no answer."""
    http_port, tcp_port = ports(gateway)
    status, body = http("GET", f"http://127.0.0.1:{http_port}/health")
    assert status == 503 and body["status"] == "unavailable", body
    status, body = http("POST", f"http://127.0.0.1:{http_port}/api/v1/pings",
                        {"device_id": "350000000000000", "pings": [
                            {"fix_time": START.isoformat(), "lat": 40.5, "lon": 72.8}]},
                        {"Authorization": f"Bearer {TOKEN_PREFIX}whatever"})
    assert status == 503, body
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=15) as sock:
        sock.sendall(teltonika_handshake("350000000000001"))
        assert closed_unanswered(sock)  # no 0x01 acceptance


def closed_unanswered(sock: socket.socket) -> bool:
    """Return whether the gateway closed ``sock`` without sending anything."""
    try:
        return sock.recv(16) == b""
    except ConnectionResetError:
        return True


def assert_healthy(gateway: GatewayProcess) -> None:
    """The same process answers 200 again: its database answers and both writer threads live."""
    assert gateway.process.poll() is None, "the gateway process died"
    status, body = http("GET", f"http://127.0.0.1:{ports(gateway)[0]}/health")
    assert (status, body) == (200, {"status": "ok"})


def test_two_fast_restarts_lose_nothing_and_ingestion_resumes(
        traffic, gateway, pg_cluster) -> None:
    traffic.wait_for_progress()
    for _ in range(2):
        pg_cluster.restart("fast")
        traffic.wait_for_progress()
    traffic.finish()
    assert_healthy(gateway)


def test_forty_terminated_connections_lose_nothing_and_ingestion_resumes(
        traffic, gateway, pg_cluster) -> None:
    traffic.wait_for_progress()
    terminated = 0
    for _ in range(40):
        terminated += pg_cluster.terminate_backends()
        time.sleep(0.05)
    assert terminated >= 40  # the gateway's connections really were cut, again and again
    traffic.wait_for_progress()
    traffic.finish()
    assert_healthy(gateway)


def test_a_failover_to_a_server_that_cannot_write_is_refused_then_resumes_on_the_writable_one(
        traffic, gateway, pg_cluster) -> None:
    traffic.wait_for_progress()
    pg_cluster.read_only(True)          # what the gateway reconnects to is now a standby
    try:
        pg_cluster.terminate_backends()
        refused = sum(device.refusals for device in traffic.devices)
        wait_until(lambda: sum(device.refusals for device in traffic.devices) > refused + 4,
                   what="devices refused while the server cannot write")
    finally:
        pg_cluster.read_only(False)     # a writable server takes over; no connection is cut
    traffic.wait_for_progress()
    traffic.finish()
    assert_healthy(gateway)


def test_kill_9_of_postgres_is_refused_meanwhile_and_ingestion_resumes(
        traffic, gateway, pg_cluster) -> None:
    traffic.wait_for_progress()
    pg_cluster.kill_9()
    assert_refusing(gateway)
    refused = sum(device.refusals for device in traffic.devices)
    wait_until(lambda: sum(device.refusals for device in traffic.devices) > refused + 4,
               what="devices refused while the database is away")
    # Trackers whose packets cannot be stored are hung up on, not left half-closed.
    wait_until(lambda: close_wait_sockets(gateway.process.pid) == 0, what="no socket in CLOSE-WAIT")
    pg_cluster.start()
    traffic.wait_for_progress()
    traffic.finish()
    assert_healthy(gateway)
    wait_until(lambda: close_wait_sockets(gateway.process.pid) == 0, what="no socket left in CLOSE-WAIT")


def test_sigterm_while_the_database_is_away_exits_0_and_closes_every_socket(
        seed, gateway, pg_cluster) -> None:
    http_port, tcp_port = ports(gateway)
    beacon, _ = seed.beacon(BeaconProtocol.TELTONIKA)
    tracker = socket.create_connection(("127.0.0.1", tcp_port), timeout=15)
    tracker.sendall(teltonika_handshake(beacon.device_id))
    assert recv_exactly(tracker, 1) == b"\x01"
    keep_alive = socket.create_connection(("127.0.0.1", http_port), timeout=15)
    pg_cluster.stop("immediate")
    try:
        tracker.sendall(teltonika_packet([(START, 40.5, 72.8)]))   # cannot be stored now
        assert gateway.terminate(timeout=10) == 0
        assert closed_unanswered(tracker) and closed_unanswered(keep_alive)
    finally:
        tracker.close()
        keep_alive.close()
        pg_cluster.start()
    assert seed.fix_times(beacon.id) == []
