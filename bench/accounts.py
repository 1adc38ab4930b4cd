"""Benchmark: what sign-in security costs, beside the Argon2 work every sign-in already pays.

    .venv/bin/python bench/accounts.py [--rows 100000] [--database-url URL]

Prints milliseconds for: the password policy (zxcvbn on the first 72 characters) on the
costliest inputs up to 256 characters, beside one Argon2id hash (the peer: setting a
password pays both); the per-account limit's look-up of recent failures with ``--rows``
failed sign-ins stored (spread over 1,000 logins), beside one Argon2id verification (the
peer: a sign-in pays both); and the per-request session check with ``--rows`` sessions
stored, beside loading the user by primary key (the peer: what each request did before).
SQLite in a temporary file, and also PostgreSQL when ``--database-url`` is given (its
database is emptied).
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker import migrate  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.domain import account_events  # noqa: E402
from tracker.domain.passwords import hash_password, password_problem, verify_password  # noqa: E402
from tracker.domain.sessions import SessionPolicy, check_session, open_session  # noqa: E402
from tracker.domain.users import create_user  # noqa: E402
from tracker.models import AccountEvent, AccountEventKind, Role, User, UserSession  # noqa: E402

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
HARD_INPUTS = {"256 × 'a'": "a" * 256, "'ab' × 128": "ab" * 128, "'1q2w3e4r' × 32": "1q2w3e4r" * 32,
               "256 random": secrets.token_urlsafe(192)[:256], "words": ("mercury flask pass " * 14)[:256]}


def timed(work: Callable[[], object], repeat: int = 20) -> tuple[float, float]:
    """Return the median and the largest milliseconds of ``repeat`` runs of ``work``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def policy_figures() -> None:
    """Print the password policy's cost on the costliest inputs beside one Argon2id hash."""
    print("password policy (ms, median / max of 20)")
    for name, password in HARD_INPUTS.items():
        print(f"  {name:<18} {'%.1f / %.1f' % timed(lambda: password_problem(password, ['aigul.t', 'Aigul T'])):>14}")
    print(f"  {'Argon2id hash':<18} {'%.1f / %.1f' % timed(lambda: hash_password('a long enough secret')):>14}  (peer)")


def _fill(db: Session, rows: int) -> User:
    user = create_user(db, login="bench.user", name="Bench User", role=Role.AUDITOR, password="a long enough secret")
    events = [{"kind": AccountEventKind.SIGN_IN_FAILED, "login": f"login{n % 1000}", "address": "203.0.113.1",
               "at": NOW - timedelta(seconds=n)} for n in range(rows)]
    sessions = [{"user_id": user.id, "secret_hash": f"{n:064x}", "created_at": NOW, "last_seen_at": NOW}
                for n in range(rows)]
    db.execute(insert(AccountEvent), events)
    db.execute(insert(UserSession), sessions)
    db.commit()
    return user


def database_figures(url: str, label: str, rows: int) -> None:
    """Print the limit's and the session check's cost with ``rows`` stored, beside their peers."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as db:
        user = _fill(db, rows)
        policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
        secret = open_session(db, user, NOW, policy)
        db.commit()
        print(f"{label}, {rows:,} failed sign-ins and {rows:,} sessions stored (ms, median / max of 20)")
        figures = {
            "failures of a login": lambda: account_events.recent_failures(db, "login7", NOW - timedelta(minutes=15)),
            "Argon2id verify": lambda: verify_password(user.password_hash, "a long enough secret"),
            "session check": lambda: check_session(db, secret, NOW, policy),
            "user by id": lambda: (db.expire_all(), db.get(User, user.id)),
        }
        for name, work in figures.items():
            peer = "  (peer)" if name in ("Argon2id verify", "user by id") else ""
            print(f"  {name:<22} {'%.2f / %.2f' % timed(work):>14}{peer}")
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (its schema is dropped)")
    args = parser.parse_args(argv)
    policy_figures()
    with tempfile.TemporaryDirectory() as folder:
        database_figures(f"sqlite:///{folder}/bench.sqlite3", "SQLite", args.rows)
    if args.database_url:
        engine = make_engine(args.database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        database_figures(args.database_url, "PostgreSQL", args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
