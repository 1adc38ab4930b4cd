"""Flask CLI: ``positions`` — the monthly partitions of positions on PostgreSQL: list, prepare, archive, restore.

Every command runs as the owner role (``MIGRATION_DATABASE_URL``): the application role owns
nothing, so it can neither create nor drop a partition.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from tracker.db import make_engine
from tracker.db_archive import archive_month, restore_month
from tracker.db_partitions import (AHEAD, Month, PartitionError, months, partition_sizes, prepare_months,
                                   retrying_locks)

positions_group = AppGroup("positions", help="Monthly partitions of positions (PostgreSQL): list, prepare, "
                                             "archive old months to files, restore them.")


@contextmanager
def _owner_engine() -> Iterator[Engine]:
    """Yield an engine on the owner's URL; turn partition errors and lock timeouts into clean exits."""
    url = current_app.config["SETTINGS"].owner_database_url
    if not url.startswith("postgresql"):
        raise click.ClickException("positions are partitioned on PostgreSQL only; this database is "
                                   + url.split(":")[0])
    engine = make_engine(url)
    try:
        yield engine
    except PartitionError as exc:
        raise click.ClickException(str(exc)) from None
    except DBAPIError as exc:  # a lock not obtained in time (the gateway was not kept waiting), a table in the way
        raise click.ClickException(f"the database refused: {exc.orig}") from None
    finally:
        engine.dispose()


def _today() -> datetime:
    return datetime.now(timezone.utc)


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Month | None:
    try:
        return Month.parse(value) if value else None
    except PartitionError as exc:
        raise click.BadParameter(str(exc)) from None


@positions_group.command("partitions")
@with_appcontext
def partitions_command() -> None:
    """List each partition: month, rows, size on disk (the default one last)."""
    with _owner_engine() as engine, engine.connect() as connection:
        sizes = partition_sizes(connection)
    click.echo(f"{'month':<9} {'rows':>12} {'size':>10}  table")
    for size in sizes:
        click.echo(f"{str(size.month or 'default'):<9} {size.rows:>12} {size.bytes / 2**20:>8.1f}MB  {size.name}")
    missing = [str(Month.of(_today()).plus(step)) for step in range(AHEAD + 1)
               if Month.of(_today()).plus(step) not in {s.month for s in sizes}]
    if missing:
        click.echo(f"months without a partition: {', '.join(missing)} (their fixes go to the default one): "
                   "flask --app tracker positions prepare", err=True)


@positions_group.command("prepare")
@with_appcontext
@click.option("--ahead", default=AHEAD, show_default=True, type=click.IntRange(0, 24),
              help="Months after the current one to create.")
def prepare_command(ahead: int) -> None:
    """Create the partitions of this month and the next ones (run it monthly from cron)."""
    def prepare(engine: Engine) -> list[Month]:
        with engine.begin() as connection:
            return prepare_months(connection, _today().date(), ahead)

    with _owner_engine() as engine:
        created = retrying_locks(lambda: prepare(engine))
    click.echo(f"created: {', '.join(map(str, created))}" if created else "every month already has a partition")


@positions_group.command("archive")
@with_appcontext
@click.option("--before", required=True, callback=_month, help="Archive every month before this one (YYYY-MM).")
@click.option("--to", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the archive files (created if missing).")
def archive_command(before: Month, directory: Path) -> None:
    """Move each month before BEFORE to a checked file (CSV.gz + manifest with SHA-256), then drop it.

    A month with fixes of a declaration still open is refused and kept; the others go on.
    """
    directory.mkdir(parents=True, exist_ok=True)
    refused = 0
    with _owner_engine() as engine:
        with engine.connect() as connection:
            old = [month for month in months(connection) if month < before]
        for month in old:
            try:
                manifest = archive_month(engine, month, directory, _today().date())
            except (PartitionError, DBAPIError) as exc:  # the month stays in the database, whole
                refused += 1
                click.echo(f"{month}: refused: {getattr(exc, 'orig', None) or exc}", err=True)
                continue
            click.echo(f"{month}: {manifest.rows} fixes archived to {directory / manifest.file} "
                       f"(sha256 {manifest.sha256})")
    if not old:
        click.echo(f"no month before {before} is in the database")
    if refused:
        raise click.exceptions.Exit(1)


@positions_group.command("restore")
@with_appcontext
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(manifest: Path) -> None:
    """Load an archived month back from MANIFEST (positions_YYYY_MM.manifest.json) after checking its file."""
    with _owner_engine() as engine:
        restored = restore_month(engine, manifest)
    click.echo(f"{restored.month}: {restored.rows} fixes restored, checksums match the manifest")
