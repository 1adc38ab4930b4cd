"""Licences and import approvals: issue, suspend, reinstate, revoke, expire, with history and alerts."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import create_app
from tracker.db import make_engine, make_session_factory
from tracker.domain import approvals, licensing
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.lifecycle import submit
from tracker.domain.passwords import hash_password
from tracker.models import (
    Activity,
    Alert,
    Dealer,
    Declaration,
    DeclarationStatus,
    ImportApproval,
    License,
    LicenseStatus,
    Role,
    User,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def licence_input(dealer: Dealer, **kw) -> licensing.LicenceInput:
    kw.setdefault("number", f"KG-HG-TEST-{dealer.id}")
    kw.setdefault("valid_from", date(2026, 1, 1))
    kw.setdefault("valid_to", date(2027, 12, 31))
    kw.setdefault("annual_quota_g", 500_000)
    kw.setdefault("activities", ["domestic_trade", "storage"])
    return licensing.LicenceInput(dealer_id=dealer.id, **kw)


@pytest.fixture
def admin(make_user) -> User:
    return make_user("licensing_admin")


def test_admin_issues_a_licence_and_the_history_says_who_when_why(db: Session, admin, make_dealer) -> None:
    dealer = make_dealer(licensed=False)
    licence = licensing.issue_licence(db, admin, licence_input(dealer, reason="application 17 approved"))
    assert licence.status == LicenseStatus.ACTIVE and licence.activities == {Activity.DOMESTIC_TRADE, Activity.STORAGE}
    [event] = licence.history
    assert (event.action, event.actor_name, event.reason) == ("issued", admin.login, "application 17 approved")
    assert event.at is not None and licence.issued_by == admin


def test_issuing_a_bad_licence_reports_every_field_and_stores_nothing(db: Session, admin) -> None:
    foreign = Dealer(legal_name="Abroad GmbH", taxpayer_number="DE1", country="DE")
    db.add(foreign)
    db.flush()
    with pytest.raises(ValidationFailed) as caught:
        licensing.issue_licence(db, admin, licence_input(
            foreign, number="", valid_from=date(2027, 1, 1), valid_to=date(2026, 1, 1),
            annual_quota_g=0, activities=["smuggling"]))
    assert set(caught.value.errors) == {"dealer_id", "number", "valid_to", "annual_quota_g", "activities"}
    assert db.scalars(select(License).where(License.dealer_id == foreign.id)).all() == []


def test_only_the_licensing_admin_manages_licences(db: Session, make_user, make_dealer) -> None:
    for role in ("trader", "customs_officer", "auditor"):
        with pytest.raises(Forbidden):
            licensing.issue_licence(db, make_user(role), licence_input(make_dealer(licensed=False)))


def test_suspend_reinstate_revoke_follow_the_licence_life_and_keep_history(
        db: Session, admin, make_dealer) -> None:
    licence = make_dealer().licenses[0]
    licensing.suspend_licence(db, admin, licence.id, "no vapour monitoring")
    assert licence.status == LicenseStatus.SUSPENDED and licence.status_reason == "no vapour monitoring"
    with pytest.raises(Conflict, match="is suspended; it cannot become suspended"):
        licensing.suspend_licence(db, admin, licence.id, "again")
    licensing.reinstate_licence(db, admin, licence.id, "monitoring installed", today=date(2026, 6, 1))
    licensing.revoke_licence(db, admin, licence.id, "repeated breaches")
    with pytest.raises(Conflict):
        licensing.reinstate_licence(db, admin, licence.id, "no", today=date(2026, 6, 1))
    assert [(e.action, e.reason) for e in licence.history] == [
        ("suspended", "no vapour monitoring"), ("reinstated", "monitoring installed"),
        ("revoked", "repeated breaches")]


def test_a_change_without_a_reason_is_refused(db: Session, admin, make_dealer) -> None:
    licence = make_dealer().licenses[0]
    with pytest.raises(ValidationFailed) as caught:
        licensing.suspend_licence(db, admin, licence.id, "  ")
    assert caught.value.errors == {"reason": "say why"} and licence.status == LicenseStatus.ACTIVE


def test_reinstating_a_licence_that_ran_out_meanwhile_is_refused(db: Session, admin, make_dealer) -> None:
    licence = make_dealer().licenses[0]
    licensing.suspend_licence(db, admin, licence.id, "inspection")
    with pytest.raises(Conflict, match="ran out"):
        licensing.reinstate_licence(db, admin, licence.id, "ok", today=licence.valid_to + timedelta(days=1))


@pytest.mark.parametrize("change, kind", [
    (licensing.suspend_licence, "licence_suspended"), (licensing.revoke_licence, "licence_revoked")])
def test_suspending_or_revoking_opens_an_alert_on_each_open_declaration(
        db: Session, admin, make_dealer, make_declaration, change, kind) -> None:
    dealer = make_dealer()
    moving = make_declaration(declarant=dealer, status=DeclarationStatus.IN_TRANSIT)
    inbound = make_declaration(consignee=dealer, status=DeclarationStatus.IN_TRANSIT)
    waiting = make_declaration(declarant=dealer, status=DeclarationStatus.APPROVED)
    done = make_declaration(declarant=dealer, status=DeclarationStatus.ARRIVED)
    change(db, admin, dealer.licenses[0].id, "inspection found a leak")
    alerts = db.scalars(select(Alert).where(Alert.kind == kind)).all()
    assert {a.declaration_id for a in alerts} == {moving.id, inbound.id, waiting.id}
    assert done.id not in {a.declaration_id for a in alerts}
    assert alerts[0].details["reason"] == "inspection found a leak"
    assert alerts[0].history[0].action == "opened"


def test_a_suspended_licence_blocks_new_declarations_at_once(db: Session, admin, make_submittable) -> None:
    trader, declaration = make_submittable()
    licensing.suspend_licence(db, admin, trader.dealer.licenses[0].id, "unpaid fee")
    with pytest.raises(ValidationFailed) as caught:
        submit(db, trader, declaration.id)
    assert "no active licence" in caught.value.errors["consignor"]


def test_expire_licences_marks_those_past_their_last_day_and_alerts_shipments(
        db: Session, make_dealer, make_declaration) -> None:
    dealer = make_dealer()
    licence = dealer.licenses[0]
    moving = make_declaration(declarant=dealer, consignee=make_dealer(licensed=False),
                              status=DeclarationStatus.IN_TRANSIT)
    assert licence not in licensing.expire_licences(db, licence.valid_to)       # its last day: still valid
    expired = licensing.expire_licences(db, licence.valid_to + timedelta(days=1))
    assert licence in expired and licence.status == LicenseStatus.EXPIRED
    assert licence.history[-1].action == "expired" and licence.history[-1].actor_name == "system"
    assert db.scalars(select(Alert.kind).where(Alert.declaration_id == moving.id)).all() == ["licence_expired"]
    assert licence not in licensing.expire_licences(db, licence.valid_to + timedelta(days=2))


def approval_input(importer: Dealer, **kw) -> approvals.ApprovalInput:
    values = dict(number=f"IMP-{importer.id}", importer_id=importer.id, exporter_name="Guizhou Recycling Co.",
                  exporter_country="CN", quantity_g=200_000, intended_use="dental amalgam",
                  source_not_primary_mining=True, source_statement="recovered from lamps",
                  valid_until=date(2027, 6, 30))
    values.update(kw)
    return approvals.ApprovalInput(**values)


def test_admin_records_an_import_approval_with_the_art_3_fields(db: Session, admin, make_dealer) -> None:
    approval = approvals.record_import_approval(db, admin, approval_input(make_dealer()))
    assert approval.issued_by == admin and approval.quantity_g == 200_000 and approval.exporter_country == "CN"


def test_approvals_past_their_last_day_expire(db: Session, admin, make_dealer) -> None:
    approval = approvals.record_import_approval(db, admin, approval_input(make_dealer()))
    assert approvals.expire_approvals(db, approval.valid_until) == []
    assert approvals.expire_approvals(db, approval.valid_until + timedelta(days=1)) == [approval]
    assert approval.status.value == "expired"


def test_admin_records_an_export_consent_of_the_importing_country(db: Session, admin, make_dealer) -> None:
    exporter = make_dealer()
    consent = approvals.record_export_consent(db, admin, approvals.ExportConsentInput(
        number="EXP-1", exporter_id=exporter.id, importer_name="Almaty Chemicals LLP", importer_country="KZ",
        quantity_g=69_000, intended_use="laboratory reagents", valid_until=date(2027, 6, 30)))
    assert consent.exporter == exporter and consent.issued_by == admin
    with pytest.raises(ValidationFailed) as caught:
        approvals.record_export_consent(db, admin, approvals.ExportConsentInput(
            number="EXP-1", exporter_id=exporter.id, importer_name="", importer_country="kz",
            quantity_g=0, intended_use="", valid_until=date(2027, 6, 30)))
    assert set(caught.value.errors) == {"number", "importer_name", "importer_country", "quantity_g",
                                        "intended_use"}
    assert approvals.expire_approvals(db, date(2027, 7, 1)) == [consent]


def test_an_approval_without_the_source_statement_or_with_bad_fields_is_refused(
        db: Session, admin, make_dealer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        approvals.record_import_approval(db, admin, approval_input(
            make_dealer(), exporter_country="KG", quantity_g=-5, source_not_primary_mining=False,
            source_statement="", intended_use=""))
    assert set(caught.value.errors) == {"exporter_country", "quantity_g", "source_not_primary_mining",
                                        "source_statement", "intended_use"}
    assert db.scalars(select(ImportApproval)).all() == []


# ---------------------------------------------------------------- CLI
@pytest.fixture
def cli_app(tmp_path: Path) -> Flask:
    """An app on a fresh SQLite file with an admin, a dealer and a licence."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        session.add(User(login="admin", name="Admin", role=Role.LICENSING_ADMIN,
                         password_hash=hash_password("a long enough secret")))
        session.add(Dealer(legal_name="Osh Metal Trading LLC", taxpayer_number="02104200710123", country="KG"))
        session.commit()
    return app


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def licences(app: Flask) -> list[tuple[str, str, list[str]]]:
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        return [(lic.number, lic.status.value, [e.action for e in lic.history])
                for lic in session.scalars(select(License))]


