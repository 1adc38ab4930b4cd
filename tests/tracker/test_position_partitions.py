"""Positions partitioned by month on PostgreSQL: the migration, the default partition, archive and restore.

Each test gets a PostgreSQL database of its own (DDL and committed rows never reach the
run's shared database); SQLite has no partitions and the commands say so.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.conftest import postgres_url
from tests.gateway.seed import Seed
from tracker import create_app, migrate
from tracker.db import make_engine
from tracker.db_archive import ArchiveRefused, archive_month, paths_of, restore_month
from tracker.db_partitions import SCHEMA, Month, create_month, is_partitioned, months, prepare_months
from tracker.domain.position_seals import seal_positions
from tracker.domain.seal_checks import verify_coverage
from tracker.domain.seals import POSITIONS

NOW = datetime.now(timezone.utc).replace(microsecond=0)
THIS_MONTH = Month.of(NOW)
PAST = THIS_MONTH.plus(-2)


@pytest.fixture
def own_url() -> Iterator[str]:
    """The URL of an empty PostgreSQL database made for the test, dropped after it."""
    server = make_url(postgres_url())
    name = f"{server.database}_part_{secrets.token_hex(3)}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(own_url: str) -> Iterator[Engine]:
    """An engine on the test's own database, migrated to head."""
    migrate.upgrade(own_url)
    engine = make_engine(own_url)
    yield engine
    engine.dispose()


def add_fixes(engine: Engine, beacon_id: int, times: list[datetime], declaration_id: int | None = None) -> None:
    """Store one fix per time for the beacon, as the gateway's rows look."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO positions (beacon_id, declaration_id, fix_time, received_at, lat, lon, flags, protocol, raw) "
            "VALUES (:beacon, :declaration, :at, :now, 40.6, 72.85, '[\"future_fix\"]', 'json', :raw)"),
            [{"beacon": beacon_id, "declaration": declaration_id, "at": at, "now": NOW,
              "raw": f"fix {at.isoformat()}".encode()} for at in times])


def every_row(engine: Engine) -> list[tuple[Any, ...]]:
    """Return every stored fix, all columns, ordered by id."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT * FROM positions ORDER BY id"))]


def partition_of(engine: Engine, fix_time: datetime) -> str:
    """Return the name of the partition holding the fix at ``fix_time``."""
    with engine.connect() as connection:
        return str(connection.scalar(text("SELECT tableoid::regclass::text FROM positions WHERE fix_time = :at"),
                                     {"at": fix_time}))


def test_upgrade_partitions_positions_and_downgrade_restores_the_plain_table(own_url: str) -> None:
    migrate.upgrade(own_url, "0015")
    engine = make_engine(own_url)
    seed = Seed(engine)
    beacon, _ = seed.beacon()
    odd = [datetime(2000, 1, 6, tzinfo=timezone.utc), datetime(2080, 3, 1, tzinfo=timezone.utc)]
    add_fixes(engine, beacon.id, [NOW - timedelta(minutes=3), NOW - timedelta(minutes=1), *odd])
    before = every_row(engine)

    migrate.upgrade(own_url, "0016")
    with engine.connect() as connection:
        assert is_partitioned(connection)
        assert months(connection) == [THIS_MONTH.plus(n) for n in range(4)]
    assert every_row(engine) == before
    assert partition_of(engine, odd[0]) == partition_of(engine, odd[1]) == f"{SCHEMA}.positions_default"
    assert partition_of(engine, before[0][3]) == THIS_MONTH.qualified
    add_fixes(engine, beacon.id, [NOW])  # the id sequence carries on
    assert every_row(engine)[-1][0] == before[-1][0] + 1
    with pytest.raises(IntegrityError, match="duplicate key value violates unique constraint"):
        add_fixes(engine, beacon.id, [odd[0]])  # the gateway's duplicate key holds in every partition

    migrate.downgrade(own_url, "0015")
    with engine.connect() as connection:
        assert not is_partitioned(connection)
        assert connection.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": SCHEMA}) == 0
    assert every_row(engine)[:-1] == before
    migrate.upgrade(own_url)
    assert migrate.schema_differences(own_url) == []
    engine.dispose()


