"""Flask CLI commands: ``db`` (migrations), ``demo`` and ``create-user``."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from tracker import migrate
from tracker.db import session_scope
from tracker.domain.passwords import WeakPassword
from tracker.domain.users import AccountError, create_user
from tracker.models import Checkpoint, Dealer, Role
from tracker.web import cli_devices, cli_evidence, cli_licensing, cli_notifications, cli_positions
from tracker.web.database import session_factory

DEMO_ACCOUNTS_FILE = "demo-accounts.txt"


def init_app(app: Flask) -> None:
    """Register the commands on ``app.cli``."""
    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)
    cli_licensing.init_app(app)
    cli_evidence.init_app(app)
    app.cli.add_command(cli_devices.device_group)
    app.cli.add_command(cli_positions.positions_group)
    app.cli.add_command(cli_notifications.notifications_group)


def _url() -> str:
    """Return the URL migrations run with: the owner role's (MIGRATION_DATABASE_URL), else DATABASE_URL."""
    settings = current_app.config.get("SETTINGS")
    return settings.owner_database_url if settings is not None else str(current_app.config["DATABASE_URL"])


db_group = AppGroup("db", help="Migrate the database schema (Alembic revisions in migrations/), grant roles.")
db_group.add_command(cli_evidence.grants_command)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the database to REVISION (default: head)."""
    migrate.upgrade(_url(), revision)
    click.echo(f"database at revision {migrate.current_revision(_url())}")
    if _url() != str(current_app.config["DATABASE_URL"]):
        click.echo("new tables need grants: flask --app tracker db grants --role APPLICATION_ROLE --apply")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade the database to REVISION ('base' removes every table)."""
    migrate.downgrade(_url(), revision)
    click.echo(f"database at revision {migrate.current_revision(_url())}")


@db_group.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one available."""
    click.echo(f"current: {migrate.current_revision(_url())}  head: {migrate.head_revision()}")


@db_group.command("check")
def db_check() -> None:
    """Exit non-zero when the models and the migrated database differ."""
    differences = migrate.schema_differences(_url())
    for difference in differences:
        click.echo(repr(difference))
    if differences:
        raise click.ClickException(f"{len(differences)} difference(s): write a migration")
    click.echo("models and database agree")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--autogenerate", is_flag=True, help="Compare models with the database.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Create a new revision file to edit by hand."""
    from alembic import command

    command.revision(migrate.alembic_config(_url()), message=message, autogenerate=autogenerate)


def _write_accounts(path: Path, lines: list[str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")


@click.command("demo")
@click.option("--trip", is_flag=True, help="print only the reference of the demo's trip in transit (for make run)")
@with_appcontext
def demo_command(trip: bool) -> None:
    """Load the demo data once (running it again changes nothing) and print the accounts."""
    from tracker.domain.demo import load_demo

    if trip:
        return _print_demo_trip()

    accounts_file = Path(current_app.instance_path) / DEMO_ACCOUNTS_FILE
    with session_scope(session_factory()) as session:
        result = load_demo(session)
    if result.loaded:
        lines = [f"{a.login:<22} {a.password:<20} {a.role:<16} {a.description}" for a in result.accounts]
        _write_accounts(accounts_file, lines)
        click.echo(f"demo data loaded; accounts saved to {accounts_file}")
    else:
        click.echo("demo data already loaded; nothing changed")
    if accounts_file.exists():
        click.echo("Demo accounts (login, password, role):")
        click.echo(accounts_file.read_text().rstrip())


def _print_demo_trip() -> None:
    """Print the demo trip's reference; fail when the demo has none in transit any more."""
    from tracker.domain.demo_trip import demo_trip

    with session_scope(session_factory()) as session:
        declaration = demo_trip(session)
        if declaration is None or declaration.reference is None:
            raise click.ClickException("the demo has no trip in transit (load it with 'flask demo' on a new database)")
        click.echo(declaration.reference)


@click.command("create-user")
@with_appcontext
@click.option("--login", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--dealer", "dealer_taxpayer", help="Taxpayer number of the trader's dealer.")
@click.option("--checkpoint", "checkpoint_codes", multiple=True, help="Officer's checkpoint code (repeat).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(login: str, name: str, role: str, dealer_taxpayer: str | None,
                        checkpoint_codes: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account; the password is prompted for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(session_factory()) as session:
            dealer = None
            if dealer_taxpayer:
                dealer = session.scalars(
                    select(Dealer).where(Dealer.taxpayer_number == dealer_taxpayer)).one_or_none()
                if dealer is None:
                    raise AccountError(f"no dealer with taxpayer number {dealer_taxpayer}")
            checkpoints = []
            for code in checkpoint_codes:
                checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one_or_none()
                if checkpoint is None:
                    raise AccountError(f"no checkpoint {code}")
                checkpoints.append(checkpoint)
            create_user(session, login=login, name=name, role=role, password=password,
                        dealer=dealer, checkpoints=checkpoints)
    except (AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {login}")
