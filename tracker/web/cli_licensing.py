"""Flask CLI for the licensing authority: licences, import approvals, declaration decisions.

Every change names the acting account with ``--by LOGIN`` so the history says who did
it; ``licences expire`` runs as the system (schedule it daily). Errors print one line
and exit with status 1.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.db import session_scope
from tracker.domain import approvals, lapses, licensing, lifecycle
from tracker.domain.errors import DomainError
from tracker.domain.references import InvalidReference, validate_reference
from tracker.models import Activity, Dealer, Declaration, License, User
from tracker.web.database import session_factory

licence_group = AppGroup("licence", help="Issue, suspend, reinstate or revoke a licence.")
licences_group = AppGroup("licences", help="Work on every licence at once (daily expiry).")
approval_group = AppGroup("approval", help="Record import approvals and export consents (Minamata Art. 3).")
declaration_group = AppGroup("declaration", help="Approve or reject submitted declarations.")


def init_app(app: Flask) -> None:
    """Register the licensing commands on ``app.cli``."""
    for group in (licence_group, licences_group, approval_group, declaration_group):
        app.cli.add_command(group)


def _run(work: Callable[[Session], str]) -> None:
    """Run ``work`` in one transaction; print its line, or one error line and exit 1."""
    try:
        with session_scope(session_factory()) as session:
            line = work(session)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except IntegrityError:
        raise click.ClickException("the change conflicts with existing records; nothing was stored") from None
    click.echo(line)


def _actor(session: Session, login: str) -> User:
    user = session.scalars(select(User).where(User.login == login)).one_or_none()
    if user is None or not user.active:
        raise click.ClickException(f"no active account {login!r}")
    return user


def _dealer(session: Session, taxpayer_number: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.taxpayer_number == taxpayer_number,
                                                  Dealer.country == "KG")).one_or_none()
    if dealer is None:
        raise click.ClickException(f"no domestic dealer with taxpayer number {taxpayer_number}")
    return dealer


def _licence_id(session: Session, number: str) -> int:
    licence_id = session.scalar(select(License.id).where(License.number == number))
    if licence_id is None:
        raise click.ClickException(f"no licence {number}")
    return int(licence_id)


def _declaration_id(session: Session, key: str) -> int:
    """Find a declaration by id or by reference number."""
    if key.isdigit():
        return int(key)
    try:
        reference = validate_reference(key)
    except InvalidReference as exc:
        raise click.ClickException(str(exc)) from None
    found = session.scalar(select(Declaration.id).where(Declaration.reference == reference))
    if found is None:
        raise click.ClickException(f"no declaration {reference}")
    return int(found)


BY = click.option("--by", "login", required=True, help="Login of the licensing admin acting.")
REASON = click.option("--reason", required=True, help="Why (kept in the licence's history).")
DAY = click.DateTime(formats=["%Y-%m-%d"])


@licence_group.command("issue")
@BY
@click.option("--dealer", "taxpayer", required=True, help="Taxpayer number of the domestic dealer.")
@click.option("--number", required=True, help="Licence number.")
@click.option("--from", "valid_from", required=True, type=DAY, help="First valid day (YYYY-MM-DD).")
@click.option("--to", "valid_to", required=True, type=DAY, help="Last valid day (YYYY-MM-DD).")
@click.option("--quota-g", required=True, type=int, help="Annual quota in grams.")
@click.option("--activity", "activities", required=True, multiple=True,
              type=click.Choice([a.value for a in Activity]), help="An activity it covers (repeat).")
@click.option("--reason", default="", help="Note kept in the history.")
def licence_issue(login: str, taxpayer: str, number: str, valid_from: datetime, valid_to: datetime,
                  quota_g: int, activities: tuple[str, ...], reason: str) -> None:
    """Issue a licence to a domestic dealer."""

    def work(session: Session) -> str:
        licence = licensing.issue_licence(session, _actor(session, login), licensing.LicenceInput(
            dealer_id=_dealer(session, taxpayer).id, number=number, valid_from=valid_from.date(),
            valid_to=valid_to.date(), annual_quota_g=quota_g, activities=list(activities), reason=reason))
        return f"issued licence {licence.number} to {licence.dealer.legal_name}"

    _run(work)


def _licence_change(action: str, change: Callable[..., License]) -> Any:
    def command(number: str, login: str, reason: str) -> None:
        def work(session: Session) -> str:
            licence = change(session, _actor(session, login), _licence_id(session, number), reason)
            return f"licence {licence.number} is {licence.status.value}"

        _run(work)

    command.__doc__ = f"{action.capitalize()} licence NUMBER, saying why."
    return licence_group.command(action)(click.argument("number")(BY(REASON(command))))


licence_suspend = _licence_change("suspend", licensing.suspend_licence)
licence_reinstate = _licence_change("reinstate", licensing.reinstate_licence)
licence_revoke = _licence_change("revoke", licensing.revoke_licence)


@licences_group.command("expire")
@click.option("--today", type=DAY, help="The day to expire for (default: today, UTC).")
def licences_expire(today: datetime | None) -> None:
    """Mark licences, import approvals and export consents past their last valid day as expired, and alert
    every open declaration they cover (run daily; pages also run it lazily)."""
    day = today.date() if today else datetime.now(timezone.utc).date()

    def work(session: Session) -> str:
        expired, consents = lapses.lapse_due(session, day)
        names = ", ".join(record.number for record in [*expired, *consents])
        return (f"{len(expired)} licence(s) and {len(consents)} approval(s) or consent(s) expired"
                + (f": {names}" if names else ""))

    _run(work)


@approval_group.command("add")
@BY
@click.option("--number", required=True, help="Approval number.")
@click.option("--importer", "taxpayer", required=True, help="Taxpayer number of the importing dealer.")
@click.option("--exporter-name", required=True)
@click.option("--exporter-country", required=True, help="ISO 3166 alpha-2 code.")
@click.option("--quantity-g", required=True, type=int, help="Quantity consented, in grams.")
@click.option("--intended-use", required=True)
@click.option("--source-statement", required=True, help="The exporter's statement of source.")
@click.option("--not-primary-mining", is_flag=True,
              help="Confirm the mercury is not from primary mining or chlor-alkali surplus (required).")
@click.option("--valid-until", required=True, type=DAY, help="Last valid day (YYYY-MM-DD).")
def approval_add(login: str, number: str, taxpayer: str, exporter_name: str, exporter_country: str,
                 quantity_g: int, intended_use: str, source_statement: str, not_primary_mining: bool,
                 valid_until: datetime) -> None:
    """Record a written import consent."""

    def work(session: Session) -> str:
        approval = approvals.record_import_approval(session, _actor(session, login), approvals.ApprovalInput(
            number=number, importer_id=_dealer(session, taxpayer).id, exporter_name=exporter_name,
            exporter_country=exporter_country, quantity_g=quantity_g, intended_use=intended_use,
            source_not_primary_mining=not_primary_mining, source_statement=source_statement,
            valid_until=valid_until.date()))
        return f"recorded import approval {approval.number} for {approval.quantity_g} g"

    _run(work)


@approval_group.command("add-export")
@BY
@click.option("--number", required=True, help="Consent number.")
@click.option("--exporter", "taxpayer", required=True, help="Taxpayer number of the exporting dealer.")
@click.option("--importer-name", required=True, help="The importer abroad.")
@click.option("--importer-country", required=True, help="ISO 3166 alpha-2 code.")
@click.option("--quantity-g", required=True, type=int, help="Quantity consented, in grams.")
@click.option("--intended-use", required=True)
@click.option("--valid-until", required=True, type=DAY, help="Last valid day (YYYY-MM-DD).")
def approval_add_export(login: str, number: str, taxpayer: str, importer_name: str, importer_country: str,
                        quantity_g: int, intended_use: str, valid_until: datetime) -> None:
    """Record the importing country's written consent to an export (Art. 3(6))."""

    def work(session: Session) -> str:
        consent = approvals.record_export_consent(session, _actor(session, login), approvals.ExportConsentInput(
            number=number, exporter_id=_dealer(session, taxpayer).id, importer_name=importer_name,
            importer_country=importer_country, quantity_g=quantity_g, intended_use=intended_use,
            valid_until=valid_until.date()))
        return f"recorded export consent {consent.number} for {consent.quantity_g} g"

    _run(work)


@declaration_group.command("approve")
@click.argument("declaration")
@BY
@click.option("--reason", default="", help="Optional note.")
def declaration_approve(declaration: str, login: str, reason: str) -> None:
    """Approve DECLARATION (id or reference); prints its new reference number."""

    def work(session: Session) -> str:
        record = lifecycle.approve(session, _actor(session, login), _declaration_id(session, declaration), reason)
        return f"approved declaration {record.id}: reference {record.reference}"

    _run(work)


@declaration_group.command("reject")
@click.argument("declaration")
@BY
@REASON
def declaration_reject(declaration: str, login: str, reason: str) -> None:
    """Reject DECLARATION (id), saying why."""

    def work(session: Session) -> str:
        record = lifecycle.reject(session, _actor(session, login), _declaration_id(session, declaration), reason)
        return f"rejected declaration {record.id}: {record.decision_reason}"

    _run(work)

