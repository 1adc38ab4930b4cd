"""Gateway throughput: end-to-end pings/s into PostgreSQL with evaluation, beside its ceilings.

    .venv/bin/python bench/gateway.py --quick        # about three minutes
    .venv/bin/python bench/gateway.py --quick --only mqtt      # one part (pipeline, mqtt, nmea, growth)
    .venv/bin/python bench/gateway.py --sizes 0,1000000,3000000,10000000

It creates (and afterwards drops) a PostgreSQL database ``mercury_bench_h``, migrates it, and
registers 10,000 beacons, each carrying a declaration in transit along a 48 km route, so
every stored ping is evaluated. Then, in one run, it prints:

1. pipeline: 1, 100 and 10,000 beacons each sending a ping and waiting for its
   acknowledgement before the next (what a Teltonika/GT06 device or an MQTT QoS 1 session
   does), through the batch writer and the whole pipeline (authenticate, validate, flag,
   de-duplicate, store, evaluate) — beside PostgreSQL ``COPY`` of the same number of rows,
   the ceiling of any writer;
2. end-to-end over MQTT: one, then two real ``beacon-gateway serve`` subprocesses on a shared
   subscription of the project's own Mosquitto (started with the shipped configuration on a
   free port), a publisher sending QoS 1 pings from 10,000 beacons, timed until every row is
   committed; the last line with every ping evaluated;
3. NMEA parsing of the receiver logs in tests/data/nmea, the gateway's decoder beside bare pynmea2;
4. cost per ping as the positions table grows (filled with COPY between measurements).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pynmea2  # noqa: E402
from sqlalchemy import Engine, func, insert, select, text  # noqa: E402

from beacon_gateway.config import GatewaySettings  # noqa: E402
from beacon_gateway.decoders.nmea import NmeaStream  # noqa: E402
from beacon_gateway.pipeline import build_pipeline  # noqa: E402
from beacon_gateway.position import Position  # noqa: E402
from beacon_gateway.writer import BatchWriter, Outcome  # noqa: E402
import benchdb  # noqa: E402
from tests.gateway.broker import Broker  # noqa: E402
from tests.gateway.helpers import free_port  # noqa: E402
from benchdb import fresh_database  # noqa: E402
from tracker.db import make_session_factory  # noqa: E402
from tracker.models import Beacon, Checkpoint, Dealer, Declaration  # noqa: E402
from tracker.models import Position as PositionRow  # noqa: E402

DATABASE = "mercury_bench_h"
BEACONS = 10_000
ROUTE = "LINESTRING (72.799 40.528, 73.0 40.933)"
#: The route's length (about 48 km) and the beacons' speed along it.
ROUTE_M = 48_000.0
SPEED_KMH = 60.0
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=30)
NMEA_DATA = ROOT / "tests" / "data" / "nmea"   # gpsd's receiver logs, committed with their licence
#: Pings sent and not yet stored, at most (10,000 beacons each waiting for one acknowledgement could have 10,000).
WINDOW = 4000
#: The benchmark's parts, in the order they run (``--only``).
PARTS = ("pipeline", "mqtt", "nmea", "growth")
#: Pings the publisher writes at once.
CHUNK = 200
#: The first of the beacons whose trips get month-old fixes (the backlog line).
BACKLOG = 2 * BEACONS + 1000


# ------------------------------------------------------------------ database
def create_database() -> Engine:
    """Create, migrate and seed the benchmark database; return an engine on it."""
    engine = fresh_database(DATABASE, pool_size=5)
    seed(engine)
    return engine


def drop_database(engine: Engine) -> None:
    """Drop the benchmark database."""
    benchdb.drop_database(engine, DATABASE)


def seed(engine: Engine) -> None:
    """10,000 beacons on a trip in transit, 10,000 without a declaration, 1,000 fillers, then
    10,000 more on a trip in transit for the backlog (month-old fixes: kept apart, since on the
    same trips they would stand for a month-long stop before the live fixes)."""
    with engine.begin() as connection:
        dealer = connection.execute(insert(Dealer).values(legal_name="Bench LLC", taxpayer_number="1",
                                                          country="KG").returning(Dealer.id)).scalar_one()
        ends = [connection.execute(insert(Checkpoint).values(code=code, name=code, kind="customs_post",
                                                             lat=lat, lon=lon, radius_m=500)
                                   .returning(Checkpoint.id)).scalar_one()
                for code, lat, lon in (("OSH", 40.528, 72.799), ("JAL", 40.933, 73.0))]
        connection.execute(insert(Beacon), [{"device_id": device_id(n), "protocol": "json",
                                             "reporting_period_s": 10**7, "description": ""}
                                            for n in range(3 * BEACONS + 1000)])
        ids = dict(connection.execute(select(Beacon.device_id, Beacon.id)).all())
        connection.execute(insert(Declaration), [{
            "kind": "domestic", "status": "in_transit", "reference": f"B{n:09d}",
            "declarant_id": dealer, "consignor_id": dealer, "consignee_id": dealer,
            "origin_id": ends[0], "destination_id": ends[1], "route": ROUTE, "corridor_m": 500,
            "beacon_id": ids[device_id(n)], "vehicle": "", "decision_reason": "",
            "planned_departure": START, "planned_arrival": START + timedelta(days=300), "departed_at": START,
        } for n in [*range(BEACONS), *range(BACKLOG, BACKLOG + BEACONS)]])


def device_id(n: int) -> str:
    return f"86{n:013d}"


def count_positions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PositionRow)).scalar_one())


# ------------------------------------------------------------------ pings
class Tracks:
    """Each beacon drives along the route and back, a little east of the line.

    Beacons 0..9,999 carry a declaration in transit (every ping is evaluated); ``untracked``
    tracks use beacons 10,000..19,999, which carry none (store only). A fix is 30 s after the
    one before, a month ago (a backlog: every fix is long past, so each declaration is
    silent "until now" and every rule judges every fix); ``live`` fixes are timed as sent,
    as a device on the road times them.
    """

    def __init__(self, untracked: bool = False, live: bool = False) -> None:
        self.sent: dict[int, int] = {}
        self.offset = BEACONS if untracked else 0 if live else BACKLOG
        self.live = live
        self.last: dict[int, datetime] = {}

    def next(self, beacon: int) -> Position:
        beacon += self.offset
        k = self.sent.get(beacon, 0)
        self.sent[beacon] = k + 1
        when = START + timedelta(seconds=30 * k)
        if self.live:
            when = max(datetime.now(timezone.utc), self.last.get(beacon, START) + timedelta(microseconds=1))
            self.last[beacon] = when
        # Back and forth along the route at 60 km/h, whatever the time between two fixes (never
        # standing still: a frozen receiver would be a spoofing episode, which re-reads its whole
        # length on every ping; never faster: an impossible jump would be judged by every rule).
        travelled = (when - START).total_seconds() * SPEED_KMH / 3.6 / ROUTE_M
        f = 0.02 + 0.9 * (1 - abs((travelled / 0.9) % 2 - 1))
        return Position(device_id=device_id(beacon), fix_time=when,
                        lat=40.528 + f * 0.405, lon=72.799 + f * 0.201 + 0.0005 * (beacon % 3),
                        protocol="json", raw=b'{"bench":true}', speed_kmh=SPEED_KMH)


def closed_loop(writer: BatchWriter, tracks: Tracks, beacons: int, duration_s: float) -> tuple[int, float]:
    """Every beacon sends, waits for its acknowledgement, sends again; return (pings, seconds)."""
    done = threading.Event()
    lock = threading.Lock()
    acked = [0]
    stop_at = time.perf_counter() + duration_s
    in_flight = [beacons]

    def send(beacon: int) -> None:
        writer.submit([tracks.next(beacon)]).add_done_callback(lambda f: answered(beacon, f))

    def answered(beacon: int, future: Future[Outcome]) -> None:
        with lock:
            failed = future.exception() is not None      # not stored (database gone): this beacon stops
            acked[0] += 0 if failed else future.result().stored
            if not failed and time.perf_counter() < stop_at:
                send(beacon)
                return
            in_flight[0] -= 1
            if in_flight[0] == 0:
                done.set()

    began = time.perf_counter()
    for beacon in range(beacons):
        send(beacon)
    done.wait()
    return acked[0], time.perf_counter() - began


def copy_rows(engine: Engine, rows: int, beacon_offset: int = 2 * BEACONS) -> float:
    """COPY ``rows`` positions for the filler beacons; return rows per second."""
    with engine.connect() as connection:
        ids = [i for (i,) in connection.execute(select(Beacon.id).order_by(Beacon.id)
                                               .offset(beacon_offset).limit(1000))]
        base = int(connection.execute(select(func.count()).select_from(PositionRow)
                                      .where(PositionRow.beacon_id.in_(ids))).scalar_one())
    raw = engine.raw_connection()
    began = time.perf_counter()
    try:
        cursor = raw.cursor()
        columns = "beacon_id, fix_time, received_at, lat, lon, speed_kmh, flags, protocol, raw"
        with cursor.copy(f"COPY positions ({columns}) FROM STDIN") as copy:
            now = datetime.now(timezone.utc)
            for n in range(rows):
                beacon = ids[(base + n) % len(ids)]
                when = START - timedelta(days=400) + timedelta(seconds=30 * ((base + n) // len(ids)))
                copy.write_row((beacon, when, now, 40.6, 72.85, 60.0, "[]", "json", b"x"))
        raw.commit()
    finally:
        raw.close()
    return rows / (time.perf_counter() - began)


# ------------------------------------------------------------------ scenarios
def make_writer(engine: Engine) -> BatchWriter:
    settings = GatewaySettings(database_url=engine.url.render_as_string(hide_password=False))
    return BatchWriter(make_session_factory(engine), build_pipeline(settings), max_positions=1000,
                       max_wait_s=0.01, threads=settings.writer_threads_or_default).start()


def pipeline_figures(engine: Engine, duration_s: float, evaluated: list[int], tracks: dict[str, Tracks]) -> None:
    writer = make_writer(engine)
    print(f"\n1. Pipeline, closed loop: each beacon waits for its acknowledgement ({duration_s:.0f} s a line)")
    print("   none: beacons without a declaration (stored only); live: fixes timed as sent, each")
    print("   declaration judged from its watch when quiet; backlog: month-old fixes, every rule on each")
    print(f"{'beacons':>10} {'declaration':>12} {'pings':>8} {'pings/s':>9} {'COPY rows/s':>12}")
    # each line carries on where the last left off
    lines = [(n, "none") for n in (1, 100, BEACONS)] + [(n, "live") for n in evaluated] + [(BEACONS, "backlog")]
    for beacons, what in lines:
        if what == "live" and beacons == BEACONS:
            pings, seconds = closed_loop(writer, tracks[what], beacons, 0.0)   # one ping each: trips under way
            print(f"{beacons:>10} {'first fix':>12} {pings:>8} {pings / seconds:>9.0f} {'':>12}", flush=True)
        pings, seconds = closed_loop(writer, tracks[what], beacons, duration_s)
        ceiling = copy_rows(engine, max(pings, 1000))
        print(f"{beacons:>10} {what:>12} {pings:>8} {pings / seconds:>9.0f} {ceiling:>12.0f}", flush=True)
    writer.stop()


class RawPublisher:
    """The beacons' side of the MQTT figures: QoS 1 PUBLISH packets written straight to the broker.

    10,000 devices would each run on their own hardware; here one process stands for all of
    them on the machine the gateways run on, so it should take as little CPU as it can: the
    packets (MQTT 3.1.1, encoded before the clock starts) go out in chunks of one ``sendall``,
    and a thread counts the broker's PUBACKs.
    """

    def __init__(self, port: int, client_id: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        name = client_id.encode()
        # CONNECT: protocol "MQTT" level 4, clean session, keep-alive off (no PINGREQ needed).
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack("!H", len(name)) + name
        self.sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        if self._read(4) != b"\x20\x02\x00\x00":
            raise SystemExit("the broker refused the benchmark's publisher")
        self.acknowledged = 0
        self._mid = 0
        self._reader = threading.Thread(target=self._count_acks, daemon=True)
        self._reader.start()

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise SystemExit("the broker closed the benchmark's connection")
            data += chunk
        return data

    def _count_acks(self) -> None:
        pending = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            whole = len(pending) - len(pending) % 4       # a PUBACK is 4 bytes: 0x40 0x02 and the id
            self.acknowledged += whole // 4
            pending = pending[whole:]

    def packet(self, topic: str, payload: bytes) -> bytes:
        """Return one QoS 1 PUBLISH packet with the next packet id."""
        self._mid = self._mid % 65535 + 1
        name = topic.encode()
        body = struct.pack("!H", len(name)) + name + struct.pack("!H", self._mid) + payload
        return b"\x32" + _remaining_length(len(body)) + body

    def send(self, packets: list[bytes]) -> None:
        """Write ``packets`` in one go."""
        self.sock.sendall(b"".join(packets))

    def close(self) -> None:
        """Disconnect cleanly."""
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def _remaining_length(size: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (128 if size else 0))
        if not size:
            return bytes(out)


def mqtt_figures(engine: Engine, pings: int, processes: int, tracks: Tracks, what: str, warmup: int = 0) -> None:
    """QoS 1 pings through the project's own Mosquitto (shipped configuration) into ``processes`` gateways.

    ``warmup`` pings go first, untimed: a new gateway process reads each declaration's plan
    (its corridor, zones and stops) on the declaration's first ping, then keeps it. Prints
    pings/s and the CPU each part spent per ping: the gateways, PostgreSQL (all its processes),
    the broker and the publisher standing for the beacons.
    """
    folder = Path(tempfile.mkdtemp(prefix="mercury-bench-mqtt-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "mosquitto")   # as root, mosquitto drops to its own user
    broker = Broker(folder, free_port()).start()
    run = secrets.token_hex(3)
    env = {**os.environ, "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
           "TRACKER_INSTANCE_PATH": tempfile.mkdtemp(), "GATEWAY_HTTP_PORT": "0",
           "GATEWAY_MQTT_URL": broker.url, "GATEWAY_MQTT_TOPIC": f"$share/bench-{run}/bench-{run}/beacons/+/pings",
           "GATEWAY_MQTT_SESSION_EXPIRY_S": "60"}
    gateways = []
    for n in range(processes):
        gateway = subprocess.Popen([sys.executable, "-m", "beacon_gateway.cli", "serve", "--log-level",
                                    os.environ.get("BENCH_GATEWAY_LOG", "ERROR")],
                                   env={**env, "GATEWAY_MQTT_CLIENT_ID": f"bench-{run}-{n}"},
                                   stdout=subprocess.PIPE, text=True)
        assert gateway.stdout is not None
        while "ready" not in gateway.stdout.readline():
            pass
        gateways.append(gateway)
    publisher = RawPublisher(broker.port, f"bench-pub-{run}")

    def packets(count: int) -> list[bytes]:
        out = []
        for n in range(count):
            p = tracks.next(n % BEACONS)
            out.append(publisher.packet(f"bench-{run}/beacons/{p.device_id}/pings", json.dumps(
                {"fix_time": p.fix_time.isoformat(), "lat": p.lat, "lon": p.lon, "speed_kmh": 60}).encode()))
        return out

    def publish(count: int) -> float:
        ready = packets(count)      # encoded before the clock starts
        base, began = max_position_id(engine), time.perf_counter()
        for n in range(0, count, CHUNK):
            wait_stored(engine, base, n - WINDOW, exact=False)  # the brokers' queues stay bounded
            publisher.send(ready[n:n + CHUNK])
        wait_stored(engine, base, count)
        return time.perf_counter() - began

    if warmup:
        publish(warmup)
    def cpu_so_far() -> dict[str, float]:
        return {"gateway": sum(cpu_seconds(g.pid) for g in gateways), "broker": cpu_seconds(broker.process.pid),
                "postgresql": postgres_cpu_seconds(), "publisher": own_cpu_seconds()}

    before = cpu_so_far()
    seconds = publish(pings)
    cpu = {part: spent - before[part] for part, spent in cpu_so_far().items()}
    publisher.close()
    for gateway in gateways:
        gateway.terminate()
    for gateway in gateways:
        gateway.wait(30)
    broker.stop()
    shutil.rmtree(folder, ignore_errors=True)
    per_ping = {part: spent / pings * 1e6 for part, spent in cpu.items()}
    print(f"{processes:>10} {what:>12} {pings:>8} {pings / seconds:>9.0f} {per_ping['gateway']:>12.0f}"
          f" {per_ping['postgresql']:>11.0f} {per_ping['broker']:>7.0f} {per_ping['publisher']:>10.0f}", flush=True)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user and system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """Return the CPU time all PostgreSQL processes of this machine have used so far (their backends included)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue                        # ended meanwhile
        if raw[raw.index("(") + 1:raw.rindex(")")].startswith("postgres"):
            fields = raw.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def own_cpu_seconds() -> float:
    """Return the CPU time this process (every thread) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def max_position_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.max(PositionRow.id), 0))).scalar_one())


def wait_stored(engine: Engine, base: int, rows: int, timeout_s: float = 120, exact: bool = True) -> None:
    """Wait until ``rows`` positions are stored after the row ``base`` (an index range, not a whole count).

    Not ``exact``: judged by the highest id (one index probe), which may run ahead of the count
    by ids a rolled-back batch used; good enough to pace a publisher.
    """
    deadline = time.perf_counter() + timeout_s
    if exact:
        query = select(func.count()).select_from(PositionRow).where(PositionRow.id > base)
    else:
        query = select(func.coalesce(func.max(PositionRow.id), 0) - base)
    while rows > 0:
        with engine.connect() as connection:
            if int(connection.execute(query).scalar_one()) >= rows:
                return
        if time.perf_counter() > deadline:
            raise SystemExit(f"gave up: fewer than {rows} rows after {timeout_s} s (messages dropped?)")
        time.sleep(0.02)


def nmea_lines() -> list[bytes]:
    lines = []
    for path in sorted(NMEA_DATA.glob("*.log")):
        lines += path.read_bytes().splitlines()
    return lines


def nmea_figures() -> None:
    lines = nmea_lines()
    began = time.perf_counter()
    stream, fixes = NmeaStream("bench"), 0
    for number, line in enumerate(lines):
        fixes += sum(isinstance(item, Position) for item in stream.feed(line, number))
    fixes += sum(isinstance(item, Position) for item in stream.flush())
    ours = time.perf_counter() - began
    began = time.perf_counter()
    for line in lines:
        try:
            pynmea2.parse(line.decode("ascii", "replace"), check=True)
        except (pynmea2.ParseError, ValueError, AttributeError):
            pass
    bare = time.perf_counter() - began
    print(f"\n3. NMEA parsing, {len(lines)} lines of {NMEA_DATA}")
    print(f"   gateway decoder: {len(lines) / ours:>9.0f} lines/s ({fixes} positions)")
    print(f"   bare pynmea2.parse: {len(lines) / bare:>6.0f} lines/s")


def growth_figures(engine: Engine, sizes: list[int], duration_s: float, tracks: dict[str, Tracks]) -> None:
    writer = make_writer(engine)
    print(f"\n4. Cost per ping as the table grows (100 beacons, closed loop, {duration_s:.0f} s a line)")
    print(f"{'rows':>12} {'declaration':>12} {'pings/s':>9} {'µs/ping':>9} {'fill COPY rows/s':>17}")
    # the first 100 beacons of each kind carry on along their tracks (live: timed as sent)
    plain, evaluated = tracks["none"], tracks["live"]
    for size in sizes:
        fill = 0.0
        missing = size - count_positions(engine)
        if missing > 0:
            fill = copy_rows(engine, missing)
            with engine.connect() as connection:
                connection.execute(text("ANALYZE positions"))
        for track, what in ((plain, "none"), (evaluated, "evaluated")):
            pings, seconds = closed_loop(writer, track, 100, duration_s)
            print(f"{count_positions(engine):>12} {what:>12} {pings / seconds:>9.0f} "
                  f"{seconds / pings * 1e6:>9.0f} {fill:>17.0f}", flush=True)
    writer.stop()


def main(argv: list[str] | None = None) -> int:
    """Run every figure in one go and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, table up to 1 M rows")
    parser.add_argument("--sizes", help="table sizes for the growth figures, comma-separated")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only this part (repeatable): " + ", ".join(PARTS))
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)
    duration = 3.0 if args.quick else 10.0
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [0, 100_000, 1_000_000] if args.quick else [0, 1_000_000, 3_000_000, 10_000_000])
    logging.disable(logging.WARNING)  # alerts are logged at WARNING; they are not the figures
    print(f"beacon gateway benchmark, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
          flush=True)
    print(f"(10,000 beacons every 30 s is {BEACONS / 30:.0f} pings/s; the aim is 5,000 pings/s)")
    engine = create_database()
    try:
        # Each line carries on where the one before left its beacons: a live fix far from the
        # last one would be an impossible jump, and every rule would run on it.
        tracks = {"none": Tracks(untracked=True), "live": Tracks(live=True), "backlog": Tracks()}
        if "pipeline" in parts:
            pipeline_figures(engine, duration, [1, 100, BEACONS] if args.quick else [1, 100, 1000, BEACONS], tracks)
        if "mqtt" in parts:
            mqtt_part(engine, 10_000 if args.quick else 30_000, tracks)
        if "nmea" in parts:
            nmea_figures()
        if "growth" in parts:
            growth_figures(engine, sizes, duration, tracks)
    finally:
        drop_database(engine)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other work on this machine counts)")
    return 0


def mqtt_part(engine: Engine, pings: int, tracks: dict[str, Tracks]) -> None:
    """Print the end-to-end MQTT lines: one and two gateways, store only then live."""
    print(f"\n2. End to end over MQTT (QoS 1, the project's Mosquitto configuration, {BEACONS} beacons),"
          " timed until every row is committed")
    print(f"{'':>10} {'':>12} {'':>8} {'':>9} {'CPU per ping (µs)':>43}")
    print(f"{'processes':>10} {'declaration':>12} {'pings':>8} {'pings/s':>9} {'gateways':>12}"
          f" {'PostgreSQL':>11} {'broker':>7} {'publisher':>10}")
    untracked, live = tracks["none"], tracks["live"]
    for processes in (1, 2):
        mqtt_figures(engine, pings, processes, untracked, "none")
    for processes in (1, 2):
        mqtt_figures(engine, pings, processes, live, "live", warmup=BEACONS)


if __name__ == "__main__":
    sys.exit(main())
