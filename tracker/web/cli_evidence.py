"""Flask CLI commands for the evidence: ``verify-chain``, ``report balance|reconcile``, ``import-customs``."""
from __future__ import annotations

import csv
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Iterator

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from tracker.db import session_scope
from tracker.domain.balance import COLUMNS as BALANCE_COLUMNS
from tracker.domain.balance import balances, dealer_balance
from tracker.domain.chain import verify_all
from tracker.domain.customs_import import parse_customs_csv, store_customs_rows
from tracker.domain.errors import ValidationFailed
from tracker.domain.reconcile import Mismatch, reconcile
from tracker.models import Dealer
from tracker.web.database import session_factory

MISMATCH_COLUMNS = tuple(Mismatch.__dataclass_fields__)


def init_app(app: Flask) -> None:
    """Register the evidence commands on ``app.cli``."""
    app.cli.add_command(verify_chain_command)
    app.cli.add_command(report_group)
    app.cli.add_command(import_customs_command)


@click.command("verify-chain")
@with_appcontext
def verify_chain_command() -> None:
    """Walk every evidence chain; print OK with the count, or the first broken row and why (exit 1)."""
    session = session_factory()()
    try:
        reports = verify_all(session)
    finally:
        session.close()
    for report in reports:
        if report.ok:
            click.echo(f"{report.chain}: OK, {report.count} rows")
        else:
            where = f"row {report.broken_row_id}" if report.broken_row_id is not None else "its end"
            click.echo(f"{report.chain}: BROKEN at {where}: {report.reason}")
    if any(not r.ok for r in reports):
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {len(reports)} chains, {sum(r.count for r in reports)} rows intact")


report_group = AppGroup("report", help="Mass balance and reconciliation reports as CSV.")


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        yield handle


def _period_options(command):  # type: ignore[no-untyped-def]
    command = click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True,
                           help="Last day, inclusive (YYYY-MM-DD).")(command)
    command = click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
                           help="First day (YYYY-MM-DD).")(command)
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the CSV to this file (default: standard output).")(command)


@report_group.command("balance")
@_period_options
@click.option("--dealer", "taxpayer", help="Taxpayer number of one dealer (default: every dealer and the "
                                           "national total).")
def report_balance(start, end, out: Path | None, taxpayer: str | None) -> None:  # type: ignore[no-untyped-def]
    """Mass balance per dealer: opening + production + imports + purchases − sales − exports − use = closing."""
    first, last = _dates(start, end)
    with session_scope(session_factory()) as session:
        if taxpayer:
            dealer = session.query(Dealer).filter_by(taxpayer_number=taxpayer).one_or_none()
            if dealer is None:
                raise click.ClickException(f"no dealer with taxpayer number {taxpayer}")
            rows = [dealer_balance(session, dealer, first, last)]
        else:
            rows = balances(session, first, last)
        with _output(out) as handle:
            writer = csv.DictWriter(handle, BALANCE_COLUMNS)
            writer.writeheader()
            for balance in rows:
                writer.writerow({**balance.as_dict(), "flags": " ".join(balance.flags)})
    if out is not None:
        click.echo(f"{len(rows)} balance rows written to {out}", err=True)


@report_group.command("reconcile")
@_period_options
def report_reconcile(start, end, out: Path | None) -> None:  # type: ignore[no-untyped-def]
    """Every mismatch between declarations, custody events, the register and customs records."""
    first, last = _dates(start, end)
    with session_scope(session_factory()) as session:
        mismatches = reconcile(session, first, last)
    with _output(out) as handle:
        writer = csv.DictWriter(handle, MISMATCH_COLUMNS)
        writer.writeheader()
        writer.writerows(m.as_dict() for m in mismatches)
    if out is not None:
        click.echo(f"{len(mismatches)} mismatches written to {out}", err=True)


def _dates(start, end) -> tuple[date, date]:  # type: ignore[no-untyped-def]
    first, last = start.date(), end.date()
    if last < first:
        raise click.BadParameter("the period ends before it starts", param_hint="--to")
    return first, last


@click.command("import-customs")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Name of the dataset (default: the file name).")
def import_customs_command(file: Path, source: str | None) -> None:
    """Import a customs border-crossing CSV; bad rows are listed by line (exit 1), good rows kept."""
    try:
        parsed = parse_customs_csv(file.read_bytes())
    except ValidationFailed as exc:
        raise click.ClickException(exc.message) from None
    with session_scope(session_factory()) as session:
        with click.progressbar(parsed.rows, label=f"Importing {file.name}", file=sys.stderr) as rows:
            result = store_customs_rows(session, None, rows, source or file.name)
    click.echo(f"{result.added} rows added, {result.duplicates} already imported, "
               f"{len(parsed.errors)} refused")
    for error in parsed.errors:
        click.echo(f"line {error.line}: {error.message}")
    if parsed.errors:
        raise click.exceptions.Exit(1)
