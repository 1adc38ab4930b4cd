"""Flask CLI commands for the evidence: ``verify-chain``, ``report balance|reconcile``, ``import-customs``."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from tracker.domain.chain import verify_all
from tracker.web.database import session_factory


def init_app(app: Flask) -> None:
    """Register the evidence commands on ``app.cli``."""
    app.cli.add_command(verify_chain_command)


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
    broken = [r for r in reports if not r.ok]
    if broken:
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {len(reports)} chains, {sum(r.count for r in reports)} rows intact")
