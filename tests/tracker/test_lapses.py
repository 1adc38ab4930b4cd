"""A licence, approval or consent that stops holding reaches every open declaration it covers, once,
and the officers at the checkpoints still ahead see it (issue 14, point 4)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain import approvals, lapses, licensing
from tracker.domain.errors import Conflict
from tracker.domain.lifecycle import cancel, submit
from tracker.models import (
    Activity,
    Alert,
    ApprovalStatus,
    Dealer,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    ExportConsent,
    ImportApproval,
    LicenseStatus,
    Role,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
S = DeclarationStatus


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.LICENSING_ADMIN)


def kinds_on(db: Session, declaration) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(db.scalars(select(Alert.kind).where(Alert.declaration_id == declaration.id)))


@pytest.fixture
def dealer_with_everything(make_dealer, make_declaration):  # type: ignore[no-untyped-def]
    """A dealer and one declaration naming it per role and status: the open ones and the rest."""
    dealer = make_dealer()
    open_ones = [make_declaration(declarant=dealer, status=S.SUBMITTED),
                 make_declaration(declarant=dealer, status=S.APPROVED),
                 make_declaration(declarant=dealer, status=S.IN_TRANSIT),
                 make_declaration(consignee=dealer, status=S.APPROVED),
                 make_declaration(consignor=dealer, status=S.IN_TRANSIT)]
    closed_ones = [make_declaration(declarant=dealer, status=status)
                   for status in (S.DRAFT, S.ARRIVED, S.CLOSED, S.CANCELLED, S.REJECTED)]
    return dealer, open_ones, closed_ones


@pytest.mark.parametrize("change, kind", [
    (licensing.suspend_licence, "licence_suspended"), (licensing.revoke_licence, "licence_revoked")])
def test_suspending_or_revoking_alerts_every_open_declaration_of_the_dealer_in_any_role(
        db: Session, admin, dealer_with_everything, change, kind) -> None:
    dealer, open_ones, closed_ones = dealer_with_everything
    change(db, admin, dealer.licenses[0].id, "inspection found a leak")
    for declaration in open_ones:
        assert kinds_on(db, declaration) == [kind], declaration.status
    for declaration in closed_ones:
        assert kinds_on(db, declaration) == [], declaration.status
    alert = db.scalars(select(Alert).where(Alert.declaration_id == open_ones[0].id)).one()
    assert alert.details["licence"] == dealer.licenses[0].number
    assert alert.details["reason"] == "inspection found a leak" and alert.details["by"] == admin.login
    assert alert.details["since"].startswith(utcnow().date().isoformat())


def test_the_same_cause_alerts_a_declaration_once_and_a_new_cause_again(
        db: Session, admin, make_dealer, make_declaration) -> None:
    dealer = make_dealer()
    moving = make_declaration(declarant=dealer, status=S.IN_TRANSIT)
    licence = licensing.suspend_licence(db, admin, dealer.licenses[0].id, "unpaid fee")
    assert lapses.licence_lapsed(db, licence, "unpaid fee") == []           # checked again: nothing new
    licensing.reinstate_licence(db, admin, licence.id, "paid")
    licensing.suspend_licence(db, admin, licence.id, "unpaid fee again")     # the first alert is still open
    assert kinds_on(db, moving) == ["licence_suspended"]
    licensing.revoke_licence(db, admin, licence.id, "fraud")                # another cause
    assert kinds_on(db, moving) == ["licence_revoked", "licence_suspended"]


def test_a_closed_alert_does_not_hide_a_new_suspension(db: Session, admin, make_dealer, make_declaration) -> None:
    from tracker.domain.alerts import close_alert

    dealer = make_dealer()
    moving = make_declaration(declarant=dealer, status=S.IN_TRANSIT)
    licence = licensing.suspend_licence(db, admin, dealer.licenses[0].id, "unpaid fee")
    close_alert(db, db.scalars(select(Alert)).one(), admin, "fee paid, licence reinstated")
    licensing.reinstate_licence(db, admin, licence.id, "paid")
    licensing.suspend_licence(db, admin, licence.id, "unpaid fee again")
    assert kinds_on(db, moving) == ["licence_suspended", "licence_suspended"]


def test_expiry_by_date_marks_licences_and_consents_and_alerts_once(
        db: Session, make_dealer, make_declaration) -> None:
    dealer = make_dealer()
    licence = dealer.licenses[0]
    waiting = make_declaration(declarant=make_dealer(licensed=False), consignee=dealer, status=S.SUBMITTED)
    day_after = licence.valid_to + timedelta(days=1)
    assert lapses.lapse_due(db, licence.valid_to) == ([], [])            # its last day: still valid
    expired, _consents = lapses.lapse_due(db, day_after)
    assert licence in expired and licence.status == LicenseStatus.EXPIRED
    assert lapses.lapse_due(db, day_after) == ([], [])                    # a second run changes nothing
    assert kinds_on(db, waiting) == ["licence_expired"]


# ---------------------------------------------------------------- approvals and consents
@pytest.fixture
def exporter(db: Session) -> Dealer:
    dealer = Dealer(legal_name="Guizhou Recycling Co.", taxpayer_number="CN-91520000", country="CN")
    db.add(dealer)
    db.flush()
    return dealer


@pytest.fixture
def importer(make_licensed_dealer, make_user):  # type: ignore[no-untyped-def]
    return make_user("trader", dealer=make_licensed_dealer({Activity.IMPORT}))


def approval_for(db: Session, importer: Dealer, exporter: Dealer, quantity_g: int, **kw) -> ImportApproval:
    kw.setdefault("valid_until", date.today() + timedelta(days=300))
    approval = ImportApproval(
        number=f"IMP-L-{importer.id}-{quantity_g}", importer=importer, exporter_name=exporter.legal_name,
        exporter_country=exporter.country, quantity_g=quantity_g, intended_use="dental amalgam",
        source_not_primary_mining=True, source_statement="recovered from lamps", **kw)
    db.add(approval)
    db.flush()
    return approval


def import_of(make_declaration, importer, exporter, approval, **kw):  # type: ignore[no-untyped-def]
    return make_declaration(declarant=importer.dealer, consignor=exporter, consignee=importer.dealer,
                            kind=DeclarationKind.IMPORT, import_approval=approval, **kw)


def test_an_approval_used_up_by_a_submission_is_exhausted_and_given_back_by_a_cancellation(
        db: Session, importer, exporter, make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 69_000)
    first = import_of(make_declaration, importer, exporter, approval)
    second = import_of(make_declaration, importer, exporter, approval)
    submit(db, importer, first.id)
    assert approval.status == ApprovalStatus.ACTIVE and kinds_on(db, first) == []     # 34.5 kg left
    submit(db, importer, second.id)
    assert approval.status == ApprovalStatus.EXHAUSTED and approvals.remaining_g(db, approval) == 0
    assert kinds_on(db, first) == ["approval_exhausted"] and kinds_on(db, second) == ["approval_exhausted"]
    alert = db.scalars(select(Alert).where(Alert.declaration_id == first.id)).one()
    assert alert.details["approval"] == approval.number
    cancel(db, importer, second.id)
    assert approval.status == ApprovalStatus.ACTIVE                                       # 34.5 kg free again


def test_a_lapsed_approval_or_consent_alerts_the_declarations_drawing_on_it(
        db: Session, importer, exporter, make_declaration, make_licensed_dealer) -> None:
    approval = approval_for(db, importer.dealer, exporter, 500_000, valid_until=date.today() + timedelta(days=3))
    moving = import_of(make_declaration, importer, exporter, approval, status=S.IN_TRANSIT)
    other_import = import_of(make_declaration, importer, exporter,
                             approval_for(db, importer.dealer, exporter, 400_000), status=S.IN_TRANSIT)
    seller = make_licensed_dealer({Activity.EXPORT})
    consent = ExportConsent(number="EXP-L-1", exporter=seller, importer_name="Almaty Dental", importer_country="KZ",
                            quantity_g=90_000, intended_use="dental", valid_until=date.today() + timedelta(days=3))
    db.add(consent)
    export = make_declaration(declarant=seller, kind=DeclarationKind.EXPORT, export_consent=consent,
                              status=S.APPROVED)
    _licences, lapsed = lapses.lapse_due(db, date.today() + timedelta(days=4))
    assert set(lapsed) == {approval, consent}
    assert kinds_on(db, moving) == ["approval_expired"] and kinds_on(db, export) == ["approval_expired"]
    assert kinds_on(db, other_import) == []
    assert db.scalars(select(Alert).where(Alert.declaration_id == export.id)).one().details["consent"] == "EXP-L-1"


# ---------------------------------------------------------------- through the portal, the API and the command
def sign_in_api(client: FlaskClient, user) -> None:  # type: ignore[no-untyped-def]
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def test_revoking_over_the_api_alerts_the_open_declarations(db: Session, client: FlaskClient, admin,
                                                           make_dealer, make_declaration) -> None:
    dealer = make_dealer()
    waiting = make_declaration(consignee=dealer, status=S.APPROVED)
    sign_in_api(client, admin)
    response = client.post(f"/api/v1/licences/{dealer.licenses[0].id}/revoke", json={"reason": "fraud"})
    assert response.status_code == 200
    assert kinds_on(db, waiting) == ["licence_revoked"]


def test_suspending_in_the_portal_alerts_the_open_declarations(db: Session, auth, admin, make_dealer,
                                                              make_declaration) -> None:
    dealer = make_dealer()
    waiting = make_declaration(declarant=dealer, status=S.SUBMITTED)
    auth.sign_in_as(admin)
    url = f"/licences/{dealer.licenses[0].id}"
    assert auth.post_form(f"{url}/suspend", {"reason": "inspection"}, form_page=url).status_code == 302
    assert kinds_on(db, waiting) == ["licence_suspended"]


def test_submitting_in_the_portal_exhausts_the_approval(db: Session, auth, importer, exporter,
                                                        make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 34_500)
    declaration = import_of(make_declaration, importer, exporter, approval)
    auth.sign_in_as(importer)
    url = f"/declarations/{declaration.id}"
    response = auth.post_form(f"{url}/submit", {}, form_page=f"{url}/edit?step=review")
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    assert approval.status == ApprovalStatus.EXHAUSTED and kinds_on(db, declaration) == ["approval_exhausted"]


def test_the_daily_command_expires_licences_and_approvals_and_alerts(
        db: Session, app: Flask, make_dealer, make_declaration, importer, exporter) -> None:
    dealer = make_dealer()
    moving = make_declaration(declarant=dealer, consignee=make_dealer(licensed=False), status=S.IN_TRANSIT)
    day = dealer.licenses[0].valid_to + timedelta(days=1)
    approval = approval_for(db, importer.dealer, exporter, 500_000, valid_until=day - timedelta(days=1))
    inbound = import_of(make_declaration, importer, exporter, approval, status=S.APPROVED)
    db.commit()
    result = app.test_cli_runner().invoke(args=["licences", "expire", "--today", day.isoformat()])
    assert result.exit_code == 0 and dealer.licenses[0].number in result.output, result.output
    assert approval.number in result.output
    assert kinds_on(db, moving) == ["licence_expired"]
    assert "approval_expired" in kinds_on(db, inbound)


# ---------------------------------------------------------------- who sees it
@pytest.fixture
def route(make_checkpoint):  # type: ignore[no-untyped-def]
    """Origin Osh, a checkpoint at Toktogul, destination Bishkek, and a post elsewhere (Naryn)."""
    return {"origin": make_checkpoint(lat=40.528, lon=72.799), "toktogul": make_checkpoint(lat=41.873, lon=72.941),
            "destination": make_checkpoint(lat=42.875, lon=74.590), "naryn": make_checkpoint(lat=41.429, lon=75.991)}


def test_places_ahead_are_the_whole_route_before_departure_and_those_not_yet_passed_after(
        route, make_declaration) -> None:
    ids = {name: checkpoint.id for name, checkpoint in route.items()}
    declaration = make_declaration(origin=route["origin"], destination=route["destination"], status=S.APPROVED)
    declaration.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=route["toktogul"])]
    assert lapses.places_ahead(declaration, set()) == [ids["origin"], ids["toktogul"], ids["destination"]]
    declaration.status = S.IN_TRANSIT
    assert lapses.places_ahead(declaration, {ids["origin"]}) == [ids["toktogul"], ids["destination"]]
    assert lapses.places_ahead(declaration, {ids["toktogul"]}) == [ids["destination"]]
    assert lapses.places_ahead(declaration, {ids["destination"]}) == []


def test_an_officer_at_a_checkpoint_ahead_sees_the_lapse_and_an_officer_elsewhere_does_not(
        db: Session, client: FlaskClient, auth, admin, route, make_dealer, make_declaration, make_user) -> None:
    dealer = make_dealer()
    moving = make_declaration(declarant=dealer, origin=route["origin"], destination=route["destination"],
                              status=S.IN_TRANSIT)
    moving.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=route["toktogul"])]
    licensing.suspend_licence(db, admin, dealer.licenses[0].id, "unrecorded stock found")
    db.commit()
    for post, sees in (("toktogul", True), ("destination", True), ("origin", False), ("naryn", False)):
        auth.sign_in_as(make_user(Role.CUSTOMS_OFFICER, checkpoints=[route[post]]))
        page = client.get("/checkpoint").get_data(as_text=True)
        assert ('id="lapses-ahead"' in page and moving.label in page and "unrecorded stock found" in page) == sees, post
        auth.logout()
    auth.sign_in_as(make_user(Role.AUDITOR))
    page = client.get("/alerts?kind=licence_suspended").get_data(as_text=True)
    assert moving.label in page


def test_the_officer_page_expires_a_licence_lazily_and_shows_the_alert(
        db: Session, client: FlaskClient, auth, route, make_dealer, make_declaration, make_user) -> None:
    dealer = make_dealer()
    licence = dealer.licenses[0]
    licence.valid_from, licence.valid_to = date.today() - timedelta(days=30), date.today() - timedelta(days=1)
    moving = make_declaration(declarant=dealer, origin=route["origin"], destination=route["destination"],
                              status=S.IN_TRANSIT)
    db.commit()
    auth.sign_in_as(make_user(Role.CUSTOMS_OFFICER, checkpoints=[route["destination"]]))
    page = client.get("/checkpoint").get_data(as_text=True)
    db.expire_all()
    assert licence.status == LicenseStatus.EXPIRED and kinds_on(db, moving) == ["licence_expired"]
    assert 'id="lapses-ahead"' in page and "licence expired" in page
    client.get("/checkpoint")
    assert kinds_on(db, moving) == ["licence_expired"]


def test_the_officers_list_of_lapses_ahead_speaks_russian(
        db: Session, client: FlaskClient, auth, admin, route, make_dealer, make_declaration, make_user) -> None:
    dealer = make_dealer()
    make_declaration(declarant=dealer, origin=route["origin"], destination=route["destination"], status=S.APPROVED)
    licensing.suspend_licence(db, admin, dealer.licenses[0].id, "склад не сверен")
    officer = make_user(Role.CUSTOMS_OFFICER, checkpoints=[route["destination"]])
    officer.language = "ru"
    db.commit()
    auth.sign_in_as(officer)
    page = client.get("/checkpoint").get_data(as_text=True)
    assert "Следуют сюда, хотя лицензия или разрешение больше не действуют" in page
    assert "действие лицензии приостановлено" in page and "склад не сверен" in page
    assert "Heading here" not in page and "licence suspended" not in page


def test_revoking_an_approval_alerts_the_declarations_drawing_on_it(
        db: Session, admin, importer, exporter, make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 500_000)
    moving = import_of(make_declaration, importer, exporter, approval, status=S.IN_TRANSIT)
    approvals.revoke_consent(db, admin, ImportApproval, approval.id, "exporter's statement was false")
    assert approval.status == ApprovalStatus.REVOKED and approval.status_reason == "exporter's statement was false"
    alert = db.scalars(select(Alert).where(Alert.declaration_id == moving.id)).one()
    assert alert.kind == "approval_revoked" and alert.details["reason"] == "exporter's statement was false"
    with pytest.raises(Conflict):
        approvals.revoke_consent(db, admin, ImportApproval, approval.id, "again")


def test_revoking_in_the_portal_needs_the_authority_and_a_reason(
        db: Session, client: FlaskClient, auth, admin, make_user, importer, exporter, make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 500_000)
    waiting = import_of(make_declaration, importer, exporter, approval, status=S.APPROVED)
    url = f"/approvals/import/{approval.id}/revoke"
    auth.sign_in_as(make_user(Role.TRADER))
    assert auth.post_form(url, {"reason": "x"}, form_page="/declarations").status_code == 403
    auth.logout()
    auth.sign_in_as(admin)
    refused = auth.post_form(url, {"reason": "  "}, form_page="/approvals")
    assert refused.status_code == 400 and f'id="revoke-import-{approval.id}-error"' in refused.get_data(as_text=True)
    assert kinds_on(db, waiting) == []
    assert auth.post_form(url, {"reason": "false statement of source"}, form_page="/approvals").status_code == 302
    assert kinds_on(db, waiting) == ["approval_revoked"]
    assert auth.post_form(url, {"reason": "again"}, form_page="/approvals").status_code == 409
    assert auth.post_form(f"/approvals/other/{approval.id}/revoke", {"reason": "x"},
                          form_page="/approvals").status_code == 404
