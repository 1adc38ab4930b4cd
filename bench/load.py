"""Portal under load: signed-in users of every role on a year of traffic at a busy post.

    .venv/bin/python bench/load.py                      # 30 and 100 users, 30 s each, app and static ceiling
    .venv/bin/python bench/load.py --users 30 --seconds 10 --days 30   # a quick look

It creates (and afterwards drops) the PostgreSQL database ``mercury_bench_load``, migrates
it, loads the demo and grows it to ``--days`` of traffic through the Khaidarkan gate and
Osh (``--per-day`` declarations a day of one to ten flasks; each flask departs, is inspected
at Osh and arrives; a seal found broken now and then opens its alert), with today's
shipments on the road and the next ones approved (``bench/load_data.py``). It then

1. serves the portal with gunicorn (``--workers`` sync workers, the production set-up) and
   signs in the users, split evenly between customs officers posted at the busy posts,
   traders of the combine and auditors, each with their own session;
2. saves each page kind's answer, as the first user of its role sees it, and serves those
   files with the same gunicorn set-up as static pages: the ceiling, measured in the same run;
3. for each number of users, runs a closed loop for ``--seconds`` after a warm-up: each user
   asks for its role's pages in turn, waits for the whole answer, then thinks (0.5 to 1.5 s);
   first against the portal, then against the static copies; the answers that finished
   inside the window are counted (so a saturated server's rate is its capacity);
4. prints, per page kind: requests, req/s, p50/p95/p99 in ms and errors; and per request of
   the officer's checkpoint page and the custody-events API, the SQL statements sent.

The client (aiohttp, one process) runs on the same machine as the server: its CPU is
taken from the server's, as it is from the ceiling's.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.benchdb import SERVER, drop_database, fresh_database  # noqa: E402
from bench.load_data import BUSY_POSTS, PASSWORD, Traffic, grow, make_users  # noqa: E402
from tracker.domain.demo import load_demo  # noqa: E402

DATABASE = "mercury_bench_load"
#: Each role's pages, asked for in turn; ``{sscc}``/``{declaration}`` are filled per user.
PAGES: dict[str, list[tuple[str, str]]] = {
    "customs_officer": [("checkpoint", "/checkpoint"), ("checkpoint, page 2 of events", "/checkpoint?events=2"),
                        ("scanned container", "/checkpoint/containers/{sscc}"),
                        ("custody-events API", "/api/v1/custody-events?checkpoint=OSH")],
    "trader": [("declarations", "/declarations"), ("declaration", "/declarations/{declaration}")],
    "auditor": [("audit now", "/audit/now"), ("alerts", "/alerts")],
}
THINK_S = (0.5, 1.5)


# ---------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start gunicorn with ``workers`` sync workers on ``port`` and wait until it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         app], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"gunicorn {app} did not start on port {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server this benchmark started (its own process group)."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


# ---------------------------------------------------------------- the load
@dataclass
class Answers:
    """Latencies in seconds and errors, per page kind, inside the measured window."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


async def sign_in(base: str, login: str) -> aiohttp.ClientSession:
    """Return a client session signed in as ``login`` (the API's sign-in sets the portal's cookie)."""
    client = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.post("/api/v1/session", json={"login": login, "password": PASSWORD}) as response:
        if response.status != 200:
            raise RuntimeError(f"{login} could not sign in: {response.status} {await response.text()}")
    return client


async def user_loop(client: aiohttp.ClientSession, pages: list[tuple[str, str]], start: float, stop_at: float,
                    answers: Answers, rng: random.Random) -> None:
    """Ask for the pages in turn until ``stop_at``; keep the answers that finished between ``start`` and it."""
    turn = rng.randrange(len(pages))
    await asyncio.sleep(rng.uniform(0, THINK_S[1]))
    while time.monotonic() < stop_at:
        kind, path = pages[turn % len(pages)]
        turn += 1
        began = time.monotonic()
        try:
            async with client.get(path, allow_redirects=False) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        ended = time.monotonic()
        if start <= ended <= stop_at:   # every answer finished in the window: the rate a saturated server keeps
            answers.latencies.setdefault(kind, []).append(ended - began)
            if not ok:
                answers.errors[kind] = answers.errors.get(kind, 0) + 1
        await asyncio.sleep(rng.uniform(*THINK_S))