def test_the_upgrade_keeps_what_other_roles_may_do_on_positions(own_url: str) -> None:
    migrate.upgrade(own_url, "0015")
    engine, role = make_engine(own_url), f"mercury_app_{secrets.token_hex(3)}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role}"))
        connection.execute(text(f"GRANT SELECT, INSERT, UPDATE (flags) ON positions TO {role}"))
    try:
        migrate.upgrade(own_url)
        with engine.connect() as connection:
            may = {what: connection.scalar(text(f"SELECT has_table_privilege('{role}', 'positions', '{what}')"))
                   for what in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")}
            flags = connection.scalar(text(f"SELECT has_column_privilege('{role}', 'positions', 'flags', 'UPDATE')"))
        assert may == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
        assert flags
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        engine.dispose()


def test_a_fix_in_a_month_without_partition_lands_in_the_default_one_until_prepare_creates_it(engine: Engine) -> None:
    beacon, _ = Seed(engine).beacon()
    later = THIS_MONTH.plus(7).start + timedelta(days=3)
    add_fixes(engine, beacon.id, [later])
    assert partition_of(engine, later) == f"{SCHEMA}.positions_default"

    with engine.begin() as connection:
        created = prepare_months(connection, later.date(), ahead=1)
    assert created == [THIS_MONTH.plus(7), THIS_MONTH.plus(8)]
    assert partition_of(engine, later) == THIS_MONTH.plus(7).qualified
    with engine.begin() as connection:
        assert prepare_months(connection, later.date(), ahead=1) == []


def _month_with_a_trip(engine: Engine, status: str) -> tuple[Seed, int]:
    """A past month's partition holding fixes of one declaration in ``status``, sealed; return the seed, the id."""
    seed = Seed(engine)
    beacon, _ = seed.beacon()
    declaration = seed.declaration(beacon, PAST.start)
    with engine.begin() as connection:
        connection.execute(text("UPDATE declarations SET status = :s WHERE id = :id"),
                           {"s": status, "id": declaration})
    add_fixes(engine, beacon.id, [PAST.start + timedelta(hours=h, minutes=7) for h in range(30)], declaration)
    with engine.begin() as connection:
        create_month(connection, PAST)
    with Session(engine) as session:
        seal_positions(session, NOW)
        session.commit()
    return seed, declaration


def test_archive_refuses_a_month_holding_fixes_of_an_open_declaration(engine: Engine, tmp_path: Path) -> None:
    _month_with_a_trip(engine, "in_transit")
    before = every_row(engine)
    with pytest.raises(ArchiveRefused, match="still open"):
        archive_month(engine, PAST, tmp_path, NOW.date())
    assert every_row(engine) == before
    with engine.connect() as connection:
        assert PAST in months(connection)
    assert list(tmp_path.iterdir()) == []


def test_archive_refuses_the_current_month(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ArchiveRefused, match="not over yet"):
        archive_month(engine, THIS_MONTH, tmp_path, NOW.date())


def _seals_ok(engine: Engine) -> bool:
    with Session(engine) as session:
        return verify_coverage(session, POSITIONS).ok


def test_a_closed_month_is_archived_to_a_checked_file_and_restores_to_the_same_rows(engine: Engine,
                                                                                   tmp_path: Path) -> None:
    _month_with_a_trip(engine, "closed")
    before = every_row(engine)
    manifest = archive_month(engine, PAST, tmp_path, NOW.date())

    data_file, manifest_file = paths_of(tmp_path, PAST)
    assert manifest.rows == 30 and json.loads(manifest_file.read_text())["rows"] == 30
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() == manifest.sha256
    assert hashlib.sha256(gzip.decompress(data_file.read_bytes())).hexdigest() == manifest.csv_sha256
    assert every_row(engine) == []
    with engine.connect() as connection:
        assert PAST not in months(connection)
        assert connection.execute(text("SELECT row_count, sha256, restored_at FROM position_archives")).all() == [
            (30, manifest.sha256, None)]
    assert _seals_ok(engine)  # the archived month's seals wait for its return, they are not "broken"

    restore_month(engine, manifest_file)
    assert every_row(engine) == before
    assert partition_of(engine, before[0][3]) == PAST.qualified
    assert _seals_ok(engine)
    with pytest.raises(ArchiveRefused, match="nothing to restore"):
        restore_month(engine, manifest_file)


def test_a_tampered_archive_file_is_not_restored(engine: Engine, tmp_path: Path) -> None:
    _month_with_a_trip(engine, "closed")
    archive_month(engine, PAST, tmp_path, NOW.date())
    data_file, manifest_file = paths_of(tmp_path, PAST)
    rows = gzip.decompress(data_file.read_bytes()).replace(b"40.6,72.85", b"40.7,72.85", 1)
    data_file.write_bytes(gzip.compress(rows))
    with pytest.raises(ArchiveRefused, match="does not match the SHA-256"):
        restore_month(engine, manifest_file)
    assert every_row(engine) == []


def test_the_gateway_keeps_storing_while_a_month_is_archived(engine: Engine, tmp_path: Path) -> None:
    from beacon_gateway.config import GatewaySettings
    from beacon_gateway.pipeline import build_pipeline
    from beacon_gateway.position import Position
    from beacon_gateway.writer import BatchWriter
    from tracker.db import make_session_factory

    seed, _ = _month_with_a_trip(engine, "closed")
    beacon, _ = seed.beacon()
    settings = GatewaySettings(database_url=engine.url.render_as_string(hide_password=False))
    writer = BatchWriter(make_session_factory(engine), build_pipeline(settings), max_wait_s=0.005).start()
    stop, outcomes = threading.Event(), []

    def send() -> None:
        n = 0
        while not stop.is_set() or n < 20:
            at = NOW - timedelta(hours=2) + timedelta(seconds=n)
            outcomes.append(writer.submit([Position(device_id=beacon.device_id, fix_time=at, lat=40.6, lon=72.85,
                                                    protocol="json", raw=f"live {n}".encode())]).result(10))
            n += 1

    sender = threading.Thread(target=send)
    sender.start()
    try:
        archive_month(engine, PAST, tmp_path, NOW.date())
        late = PAST.start + timedelta(days=2)  # a device's buffered fix of the archived month, sent afterwards
        outcomes.append(writer.submit([Position(device_id=beacon.device_id, fix_time=late, lat=40.6, lon=72.85,
                                                protocol="json", raw=b"late")]).result(10))
    finally:
        stop.set()
        sender.join(30)
        writer.stop()
    assert all(outcome.stored == 1 for outcome in outcomes)
    assert seed.count([beacon.id]) == len(outcomes)
    assert partition_of(engine, late) == f"{SCHEMA}.positions_default"


def test_the_commands_list_archive_and_restore(own_url: str, engine: Engine, tmp_path: Path) -> None:
    _month_with_a_trip(engine, "closed")
    app = create_app({"TESTING": True, "DATABASE_URL": own_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["positions", "partitions"])
    assert listing.exit_code == 0, listing.output
    assert f"{PAST}" in listing.output and "default" in listing.output
    assert any(line.split()[:2] == [str(PAST), "30"] for line in listing.output.splitlines())

    archived = runner.invoke(args=["positions", "archive", "--before", str(THIS_MONTH), "--to", str(tmp_path / "a")])
    assert archived.exit_code == 0, archived.output
    assert f"{PAST}: 30 fixes archived" in archived.output
    restored = runner.invoke(args=["positions", "restore", str(paths_of(tmp_path / "a", PAST)[1])])
    assert restored.exit_code == 0 and "30 fixes restored" in restored.output
    refused = runner.invoke(args=["positions", "archive", "--before", "2026-13", "--to", str(tmp_path)])
    assert refused.exit_code == 2 and "not a month written YYYY-MM" in refused.output


def test_the_commands_say_sqlite_has_no_partitions(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["positions", "partitions"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: positions are partitioned on PostgreSQL only; this database is sqlite"


def test_reads_bounded_in_fix_time_touch_only_their_months(engine: Engine) -> None:
    with engine.connect() as connection:
        plan = "\n".join(connection.scalars(text(
            "EXPLAIN SELECT * FROM positions WHERE beacon_id = 1 AND fix_time >= :start AND fix_time <= :end"),
            {"start": THIS_MONTH.start + timedelta(days=1), "end": THIS_MONTH.start + timedelta(days=1, hours=2)}))
    assert THIS_MONTH.table in plan
    assert THIS_MONTH.plus(1).table not in plan and "positions_default" not in plan


def test_a_manifest_naming_another_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    manifest_file = tmp_path / "positions_2026_01.manifest.json"
    manifest_file.write_text(json.dumps({
        "format": "mercury-positions-month/1", "month": "2026-01", "file": "../../etc/passwd", "rows": 1,
        "id_min": 1, "id_max": 1, "id_sum": 1, "sha256": "0" * 64, "csv_sha256": "0" * 64,
        "archived_at": "2026-02-01T00:00:00+00:00", "restore": ""}))
    with pytest.raises(ArchiveRefused, match="not the file of 2026-01"):
        restore_month(engine, manifest_file)
