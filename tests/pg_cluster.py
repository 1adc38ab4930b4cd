"""A throw-away PostgreSQL cluster that a test may stop, restart, kill -9 and start again.

The shared PostgreSQL is never touched: ``initdb`` makes a cluster in a temporary folder,
``pg_ctl`` runs it on a free port with its socket in that folder. As root, the binaries
run as the ``postgres`` OS user (initdb refuses root). Where the binaries are missing the
test is skipped with the reason (failed under CI=true).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text

from tests.gateway.helpers import free_port

from tracker import migrate
from tracker.db import make_engine

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
IN_CI = os.environ.get("CI", "").lower() == "true"


class PgCluster:
    """One cluster on ``port``: ``url`` names its database ``mercury``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/mercury"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*as_user, *command], check=check, capture_output=True, text=True,
                              timeout=120)

    def create(self) -> PgCluster:
        """initdb, start, create database ``mercury`` and migrate it to head."""
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        self.start()
        admin = make_engine(self.url.replace("/mercury", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE mercury"))
        admin.dispose()
        migrate.upgrade(self.url)
        return self

    def running(self) -> bool:
        """Return whether the server's postmaster is alive (a killed one may linger as a zombie)."""
        lock = self.data / "postmaster.pid"
        return lock.exists() and _alive(int(lock.read_text().split()[0]))

    def start(self) -> None:
        """Start the server (after a kill -9, once its old processes are gone) and wait for it."""
        if self.running():
            return
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        deadline = time.monotonic() + 60
        while True:
            done = self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                             "-l", str(self.root / "server.log"), "start", check=False)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {done.stderr}{self.log_tail()}")
            time.sleep(0.5)

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop (``fast`` ends sessions, ``immediate`` is a crash without the kill)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        """pg_ctl restart: every connection is cut and the server is back at once."""
        self.stop(mode)
        self.start()

    def kill_9(self) -> None:
        """SIGKILL the postmaster and every process it started (a crash)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True,
                                  text=True).stdout.split()
        for pid in (postmaster, *map(int, children)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while _alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Dead, but perhaps not yet reaped: its lock file would keep the next start out.
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def terminate_backends(self) -> int:
        """pg_terminate_backend every other connection to ``mercury``; return how many."""
        admin = make_engine(self.url.replace("/mercury", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            ended = connection.execute(text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = 'mercury' AND pid <> pg_backend_pid()")).scalar_one()
        admin.dispose()
        return int(ended)

    def read_only(self, on: bool) -> None:
        """Make new connections to ``mercury`` read-only (as a standby's) or writable again."""
        admin = make_engine(self.url.replace("/mercury", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"ALTER DATABASE mercury SET default_transaction_read_only = "
                                    f"{'on' if on else 'off'}"))
        admin.dispose()

    def log_tail(self) -> str:
        """The end of the server's log (for a failure message)."""
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def destroy(self) -> None:
        """Stop the server however it is, and delete the folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)



def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def missing() -> str | None:
    """Return why a throw-away cluster cannot be made here, or None."""
    for name in ("initdb", "pg_ctl"):
        if not (BIN / name).exists():
            return f"{BIN / name} not found (set PG_BIN to PostgreSQL's bin folder)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A migrated throw-away cluster for the whole session; stopped and deleted even on failure."""
    reason = missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires a throw-away PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="mercury-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PgCluster(root, free_port())
    try:
        yield cluster.create()
    finally:
        cluster.destroy()