def test_cli_issues_suspends_reinstates_and_revokes(cli_app: Flask) -> None:
    result = run(cli_app, "licence", "issue", "--by", "admin", "--dealer", "02104200710123", "--number", "L-1",
                 "--from", "2026-01-01", "--to", "2027-12-31", "--quota-g", "500000",
                 "--activity", "domestic_trade", "--activity", "storage")
    assert result.exit_code == 0 and "issued licence L-1 to Osh Metal Trading LLC" in result.output
    for action, status in (("suspend", "suspended"), ("reinstate", "active"), ("revoke", "revoked")):
        result = run(cli_app, "licence", action, "L-1", "--by", "admin", "--reason", f"{action} test")
        assert result.exit_code == 0 and f"licence L-1 is {status}" in result.output
    assert licences(cli_app) == [("L-1", "revoked", ["issued", "suspended", "reinstated", "revoked"])]


@pytest.mark.parametrize("args, message", [
    (["licence", "suspend", "L-404", "--by", "admin", "--reason", "x"], "Error: no licence L-404"),
    (["licence", "suspend", "L-404", "--by", "nobody", "--reason", "x"], "Error: no active account 'nobody'"),
    (["licence", "issue", "--by", "admin", "--dealer", "02104200710123", "--number", "L-2", "--from",
      "2027-01-01", "--to", "2026-01-01", "--quota-g", "0", "--activity", "import"],
     "Error: valid_to: must not be before valid_from; annual_quota_g: whole grams > 0"),
    (["declaration", "approve", "26KGHG00000000011", "--by", "admin"],
     "Error: reference 26KGHG00000000011 has a wrong check character"),
])
def test_cli_refuses_with_one_line_and_exit_status_1(cli_app: Flask, args: list[str], message: str) -> None:
    result = run(cli_app, *args)
    assert result.exit_code == 1 and result.output.strip().splitlines() == [message]
    assert licences(cli_app) == []


