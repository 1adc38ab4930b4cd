"""Flask CLI commands for the evidence: ``verify-chain``, ``evidence``, ``db grants``, reports, ``import-customs``."""
from __future__ import annotations

import csv
import json
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Iterator

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from tracker import db_roles
from tracker.db import make_engine, session_scope
from tracker.domain import signing
from tracker.domain.balance import COLUMNS as BALANCE_COLUMNS
from tracker.domain.balance import balances, dealer_balance
from tracker.domain.chain_verify import ChainReport, verify_chains
from tracker.domain.customs_import import parse_customs_csv, store_customs_rows
from tracker.domain.errors import ValidationFailed
from tracker.domain.reconcile import Mismatch, reconcile
from tracker.domain.seal_checks import verify_seals
from tracker.domain.sealing import seal_everything
from tracker.domain.witness import WitnessError, export_heads, read_witnessed, sign_unsigned_chains
from tracker.models import Dealer, utcnow
from tracker.web.database import session_factory

MISMATCH_COLUMNS = tuple(Mismatch.__dataclass_fields__)


def init_app(app: Flask) -> None:
    """Register the evidence commands on ``app.cli``."""
    app.cli.add_command(verify_chain_command)
    app.cli.add_command(evidence_group)
    app.cli.add_command(report_group)
    app.cli.add_command(import_customs_command)


def _verifier(public_key: Path | None) -> signing.Verifier:
    """Return the auditor's public key if given, else the instance's key (never made here)."""
    key_file = current_app.config["SETTINGS"].signing_key_path
    if public_key is None and not key_file.exists():
        raise click.ClickException(f"no evidence signing key at {key_file}: verify with --public-key FILE, "
                                   "or create the key with: flask --app tracker evidence create-key")
    try:
        return signing.load_verifier(public_key) if public_key else signing.current_signer()
    except signing.SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None


def _print_report(report: ChainReport) -> None:
    if report.ok:
        pending = f" ({report.pending} not sealed yet)" if report.pending else ""
        click.echo(f"{report.chain}: OK, {report.count} rows{pending}")
    else:
        where = f"row {report.broken_row_id}" if report.broken_row_id is not None else "its end"
        click.echo(f"{report.chain}: BROKEN at {where}: {report.reason}")


@click.command("verify-chain")
@with_appcontext
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify signatures with this public key (PEM), e.g. an auditor's copy.")
@click.option("--against", "witnessed_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file written by --export-head: the chains must extend the heads it holds.")
@click.option("--export-head", "export_file", type=click.Path(dir_okay=False, path_type=Path),
              help="After an intact verification, write the signed chain heads to this file (for auditors).")
def verify_chain_command(public_key: Path | None, witnessed_file: Path | None, export_file: Path | None) -> None:
    """Walk every evidence chain and sealed evidence; print OK with counts, or the first broken row and why."""
    verifier = _verifier(public_key)
    session = session_factory()()
    try:
        witnessed = read_witnessed(witnessed_file.read_text(encoding="utf-8"), verifier) if witnessed_file else []
        reports = verify_chains(session, verifier, witnessed)
        reports += verify_seals(session) if all(r.ok for r in reports) else []
        document = export_heads(session, verifier) if export_file and all(r.ok for r in reports) else None
    except WitnessError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.close()
    for report in reports:
        _print_report(report)
    if any(not r.ok for r in reports):
        raise click.exceptions.Exit(1)
    if document is not None and export_file is not None:
        export_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        click.echo(f"signed heads of {len(document['heads'])} chains written to {export_file}")
    click.echo(f"OK: {len(reports)} chains and seals, {sum(r.count for r in reports)} rows intact"
               + (f", consistent with {witnessed_file}" if witnessed_file else ""))


evidence_group = AppGroup("evidence", help="The evidence signing key, sealing, signing old chains.")


@evidence_group.command("create-key")
@with_appcontext
def create_key_command() -> None:
    """Create the evidence signing key (Ed25519, mode 0600) where the settings say; never replaces one."""
    path = current_app.config["SETTINGS"].signing_key_path
    try:
        signer = signing.create_key_file(path)
    except signing.SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {path} (key {signer.key_id}); give auditors: flask --app tracker evidence public-key")


@evidence_group.command("public-key")
@with_appcontext
def public_key_command() -> None:
    """Print the public key auditors verify signed heads with (PEM)."""
    click.echo(_verifier(None).public_pem(), nl=False)


@evidence_group.command("seal")
@with_appcontext
@click.option("--all", "all_positions", is_flag=True,
              help="Look at every stored fix, not only those since the last run (after an interrupted backlog).")
def seal_command(all_positions: bool) -> None:
    """Seal finished hours of positions, and anything stored without a seal (the gateway seals positions too)."""
    with session_scope(session_factory()) as session:
        appended = seal_everything(session, utcnow(), all_positions)
    click.echo(f"{appended} seals appended")


@evidence_group.command("sign-heads")
@with_appcontext
def sign_heads_command() -> None:
    """Sign the heads of intact chains never signed (data from before signing); run verify-chain first."""
    with session_scope(session_factory()) as session:
        signed = sign_unsigned_chains(session)
    click.echo(f"signed: {', '.join(signed)}" if signed else "every chain already had a signed head")


@click.command("grants")
@with_appcontext
@click.option("--role", required=True, help="The role the portal and the gateway connect as (owns nothing).")
@click.option("--apply", "apply_now", is_flag=True, help="Run them now, as the owner (MIGRATION_DATABASE_URL).")
def grants_command(role: str, apply_now: bool) -> None:
    """Print (or apply) the grants the application role needs on PostgreSQL; rerun after every upgrade."""
    try:
        statements = db_roles.grant_statements(role)
        if apply_now:
            statements = _apply_grants(role)
    except db_roles.RoleError as exc:
        raise click.ClickException(str(exc)) from None
    for statement in statements:
        click.echo(statement + ";")
    if apply_now:
        click.echo(f"-- applied: {len(statements)} statements for {role}", err=True)


def _apply_grants(role: str) -> list[str]:
    url = current_app.config["SETTINGS"].owner_database_url
    if not url.startswith("postgresql"):
        raise db_roles.RoleError("database roles and grants are PostgreSQL's: nothing to apply on " + url.split(":")[0])
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            return db_roles.apply_grants(connection, role)
    finally:
        engine.dispose()


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
