"""Live updates: how long after a fix is committed do the open Now pages' streams hear of it.

The portal is served by werkzeug (threads) on a fresh database with the demo loaded; STREAMS
auditors, each signed in through the login form, follow ``GET /live?topic=now``. Each round
stores one fix of the demo's truck the way the gateway's writer does (insert, ``announce``,
commit) and times, per stream, from the commit to its ``change`` event. On SQLite the streams
poll (``LIVE_POLL_SECONDS``); on PostgreSQL they wake on ``NOTIFY``. The browser's own work (a
fetch of the page, 0.2 s after the event at the least) comes on top.

    .venv/bin/python bench/live_latency.py --backend sqlite --streams 20 --rounds 10
    .venv/bin/python bench/live_latency.py --backend postgresql   # needs PostgreSQL on 127.0.0.1
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchdb import SERVER, drop_database, fresh_database  # noqa: E402
from tracker import create_app, migrate  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.domain.changes import announce  # noqa: E402
from tracker.domain.demo import load_demo  # noqa: E402
from tracker.models import Declaration, DeclarationStatus, Position, utcnow  # noqa: E402

DATABASE = "mercury_bench_live"


class Reader(threading.Thread):
    """One signed-in auditor's stream: the time each position id was first heard of."""

    def __init__(self, url: str, password: str) -> None:
        super().__init__(daemon=True)
        self.url, self.heard, self.ready = url, {}, threading.Event()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(f"{url}/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode({"login": "auditor", "password": password, "csrf_token": token}).encode()
        self.opener.open(f"{url}/login", data=form).read()

    def run(self) -> None:
        stream = self.opener.open(f"{self.url}/live?topic=now", timeout=120)
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("event: tick"):
                self.ready.set()
            for position in re.findall(r'"position":(\d+)', line):
                self.heard.setdefault(int(position), time.perf_counter())


def store_fix(session: Session, declaration: Declaration, n: int) -> tuple[int, float]:
    """Store one fix as the gateway's writer does; return its id and the moment its commit returned."""
    row = session.execute(insert(Position).returning(Position.id), [{
        "beacon_id": declaration.beacon_id, "declaration_id": declaration.id, "fix_time": utcnow() - timedelta(
            seconds=1), "lat": 41.0 + n * 1e-4, "lon": 72.5, "flags": [], "protocol": "json", "raw": b"{}"}]).one()
    announce(session)
    session.commit()
    return row[0], time.perf_counter()


def run(url: str, streams: int, rounds: int, folder: Path) -> list[float]:
    """Serve the portal on ``url``'s database and return every stream's latency of every round (seconds)."""
    engine = make_engine(url)
    with Session(engine) as session:
        password = {a.login: a.password for a in load_demo(session).accounts}["auditor"]
        session.commit()
    os.environ["LIVE_MAX_STREAMS"] = str(streams + 1)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance"),
                      "SECRET_KEY": secrets.token_hex(16)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    readers = [Reader(base, password) for _ in range(streams)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.ready.wait(30)
    latencies = []
    with Session(engine) as session:
        declaration = session.scalars(select(Declaration).where(
            Declaration.status == DeclarationStatus.IN_TRANSIT)).first()
        for n in range(rounds):
            position, committed = store_fix(session, declaration, n)  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            while any(position not in r.heard for r in readers) and time.monotonic() < deadline:
                time.sleep(0.005)
            latencies += [r.heard.get(position, float("inf")) - committed for r in readers]
            time.sleep(0.5)
    server.shutdown()
    engine.dispose()
    return latencies


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on one backend and print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend == "postgresql":
            engine = fresh_database(DATABASE, pool_size=5)
            url = f"{SERVER}/{DATABASE}"
        else:
            url = f"sqlite:///{folder / 'live.sqlite3'}"
            migrate.upgrade(url)
        try:
            found = sorted(run(url, args.streams, args.rounds, folder))
        finally:
            if args.backend == "postgresql":
                drop_database(engine, DATABASE)
    lost = sum(1 for seconds in found if seconds == float("inf"))
    heard = [seconds for seconds in found if seconds != float("inf")]
    print(f"{args.backend}: {args.streams} streams x {args.rounds} fixes: commit -> change event "
          f"median {statistics.median(heard):.3f} s, p95 {heard[int(len(heard) * 0.95) - 1]:.3f} s, "
          f"max {heard[-1]:.3f} s; not heard within 30 s: {lost}")
    return 0 if not lost else 1


if __name__ == "__main__":
    sys.exit(main())