async def run_load(clients: list[tuple[aiohttp.ClientSession, list[tuple[str, str]]]], warmup: float,
                   seconds: float) -> Answers:
    """Run every user's loop: ``warmup`` seconds unmeasured, then ``seconds`` measured."""
    answers, now = Answers(), time.monotonic()
    start, stop_at = now + warmup, now + warmup + seconds
    rng = random.Random(1)
    await asyncio.gather(*(user_loop(c, pages, start, stop_at, answers, random.Random(rng.random()))
                           for c, pages in clients))
    return answers


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0..1) of ``values``, by the nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered) + 0.5)) - 1))]


def report(title: str, answers: Answers, seconds: float) -> None:
    """Print one table: per page kind, requests, req/s, p50/p95/p99 and errors."""
    print(f"\n{title}")
    print(f"{'page':<30} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    every: list[float] = []
    for kind, values in answers.latencies.items():
        every += values
        print(f"{kind:<30} {len(values):>8} {len(values) / seconds:>7.1f} {1000 * statistics.median(values):>7.0f} "
              f"{1000 * percentile(values, .95):>7.0f} {1000 * percentile(values, .99):>7.0f} "
              f"{answers.errors.get(kind, 0):>6}")
    if every:
        print(f"{'all':<30} {len(every):>8} {len(every) / seconds:>7.1f} {1000 * statistics.median(every):>7.0f} "
              f"{1000 * percentile(every, .95):>7.0f} {1000 * percentile(every, .99):>7.0f} "
              f"{sum(answers.errors.values()):>6}", flush=True)


def pages_of(role: str, traffic: Traffic) -> list[tuple[str, str]]:
    """The role's page kinds with their paths filled in."""
    return [(kind, path.format(sscc=traffic.sscc, declaration=traffic.declaration_id))
            for kind, path in PAGES[role]]


async def save_static(base: str, users: list[tuple[str, str]], traffic: Traffic, folder: Path) -> dict[str, str]:
    """Save each page kind's answer as the first user of its role sees it; return kind → static path."""
    static: dict[str, str] = {}
    for role in PAGES:
        login = next(login for login, r in users if r == role)
        client = await sign_in(base, login)
        for n, (kind, path) in enumerate(pages_of(role, traffic)):
            async with client.get(path) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status}")
            name = f"{role}-{n}.{'json' if 'api' in path else 'html'}"
            (folder / name).write_bytes(body)
            static[kind] = f"/{name}"
        await client.close()
    return static


