"""Portal under load: signed-in users of every role on a year of traffic at a busy post.

    .venv/bin/python bench/load.py                      # 30 and 100 users, 30 s each, app and static ceiling
    .venv/bin/python bench/load.py --users 30 --seconds 10 --days 30   # a quick look

It creates (and afterwards drops) the PostgreSQL database ``mercury_bench_load``, migrates
it, loads the demo and grows it to ``--days`` of traffic through the Khaidarkan gate and
Osh (``--per-day`` declarations a day of one to ten flasks; each flask departs, is inspected
at Osh and arrives; a seal found broken now and then opens its alert), with today's
shipments on the road and the next ones approved. It then

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
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import Engine, event, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.benchdb import SERVER, drop_database, fresh_database  # noqa: E402
from tracker.domain import geography as geo  # noqa: E402
from tracker.domain import passwords  # noqa: E402
from tracker.domain.demo import load_demo  # noqa: E402
from tracker.domain.gs1 import make_sscc  # noqa: E402
from tracker.domain.references import make_reference  # noqa: E402
from tracker.domain.users import create_user  # noqa: E402
from tracker.models import (  # noqa: E402
    Alert,
    Checkpoint,
    Container,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    ExpectedCheckpoint,
    Role,
    User,
)
from tracker.models.users import officer_checkpoints  # noqa: E402

DATABASE = "mercury_bench_load"
PASSWORD = "bench load password 2809"
BUSY_POSTS = ("KHD-GATE", "OSH", "JALALABAD")
#: Each role's pages, asked for in turn; ``{sscc}``/``{declaration}`` are filled per user.
PAGES: dict[str, list[tuple[str, str]]] = {
    "customs_officer": [("checkpoint", "/checkpoint"), ("checkpoint, page 2 of events", "/checkpoint?events=2"),
                        ("scanned container", "/checkpoint/containers/{sscc}"),
                        ("custody-events API", "/api/v1/custody-events?checkpoint=OSH")],
    "trader": [("declarations", "/declarations"), ("declaration", "/declarations/{declaration}")],
    "auditor": [("audit now", "/audit/now"), ("alerts", "/alerts")],
}
THINK_S = (0.5, 1.5)
#: The load users' time zone: their "today" (the checkpoint page's day) starts at its midnight. UTC, so that
#: a run in the European afternoon finds a day of traffic at the post, not the first hour of Bishkek's day.
TIME_ZONE = "UTC"


# ---------------------------------------------------------------- a year of traffic
@dataclass
class Traffic:
    """What growing the demo added: counts, and one container and declaration to ask about."""

    declarations: int = 0
    containers: int = 0
    events: int = 0
    alerts: int = 0
    events_today: int = 0
    sscc: str = ""
    declaration_id: int = 0


def _hash() -> str:
    return secrets.token_hex(32)


class _Grower:
    """Adds day after day of shipments Khaidarkan gate (or Jalal-Abad) → Osh → Bishkek, a day per batch."""

    def __init__(self, session: Session, now: datetime, per_day: int, officers: dict[str, int]) -> None:
        self.session, self.now, self.per_day, self.rng = session, now, per_day, random.Random(2809)
        self.officers = officers
        self.sites = {c.code: c.id for c in session.scalars(select(Checkpoint))}
        self.combine = session.scalar(select(Dealer).where(Dealer.legal_name.like("Khaidarkan%")))
        self.buyers = list(session.scalars(select(Dealer.id).where(Dealer.country == "KG",
                                                                   Dealer.id != self.combine.id)))
        self.serial, self.reference, self.traffic = 500_000, 900_000, Traffic()
        self.route = geo.route_line(geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Bishkek")).wkt
        self.midnight = now.astimezone(ZoneInfo(TIME_ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(self, departures: list[datetime], status: str, scans: tuple[str, ...]) -> None:
        """Add the shipments leaving at ``departures``, each scanned at ``scans`` (a few statements in all)."""
        origins = ["JALALABAD" if self.rng.random() < 0.2 else "KHD-GATE" for _ in departures]
        ids = self._declarations(departures, status, origins)
        sizes = [self.rng.randint(1, 10) for _ in departures]
        every = self._containers(sum(sizes))
        flasks = [every[sum(sizes[:n]):sum(sizes[:n + 1])] for n in range(len(sizes))]
        self.session.execute(insert(DeclarationItem), [
            {"declaration_id": d, "container_id": c, "declared_net_g": 34_500}
            for d, load in zip(ids, flasks) for c, _ in load])
        self.session.execute(insert(ExpectedCheckpoint), [
            {"declaration_id": d, "seq": 0, "checkpoint_id": self.sites["OSH"]} for d in ids])
        events = [event for d, departed, origin, load in zip(ids, departures, origins, flasks)
                  for event in self._events(d, departed, origin, load, scans)]
        self._alerts(events)
        self._count(ids, flasks, events)

    def _events(self, declaration_id: int, departed: datetime, origin: str, flasks: list[tuple[int, str]],
                scans: tuple[str, ...]) -> list[dict[str, Any]]:
        places = {"departure": origin, "inspection": "OSH", "arrival": "BISHKEK"}
        events = []
        for hours, kind in zip((0, 4, 14), ("departure", "inspection", "arrival")):
            for i, (container, _sscc) in enumerate(flasks if kind in scans else ()):
                when = departed + timedelta(hours=hours, seconds=40 * i)
                if when > self.now:
                    continue
                events.append({"client_event_id": uuid.uuid4().hex, "kind": kind, "container_id": container,
                               "declaration_id": declaration_id, "checkpoint_id": self.sites[places[kind]],
                               "officer_id": self.officers[places[kind]], "event_time": when,
                               "event_time_zone": "+06:00", "recorded_at": when + timedelta(seconds=30),
                               "seal_intact": self.rng.random() >= 0.01, "remarks": "", "device": "bench",
                               "prev_hash": _hash(), "row_hash": _hash()})
        return events

    def _alerts(self, events: list[dict[str, Any]]) -> None:
        """Store the events; a broken seal opens its alert, as the custody rules do."""
        if not events:
            return
        ids = self.session.scalars(insert(CustodyEvent).returning(CustodyEvent.id, sort_by_parameter_order=True),
                                   events).all()
        alerts = [{"declaration_id": row["declaration_id"], "kind": "custody_seal_broken", "severity": "critical",
                   "status": "open", "opened_at": row["recorded_at"],
                   "details": {"custody_event_id": event_id, "client_event_id": row["client_event_id"]}}
                  for row, event_id in zip(events, ids) if not row["seal_intact"]]
        if alerts:
            self.session.execute(insert(Alert), alerts)
        self.traffic.alerts += len(alerts)

    def _count(self, ids: list[int], flasks: list[list[tuple[int, str]]], events: list[dict[str, Any]]) -> None:
        t, busy = self.traffic, {self.sites[c] for c in BUSY_POSTS}
        t.declarations += len(ids)
        t.containers += sum(len(load) for load in flasks)
        t.events += len(events)
        t.events_today += sum(1 for e in events if e["event_time"] >= self.midnight and e["checkpoint_id"] in busy)
        if ids:
            t.sscc, t.declaration_id = flasks[-1][0][1], ids[-1]

    def _containers(self, count: int) -> list[tuple[int, str]]:
        if not count:
            return []
        rows = []
        for _ in range(count):
            self.serial += 1
            rows.append({"sscc": make_sscc(3, "470000001", self.serial), "container_type": "flask_34_5kg",
                         "tare_g": 2_700, "capacity_g": 34_500, "net_g": 34_500, "status": "in_stock",
                         "owner_id": self.combine.id, "custodian_id": self.combine.id,
                         "registered_at": self.now - timedelta(days=400)})
        ids = self.session.scalars(insert(Container).returning(Container.id, sort_by_parameter_order=True),
                                   rows).all()
        return list(zip(ids, (r["sscc"] for r in rows)))

    def _declarations(self, departures: list[datetime], status: str, origins: list[str]) -> list[int]:
        rows = []
        for departed, origin in zip(departures, origins):
            self.reference += 1
            arrived = departed + timedelta(hours=14)
            rows.append({
                "reference": make_reference(departed.year, self.reference), "kind": "domestic", "status": status,
                "declarant_id": self.combine.id, "consignor_id": self.combine.id,
                "consignee_id": self.rng.choice(self.buyers), "origin_id": self.sites[origin],
                "destination_id": self.sites["BISHKEK"], "route": self.route, "corridor_m": 500,
                "planned_departure": departed - timedelta(minutes=30), "planned_arrival": arrived,
                "created_at": departed - timedelta(days=3), "submitted_at": departed - timedelta(days=2),
                "decided_at": departed - timedelta(days=1),
                "departed_at": None if status == "approved" else departed,
                "arrived_at": arrived if status == "closed" else None,
                "closed_at": arrived + timedelta(days=1) if status == "closed" else None,
                "vehicle": "", "decision_reason": "", "receipt_remarks": ""})
        if not rows:
            return []
        return list(self.session.scalars(insert(Declaration).returning(Declaration.id, sort_by_parameter_order=True),
                                         rows))


def grow(session: Session, now: datetime, days: int, per_day: int) -> Traffic:
    """Add ``days`` of closed shipments, today's on the road, and the next ones approved."""
    grower = _Grower(session, now, per_day, {code: _officer_at(session, code) for code in (*BUSY_POSTS, "BISHKEK")})
    every = timedelta(minutes=20)
    for back in range(days, 0, -1):
        first = grower.midnight - timedelta(days=back) + timedelta(hours=6)
        grower.day([first + n * every for n in range(per_day)], "closed", ("departure", "inspection", "arrival"))
    today = [grower.midnight + n * (now - grower.midnight) / per_day for n in range(per_day)]
    grower.day(today, "in_transit", ("departure", "inspection"))
    grower.day([now + timedelta(hours=6 + n) for n in range(per_day // 2)], "approved", ())
    return grower.traffic


def _officer_at(session: Session, code: str) -> int:
    """The id of a demo officer posted at checkpoint ``code``."""
    return session.scalar(select(User.id).join(officer_checkpoints).join(Checkpoint).where(
        Checkpoint.code == code).order_by(User.id).limit(1))


# ---------------------------------------------------------------- users
def make_users(session: Session, count: int) -> list[tuple[str, str]]:
    """Create ``count`` accounts split evenly between the roles; return (login, role) pairs."""
    passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    posts = list(session.scalars(select(Checkpoint).where(Checkpoint.code.in_(BUSY_POSTS))))
    combine = session.scalar(select(Dealer).where(Dealer.legal_name.like("Khaidarkan%")))
    users = []
    for n in range(count):
        role = list(PAGES)[n % len(PAGES)]
        login = f"load.{role}.{n}"
        user = create_user(session, login=login, name=f"Load {n}", role=role, password=PASSWORD,
                           dealer=combine if role == Role.TRADER else None,
                           checkpoints=posts if role == Role.CUSTOMS_OFFICER else ())
        user.time_zone = TIME_ZONE
        users.append((login, role))
    return users


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
        users = make_users(session, max(args.users))
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
