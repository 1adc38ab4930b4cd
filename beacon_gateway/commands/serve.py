"""``beacon-gateway serve``: run the gateway: HTTP, TCP and MQTT ingestion.

Each listener is switched on by its setting (``GATEWAY_HTTP_PORT`` 5055 by default; the TCP
ports, one per TCP protocol of the registry, and ``GATEWAY_MQTT_URL`` off unless set). The HTTP listener also answers ``/health``
and ``/metrics`` (this process's Prometheus metrics: each process counts its own, so
several processes are several scrape targets; see ``beacon_gateway.metrics``). Every ``GATEWAY_OVERDUE_CHECK_S`` seconds (60;
0: never) it re-evaluates the declarations whose beacon went quiet or whose planned arrival
passed, so ``signal_lost`` and ``late`` are raised without waiting for another ping; the
check is idempotent, so every gateway process may run it. After it, the finished hours'
positions are sealed under the evidence chain (``tracker.domain.position_seals``).
SIGTERM or Ctrl-C stops accepting, lets the batches in flight commit and be acknowledged
(``DRAIN_S`` at most; what is still unanswered then is not acknowledged, so devices send it
again), closes every connection and exits 0, within 10 seconds.

The database may go away and come back at any time (restart, failover, terminated
connections, a crash): pooled connections are checked before use, a connection attempt
gives up after ``tracker.db.CONNECT_TIMEOUT_S``, and the batch writer refuses what it cannot commit,
so ingestion answers 503 / closes without an acknowledgement meanwhile and resumes by
itself once the database answers again.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from beacon_gateway import metrics, protocols
from beacon_gateway.config import GatewaySettings, load_gateway_settings
from beacon_gateway.evaluation import run_overdue_check
from beacon_gateway.pipeline import build_pipeline
from beacon_gateway.servers import Ingest
from beacon_gateway.servers.http import start_http
from beacon_gateway.servers.mqtt import MqttSubscriber
from beacon_gateway.servers.tcp import TcpListener, framed_session
from beacon_gateway.writer import BatchWriter
from tracker import migrate
from tracker.config import ConfigError
from tracker.db import make_service_engine, make_session_factory
from tracker.domain.position_seals import run_position_sealing
from tracker.models import utcnow

HELP = "Run the gateway: HTTP, TCP and MQTT ingestion"
MQTT_SUBSCRIBE_WAIT_S = 10  # "ready" is printed once the subscription is in place, or after this
# SIGTERM to exit within 10 s: the listeners drain (4 s), a database call under way on a worker
# thread ends (connect timeout, 3 s), the writer threads finish (2 s).
DRAIN_S = 4.0               # on SIGTERM, how long the listeners may take to answer what they hold
WRITER_STOP_S = 2.0         # then how long the writer threads may take to finish
log = logging.getLogger("beacon_gateway")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options (everything else comes from the configuration)."""
    parser.add_argument("--database-url", help="database to store into (default: DATABASE_URL)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def run(args: argparse.Namespace) -> int:
    """Run the gateway until SIGTERM/SIGINT; returns the exit code."""
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        overrides = {"DATABASE_URL": args.database_url} if args.database_url else {}
        settings = load_gateway_settings(overrides)
    except ConfigError as exc:
        print(f"beacon-gateway serve: {exc}", file=sys.stderr)
        return 2
    problem = _schema_problem(settings.database_url)
    if problem:
        print(f"beacon-gateway serve: {problem}", file=sys.stderr)
        return 2
    engine = make_service_engine(settings.database_url)
    sessions = make_session_factory(engine)
    writer = BatchWriter(sessions, build_pipeline(settings), settings.batch_max_positions,
                         settings.batch_max_wait_ms / 1000, settings.writer_threads_or_default).start()
    try:
        return asyncio.run(_serve(settings, Ingest(writer, sessions, settings.health_stall_s)))
    except OSError as exc:  # a port already taken, an address not on this machine
        print(f"beacon-gateway serve: cannot listen: {exc}", file=sys.stderr)
        return 2
    finally:
        writer.stop(WRITER_STOP_S)
        engine.dispose()


def _schema_problem(url: str) -> str | None:
    try:
        current, head = migrate.current_revision(url), migrate.head_revision()
    except Exception as exc:  # noqa: BLE001 - any connection failure is reported the same way
        return f"cannot open the database: {exc}"
    if current != head:
        return (f"the database is at revision {current}, not {head}: "
                "run `flask --app tracker db upgrade` first")
    return None


@dataclass
class Listeners:
    """What ``serve`` started, so it can stop it in order."""

    http: web.AppRunner | None = None
    tcp: list[TcpListener] = field(default_factory=list)
    mqtt: MqttSubscriber | None = None


async def _serve(settings: GatewaySettings, ingest: Ingest) -> int:
    metrics.show_protocols(protocols.names())
    listeners = await _start(settings, ingest)
    if listeners.http is None and not listeners.tcp and listeners.mqtt is None:
        print("beacon-gateway serve: every listener is switched off; set GATEWAY_HTTP_PORT, "
              "GATEWAY_TCP_*_PORT or GATEWAY_MQTT_URL", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    checker = asyncio.create_task(_check_overdue_every(settings.overdue_check_s, ingest, stop))
    print("beacon-gateway: ready", flush=True)
    await stop.wait()
    log.info("stopping: no new connections; finishing the batches in flight")
    await asyncio.wait({checker}, timeout=DRAIN_S)  # at once, or after the check under way
    await _stop(listeners, ingest)
    print("beacon-gateway: stopped", flush=True)
    return 0


async def _check_overdue_every(period_s: float, ingest: Ingest, stop: asyncio.Event) -> None:
    """Run the overdue check every ``period_s`` seconds (in a thread: it queries) until ``stop``."""
    if period_s <= 0:
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=period_s)
            return
        except asyncio.TimeoutError:
            pass
        try:
            checked = await asyncio.to_thread(run_overdue_check, ingest.sessions, utcnow(), None, stop.is_set)
            log.debug("overdue check: %d declarations re-evaluated", checked)
            sealed = await asyncio.to_thread(run_position_sealing, ingest.sessions, utcnow(),
                                             stopping=stop.is_set)
            log.debug("positions: %d hours sealed", sealed)
        except Exception:  # noqa: BLE001 - a failed check (database away) is tried again next period
            log.exception("overdue check or position sealing failed")


async def _start(settings: GatewaySettings, ingest: Ingest) -> Listeners:
    listeners = Listeners()
    if settings.http_port:
        listeners.http = await start_http(ingest, settings.http_host, settings.http_port,
                                          settings.http_max_body_bytes, DRAIN_S)
        _announce("HTTP (JSON, OsmAnd)", settings.http_host, settings.http_port)
    for name, port, session in _tcp_protocols(settings):
        listeners.tcp.append(await TcpListener(session, ingest).start(settings.tcp_host, port))
        _announce(f"TCP {name}", settings.tcp_host, port)
    if settings.mqtt_url:
        listeners.mqtt = MqttSubscriber(ingest.writer, settings.mqtt_url, settings.mqtt_topic,
                                        settings.mqtt_client_id_or_default,
                                        settings.mqtt_session_expiry_s).start()
        if not await asyncio.to_thread(listeners.mqtt.subscribed.wait, MQTT_SUBSCRIBE_WAIT_S):
            log.warning("MQTT broker %s not answering yet; subscribing when it does", settings.mqtt_url)
        print(f"beacon-gateway: MQTT {settings.mqtt_topic} at {settings.mqtt_url}", flush=True)
    return listeners


def _tcp_protocols(settings: GatewaySettings) -> list[tuple[str, int, Any]]:
    """(title, port, session) of each TCP protocol of the registry whose port is set."""
    return [(p.title, settings.tcp_port(p.name), p.session or framed_session(p))
            for p in protocols.every() if p.transport == "tcp" and settings.tcp_port(p.name)]


def _announce(what: str, host: str, port: int) -> None:
    print(f"beacon-gateway: {what} on {host}:{port}", flush=True)


async def _stop(listeners: Listeners, ingest: Ingest) -> None:
    """Stop every listener at once, each answering what it holds within ``DRAIN_S``."""
    stopping = [listener.stop(DRAIN_S) for listener in listeners.tcp]
    if listeners.http is not None:
        stopping.append(listeners.http.cleanup())
    if listeners.mqtt is not None:
        stopping.append(asyncio.to_thread(listeners.mqtt.stop, DRAIN_S))
    await asyncio.gather(*stopping)
