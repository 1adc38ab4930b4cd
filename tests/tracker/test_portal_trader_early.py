"""The trader learns early (issue 14, point 5): step 1 shows a licence or approval that does not hold,
the review links each failure to a step that can correct it (or says why none can), and step 2 checks
each container's capacity in kilograms."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tracker.domain import licensing
from tracker.domain.drafting import place_failures
from tracker.domain.submission import failures
from tracker.models import (
    Activity,
    Dealer,
    DeclarationKind,
    DeclarationStatus,
    ImportApproval,
    Role,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def admin(make_user: Any) -> Any:
    return make_user(Role.LICENSING_ADMIN)


def paragraph(page: str, element_id: str) -> str:
    """Return the text of the element ``element_id`` with its links kept as ``[text](href)``."""
    match = re.search(rf'<(\w+)[^>]*id="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    if match is None:
        return ""
    linked = re.sub(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', r"[\2](\1)", match.group(2))
    return " ".join(re.sub(r"<[^>]+>", " ", linked).split())


# ---------------------------------------------------------------- step 1
def test_step_one_shows_the_traders_own_suspended_licence_with_date_who_and_why(
        client: FlaskClient, auth: Any, db: Session, admin: Any, make_user: Any, make_licensed_dealer: Any) -> None:
    trader = make_user(Role.TRADER, dealer=make_licensed_dealer())
    licence = licensing.suspend_licence(db, admin, trader.dealer.licenses[0].id, "stock not reconciled")
    auth.sign_in_as(trader)
    shown = paragraph(client.get("/declarations/new").get_data(as_text=True), "own-licence-lapse")
    assert f"Licence {licence.number} of {trader.dealer.legal_name} is suspended since" in shown
    assert f"(by {admin.login}). Reason: stock not reconciled." in shown
    assert "contact the licensing authority" in shown


def test_step_one_shows_a_licence_past_its_last_day_as_expired_before_the_daily_command_runs(
        client: FlaskClient, auth: Any, db: Session, make_user: Any, make_licensed_dealer: Any) -> None:
    trader = make_user(Role.TRADER, dealer=make_licensed_dealer())
    licence = trader.dealer.licenses[0]
    licence.valid_from, licence.valid_to = date.today() - timedelta(days=60), date.today() - timedelta(days=1)
    db.flush()
    auth.sign_in_as(trader)
    shown = paragraph(client.get("/declarations/new").get_data(as_text=True), "own-licence-lapse")
    assert f"Licence {licence.number} of {trader.dealer.legal_name} is expired since" in shown
    assert f"validity ended {licence.valid_to.isoformat()}" in shown


def test_step_one_with_a_licence_in_force_shows_no_warning(client: FlaskClient, auth: Any, make_submittable: Any) -> None:
    trader, _draft = make_submittable()
    auth.sign_in_as(trader)
    page = client.get("/declarations/new").get_data(as_text=True)
    assert 'id="own-licence-lapse"' not in page and "since" not in page


def test_step_one_marks_a_suspended_consignee_and_explains_it_once_chosen(
        client: FlaskClient, auth: Any, db: Session, admin: Any, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    licensing.suspend_licence(db, admin, draft.consignee.licenses[0].id, "unpaid fee")
    auth.sign_in_as(trader)
    page = client.get("/declarations/new").get_data(as_text=True)
    option = re.search(rf'<option value="{draft.consignee_id}"[^>]*>([^<]*)</option>', page).group(1)
    assert "licence suspended since" in option
    page = client.get(f"/declarations/{draft.id}/edit?step=parties").get_data(as_text=True)
    shown = paragraph(page, "consignee-lapse")
    assert "is suspended since" in shown and "Reason: unpaid fee." in shown
    assert "Choose a consignee whose licence is in force." in shown


@pytest.fixture
def importer(make_licensed_dealer: Any, make_user: Any) -> Any:
    return make_user(Role.TRADER, dealer=make_licensed_dealer({Activity.IMPORT}))


@pytest.fixture
def exporter(db: Session) -> Dealer:
    dealer = Dealer(legal_name="Guizhou Recycling Co.", taxpayer_number="CN-91520001", country="CN")
    db.add(dealer)
    db.flush()
    return dealer


def approval(db: Session, importer: Dealer, exporter: Dealer, number: str, **kw: Any) -> ImportApproval:
    kw.setdefault("valid_until", date.today() + timedelta(days=300))
    kw.setdefault("quantity_g", 500_000)
    record = ImportApproval(number=number, importer=importer, exporter_name=exporter.legal_name,
                            exporter_country=exporter.country, intended_use="dental amalgam",
                            source_not_primary_mining=True, source_statement="recovered from lamps", **kw)
    db.add(record)
    db.flush()
    return record


def test_step_one_marks_an_expired_and_a_used_up_approval_and_explains_the_chosen_one(
        client: FlaskClient, auth: Any, db: Session, importer: Any, exporter: Dealer, make_declaration: Any) -> None:
    lapsed = approval(db, importer.dealer, exporter, "IMP-OLD", valid_until=date.today() - timedelta(days=2))
    used = approval(db, importer.dealer, exporter, "IMP-USED", quantity_g=34_500)
    good = approval(db, importer.dealer, exporter, "IMP-GOOD")
    make_declaration(declarant=importer.dealer, consignor=exporter, consignee=importer.dealer,
                     kind=DeclarationKind.IMPORT, import_approval=used, status=DeclarationStatus.SUBMITTED)
    draft = make_declaration(declarant=importer.dealer, consignor=exporter, consignee=importer.dealer,
                             kind=DeclarationKind.IMPORT, import_approval=lapsed)
    auth.sign_in_as(importer)
    page = client.get("/declarations/new").get_data(as_text=True)
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', page))
    assert "expired on" in options[str(lapsed.id)]
    assert options[str(used.id)].endswith("— exhausted")
    assert "expired" not in options[str(good.id)] and "exhausted" not in options[str(good.id)]
    page = client.get(f"/declarations/{draft.id}/edit?step=parties").get_data(as_text=True)
    assert "IMP-OLD expired on" in paragraph(page, "import_approval_id-lapse")


# ---------------------------------------------------------------- the review
def review_of(client: FlaskClient, draft: Any) -> str:
    return client.get(f"/declarations/{draft.id}/edit?step=review").get_data(as_text=True)


def test_the_review_offers_no_correct_it_link_for_the_traders_own_suspended_licence(
        client: FlaskClient, auth: Any, db: Session, admin: Any, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    licensing.suspend_licence(db, admin, trader.dealer.licenses[0].id, "unpaid fee")
    auth.sign_in_as(trader)
    shown = paragraph(review_of(client, draft), "consignor-error")
    assert "holds no active licence" in shown
    assert "Correct it" not in shown and "contact the licensing authority" in shown and "is suspended" in shown


def test_the_review_links_a_suspended_consignee_to_the_parties_step(
        client: FlaskClient, auth: Any, db: Session, admin: Any, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    licensing.suspend_licence(db, admin, draft.consignee.licenses[0].id, "unpaid fee")
    auth.sign_in_as(trader)
    shown = paragraph(review_of(client, draft), "consignee-error")
    assert f"[Correct it](/declarations/{draft.id}/edit?step=parties)" in shown


def test_the_review_links_a_window_beyond_the_licence_to_the_route_step(
        client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    trader.dealer.licenses[0].valid_to = (draft.planned_departure - timedelta(hours=1)).date()
    db.flush()
    auth.sign_in_as(trader)
    shown = paragraph(review_of(client, draft), "consignor-error")
    assert f"[Correct it](/declarations/{draft.id}/edit?step=route)" in shown


def test_every_failure_the_review_links_goes_to_a_step_whose_form_has_that_field(
        db: Session, admin: Any, make_submittable: Any, make_container: Any) -> None:
    """Each rule's failure maps to the step that holds its field, or to no step with a reason."""
    trader, draft = make_submittable(planned_departure=utcnow() - timedelta(days=1))
    draft.items[0].container = make_container()                 # someone else's flask: step 2
    licensing.suspend_licence(db, admin, trader.dealer.licenses[0].id, "unpaid fee")
    found = failures(db, draft, utcnow())
    placed = place_failures(db, draft, found, date.today())
    steps = {row: [(f.step, bool(f.why)) for f in shown] for row, shown in placed.beside.items()}
    assert steps["planned_departure"] == [("route", False)]
    assert steps["consignor"] == [(None, True)]
    assert [(f.step, bool(f.why)) for f in placed.by_sscc[draft.items[0].container.sscc]] == [("containers", False)]
    assert placed.unplaced == []