def test_cli_expires_licences_for_a_given_day(cli_app: Flask) -> None:
    run(cli_app, "licence", "issue", "--by", "admin", "--dealer", "02104200710123", "--number", "L-3",
        "--from", "2026-01-01", "--to", "2026-03-31", "--quota-g", "1000", "--activity", "use")
    assert "0 licence(s) and 0 approval(s) or consent(s) expired" in run(
        cli_app, "licences", "expire", "--today", "2026-03-31").output
    assert "1 licence(s) and 0 approval(s) or consent(s) expired: L-3" in run(
        cli_app, "licences", "expire", "--today", "2026-04-01").output
    assert licences(cli_app) == [("L-3", "expired", ["issued", "expired"])]


def test_cli_records_an_import_approval_only_with_the_source_statement(cli_app: Flask) -> None:
    args = ["approval", "add", "--by", "admin", "--number", "IMP-1", "--importer", "02104200710123",
            "--exporter-name", "Guizhou Recycling Co.", "--exporter-country", "CN", "--quantity-g", "200000",
            "--intended-use", "dental amalgam", "--source-statement", "recovered from lamps",
            "--valid-until", "2027-06-30"]
    refused = run(cli_app, *args)
    assert refused.exit_code == 1 and "source_not_primary_mining" in refused.output
    accepted = run(cli_app, *args, "--not-primary-mining")
    assert accepted.exit_code == 0 and "recorded import approval IMP-1 for 200000 g" in accepted.output


def test_cli_records_an_export_consent(cli_app: Flask) -> None:
    result = run(cli_app, "approval", "add-export", "--by", "admin", "--number", "EXP-7", "--exporter",
                 "02104200710123", "--importer-name", "Almaty Chemicals LLP", "--importer-country", "KZ",
                 "--quantity-g", "69000", "--intended-use", "laboratory reagents", "--valid-until", "2027-06-30")
    assert result.exit_code == 0 and "recorded export consent EXP-7 for 69000 g" in result.output


def test_cli_approves_and_rejects_declarations(db: Session, app: Flask, make_user, make_declaration) -> None:
    admin = make_user("licensing_admin")
    first = make_declaration(status=DeclarationStatus.SUBMITTED)
    second = make_declaration(status=DeclarationStatus.SUBMITTED)
    db.commit()
    result = run(app, "declaration", "approve", str(first.id), "--by", admin.login)
    assert result.exit_code == 0, result.output
    db.refresh(first)
    assert first.status == DeclarationStatus.APPROVED and f"reference {first.reference}" in result.output
    result = run(app, "declaration", "reject", str(second.id), "--by", admin.login, "--reason", "route unclear")
    assert result.exit_code == 0 and "route unclear" in result.output
    db.refresh(second)
    assert second.status == DeclarationStatus.REJECTED and second.decision_reason == "route unclear"
    assert db.get(Declaration, second.id).reference is None