async def measure(base: str, users: list[tuple[str, str]], count: int, traffic: Traffic,
                  static: dict[str, str] | None, warmup: float, seconds: float) -> Answers:
    """Sign ``count`` users in (evenly by role) and run the load against ``base``."""
    chosen: list[tuple[str, str]] = []
    by_role = {role: [u for u in users if u[1] == role] for role in PAGES}
    for n in range(count):
        role = list(PAGES)[n % len(PAGES)]
        chosen.append(by_role[role][n // len(PAGES)])
    clients = []
    for login, role in chosen:
        pages = pages_of(role, traffic)
        if static is not None:
            pages = [(kind, static[kind]) for kind, _ in pages]
            clients.append((aiohttp.ClientSession(base), pages))
        else:
            clients.append((await sign_in(base, login), pages))
    try:
        return await run_load(clients, warmup, seconds)
    finally:
        await asyncio.gather(*(c.close() for c, _ in clients))


# ---------------------------------------------------------------- statements per request
def statements_per_request(engine: Engine, login: str, traffic: Traffic) -> dict[str, int]:
    """Count the SQL statements of the officer's pages, rendered in this process on the grown data."""
    from tracker import create_app

    app = create_app({"DATABASE_URL": engine.url.render_as_string(hide_password=False), "TESTING": True,
                      "SECRET_KEY": "bench"})
    sent: list[str] = []
    listen = app.extensions["tracker.engine"]
    event.listen(listen, "before_cursor_execute", lambda *args: sent.append(args[2]))
    client = app.test_client()
    assert client.post("/api/v1/session", json={"login": login, "password": PASSWORD}).status_code == 200
    counts = {}
    for kind, path in pages_of("customs_officer", traffic):
        client.get(path)
        sent.clear()
        assert client.get(path).status_code == 200, path
        counts[kind] = len(sent)
    print("SQL statements per request:", counts)
    _profile_checkpoint(client)
    listen.dispose()
    return counts


def _profile_checkpoint(client: Any, requests: int = 10) -> None:
    """Print what the checkpoint page costs in Python, and the share of it spent translating text."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        page = client.get("/checkpoint").get_data()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in stats.values())
    render = sum(ct for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.items()
                 if name == "render_template" and file.endswith("flask/templating.py"))
    translating = [(nc, ct) for (file, _line, name), (_cc, nc, _tt, ct, _callers) in stats.items()
                   if name in ("gettext", "ngettext") and "flask_babel" in file]
    calls, spent = sum(nc for nc, _ in translating), sum(ct for _, ct in translating)
    print(f"/checkpoint under cProfile: {1000 * total / requests:.0f} ms a request, of which rendering "
          f"{1000 * render / requests:.0f} ms; {len(page) / 1024:.0f} KiB; gettext/ngettext {calls / requests:.0f} "
          f"calls a request, {100 * spent / render:.0f} % of the rendering", flush=True)


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Grow the data, serve it, and print the load figures beside the static ceiling."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=25)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile-only", action="store_true",
                        help="grow the data, count statements and profile the checkpoint page; no load")
    args = parser.parse_args(argv)
    began = time.monotonic()
    engine = fresh_database(DATABASE, pool_size=2)
    print(f"database {DATABASE} created and migrated in {time.monotonic() - began:.0f} s", flush=True)
    try:
        return _run(engine, args)
    finally:
        if not args.keep:
            drop_database(engine, DATABASE)


def _run(engine: Engine, args: argparse.Namespace) -> int:
    began = time.monotonic()
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        load_demo(session, now)
        print(f"demo loaded in {time.monotonic() - began:.0f} s", flush=True)
        traffic = grow(session, now, args.days, args.per_day)
        users = make_users(session, max(args.users), list(PAGES))
        session.commit()
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    print(f"grown in {time.monotonic() - began:.0f} s: {traffic.declarations:,} declarations, "
          f"{traffic.containers:,} containers, {traffic.events:,} custody events ({traffic.events_today} today at "
          f"the busy posts {', '.join(BUSY_POSTS)}), {traffic.alerts:,} alerts; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    officer = next(login for login, role in users if role == "customs_officer")
    statements_per_request(engine, officer, traffic)
    if args.profile_only:
        return 0
    env = {"DATABASE_URL": f"{SERVER}/{DATABASE}", "SECRET_KEY": secrets.token_hex(16)}
    with tempfile.TemporaryDirectory() as folder:
        env["TRACKER_INSTANCE_PATH"] = folder
        portal_port, static_port = free_port(), free_port()
        static_dir = Path(folder) / "static"
        static_dir.mkdir()
        portal = gunicorn("tracker:create_app()", portal_port, args.workers, env)
        try:
            base = f"http://127.0.0.1:{portal_port}"
            static = asyncio.run(save_static(base, users, traffic, static_dir))
            for path in static.values():
                print(f"  {path}: {(static_dir / path.lstrip('/')).stat().st_size / 1024:.0f} KiB")
            ceiling = gunicorn("bench.static_pages:app", static_port, args.workers,
                               {"STATIC_PAGES": str(static_dir)})
            try:
                for count in args.users:
                    answers = asyncio.run(measure(base, users, count, traffic, None, args.warmup, args.seconds))
                    report(f"portal, {count} users ({args.workers} gunicorn workers), load average "
                           f"{os.getloadavg()[0]:.1f}", answers, args.seconds)
                    answers = asyncio.run(measure(f"http://127.0.0.1:{static_port}", users, count, traffic,
                                                  static, args.warmup, args.seconds))
                    report(f"ceiling: the same pages as static files, {count} users, load average "
                           f"{os.getloadavg()[0]:.1f}", answers, args.seconds)
            finally:
                stop(ceiling)
        finally:
            stop(portal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