# ---------------------------------------------------------------- step 2
def test_step_two_refuses_a_mass_beyond_the_containers_capacity_in_kilograms(
        client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    sscc = draft.items[0].container.sscc
    auth.sign_in_as(trader)
    step = f"/declarations/{draft.id}/edit?step=containers"
    assert "34.500 kg" in paragraph(client.get(step).get_data(as_text=True), f"capacity-{sscc}")
    response = auth.post_form(step, {"sscc": sscc, f"mass-{sscc}": "34.6"})
    assert response.status_code == 400
    assert paragraph(response.get_data(as_text=True), f"mass-{sscc}-error") == (
        f"34.600 kg is more than the capacity of container {sscc} (34.500 kg)")
    db.refresh(draft)
    assert draft.items[0].declared_net_g == 34_500


def test_the_capacity_check_speaks_russian(client: FlaskClient, auth: Any, db: Session, make_submittable: Any) -> None:
    trader, draft = make_submittable()
    trader.language = "ru"
    db.flush()
    sscc = draft.items[0].container.sscc
    auth.sign_in_as(trader)
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=containers", {"sscc": sscc, f"mass-{sscc}": "34,6"})
    shown = paragraph(response.get_data(as_text=True), f"mass-{sscc}-error")
    assert "34,600 кг" in shown and "34,500 кг" in shown and "holds" not in shown


def test_the_api_refuses_a_draft_mass_beyond_capacity(client: FlaskClient, make_submittable: Any) -> None:
    from tests.conftest import PASSWORD

    trader, draft = make_submittable()
    client.post("/api/v1/session", json={"login": trader.login, "password": PASSWORD})
    sscc = draft.items[0].container.sscc
    response = client.patch(f"/api/v1/declarations/{draft.id}",
                            json={"items": [{"sscc": sscc, "declared_net_g": 34_501}]})
    assert response.status_code == 422
    assert response.json["fields"]["items[0].declared_net_g"] == (
        f"34.501 kg is more than the capacity of container {sscc} (34.500 kg)")


def test_step_one_says_why_the_chosen_approval_was_revoked(
        client: FlaskClient, auth: Any, db: Session, admin: Any, importer: Any, exporter: Dealer,
        make_declaration: Any) -> None:
    from tracker.domain.approvals import revoke_consent

    revoked = approval(db, importer.dealer, exporter, "IMP-REVOKED")
    draft = make_declaration(declarant=importer.dealer, consignor=exporter, consignee=importer.dealer,
                             kind=DeclarationKind.IMPORT, import_approval=revoked)
    revoke_consent(db, admin, ImportApproval, revoked.id, "statement of source was false")
    auth.sign_in_as(importer)
    page = client.get(f"/declarations/{draft.id}/edit?step=parties").get_data(as_text=True)
    assert paragraph(page, "import_approval_id-lapse") == (
        "IMP-REVOKED was revoked. Reason: statement of source was false. "
        "Ask the licensing authority for a new one.")
