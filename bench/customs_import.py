"""How long the largest customs CSV an upload may send holds a web worker, beside its ceiling.

The ceiling is a worker's timeout (gunicorn's default, 30 s): an upload at the size limit
(tracker.domain.customs_import.MAX_UPLOAD_BYTES) and at the row limit (MAX_UPLOAD_ROWS)
must finish well inside it. The peer, measured in the same run, is a one-row upload. The
13 MB file that used to kill a worker is sent too: it is refused (413) before it is read.
Runs through the API (test client, signed in as the licensing authority) on SQLite and on
the local PostgreSQL (a fresh database, dropped afterwards).

    .venv/bin/python bench/customs_import.py
"""
from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.benchdb import drop_database, fresh_database  # noqa: E402
from tracker import create_app, migrate  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.domain.customs_import import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS  # noqa: E402
from tracker.domain.gs1 import make_sscc  # noqa: E402
from tracker.domain.users import create_user  # noqa: E402
from tracker.models import Role  # noqa: E402
from tracker.web.database import EXTENSION_KEY  # noqa: E402

#: The bench user's password (it passes the password policy: no part of its login or name).
PASSWORD = "customs extract 2809 checked"

CEILING_S = 30.0
HEADER = "date,reference,sscc,direction,mass_kg,checkpoint\n"


def csv_file(max_bytes: int, max_rows: int) -> bytes:
    """Distinct export rows up to ``max_rows`` rows or ``max_bytes`` bytes, whichever comes first."""
    lines, size = [HEADER], len(HEADER)
    for n in range(max_rows):
        line = f"2026-11-{n % 28 + 1:02d},26KGHG{n:010d}0,{make_sscc(0, '470000001', n)},export,34.500,AKJOL\n"
        if size + len(line) > max_bytes:
            break
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()


def upload_seconds(url: str, body: bytes) -> tuple[float, int]:
    """Import ``body`` once through the API on a fresh app; return (seconds, status)."""
    engine = make_engine(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16),
                      "INSTANCE_PATH": tempfile.mkdtemp()})
    app.extensions[EXTENSION_KEY] = sessionmaker(bind=engine, expire_on_commit=False)
    with app.extensions[EXTENSION_KEY]() as db:
        login = f"bench.admin.{secrets.token_hex(4)}"
        create_user(db, role=Role.LICENSING_ADMIN, login=login, name="Bench", password=PASSWORD)
        db.commit()
    client = app.test_client()
    assert client.post("/api/v1/session", json={"login": login, "password": PASSWORD}).status_code == 200
    started = time.perf_counter()
    status = client.post("/api/v1/customs-records", data=body, content_type="text/csv").status_code
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, status


def run(backend: str, url: str) -> None:
    """Print each upload's time beside the ceiling."""
    full = csv_file(MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS)
    rows = full.count(b"\n") - 1
    cases = [("one row (peer)", csv_file(MAX_UPLOAD_BYTES, 1)),
             (f"{rows} rows, {len(full) // 1024} KiB (the limit)", full),
             (f"{MAX_UPLOAD_ROWS + 1} rows (refused)", csv_file(10 * MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS + 1)),
             ("13 MB (refused)", full * (13 * 1024 * 1024 // len(full) + 1))]
    for name, body in cases:
        seconds, status = upload_seconds(url, body)
        print(f"| {backend} | {name} | {status} | {seconds:.2f} s | {CEILING_S:.0f} s |", flush=True)


def main() -> None:
    """Measure on SQLite and PostgreSQL."""
    print("| database | upload | status | time | ceiling |\n|---|---|---|---|---|")
    sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    migrate.upgrade(sqlite_url)
    run("SQLite", sqlite_url)
    engine = fresh_database("mercury_bench_customs", pool_size=2)
    try:
        run("PostgreSQL", engine.url.render_as_string(hide_password=False))
    finally:
        drop_database(engine, "mercury_bench_customs")


if __name__ == "__main__":
    main()
