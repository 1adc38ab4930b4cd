"""The life of a declaration: edit, submit, approve with a reference, reject, cancel, depart, arrive."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import lifecycle
from tracker.domain.declarations import DraftInput, create_draft, update_draft
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.references import make_reference, validate_reference
from tracker.models import Dealer, DeclarationKind, DeclarationStatus, LicenseStatus

pytestmark = pytest.mark.usefixtures("fast_passwords")

S = DeclarationStatus


@pytest.fixture
def admin(make_user):
    return make_user("licensing_admin")


def submitted(db: Session, make_submittable):
    trader, declaration = make_submittable()
    lifecycle.submit(db, trader, declaration.id)
    return trader, declaration


def draft_input(declaration, **kw) -> DraftInput:
    values = dict(kind="domestic", consignee_id=declaration.consignee_id, origin_code=declaration.origin.code,
                  destination_code=declaration.destination.code,
                  items=[(i.container.sscc, i.declared_net_g) for i in declaration.items],
                  planned_departure=declaration.planned_departure, planned_arrival=declaration.planned_arrival)
    values.update(kw)
    return DraftInput(**values)


def test_approval_assigns_a_reference_with_a_valid_check_character(db: Session, admin, make_submittable) -> None:
    _, first = submitted(db, make_submittable)
    _, second = submitted(db, make_submittable)
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    lifecycle.approve(db, admin, first.id, now=at)
    lifecycle.approve(db, admin, second.id, now=at)
    assert first.status == S.APPROVED and validate_reference(first.reference) == first.reference
    assert first.reference.startswith("26KGHG") and int(second.reference[6:16]) == int(first.reference[6:16]) + 1
    assert first.decided_by == admin and first.decided_at == at


def test_customs_may_approve_a_trader_may_not(db: Session, make_user, make_submittable) -> None:
    trader, declaration = submitted(db, make_submittable)
    with pytest.raises(Forbidden):
        lifecycle.approve(db, trader, declaration.id)
    lifecycle.approve(db, make_user("customs_officer"), declaration.id)
    assert declaration.status == S.APPROVED


def test_approval_rechecks_licences_suspended_since_submission(db: Session, admin, make_submittable) -> None:
    _, declaration = submitted(db, make_submittable)
    declaration.consignee.licenses[0].status = LicenseStatus.SUSPENDED
    db.flush()
    with pytest.raises(ValidationFailed) as caught:
        lifecycle.approve(db, admin, declaration.id)
    assert set(caught.value.errors) == {"consignee"} and declaration.status == S.SUBMITTED
    assert declaration.reference is None


def test_rejection_needs_a_reason_and_keeps_it(db: Session, admin, make_submittable) -> None:
    _, declaration = submitted(db, make_submittable)
    with pytest.raises(ValidationFailed):
        lifecycle.reject(db, admin, declaration.id, " ")
    lifecycle.reject(db, admin, declaration.id, "route crosses a closed pass")
    assert declaration.status == S.REJECTED and declaration.decision_reason == "route crosses a closed pass"
    assert declaration.reference is None


def test_editing_a_rejected_declaration_returns_it_to_draft_and_it_can_be_resubmitted(
        db: Session, admin, make_submittable) -> None:
    trader, declaration = submitted(db, make_submittable)
    lifecycle.reject(db, admin, declaration.id, "vehicle missing")
    update_draft(db, trader, declaration.id, draft_input(declaration, vehicle="09 KG 482 AAH"))
    assert declaration.status == S.DRAFT and declaration.vehicle == "09 KG 482 AAH"
    assert declaration.route is not None  # the uploaded route is kept
    lifecycle.submit(db, trader, declaration.id)
    assert declaration.status == S.SUBMITTED


def test_editing_replaces_items_and_reports_every_bad_field(db: Session, make_submittable, make_container) -> None:
    trader, declaration = make_submittable()
    second = make_container(owner=trader.dealer)
    update_draft(db, trader, declaration.id, draft_input(
        declaration, items=[(declaration.items[0].container.sscc, 30_000), (second.sscc, 34_500)]))
    assert sorted(i.declared_net_g for i in declaration.items) == [30_000, 34_500]
    with pytest.raises(ValidationFailed) as caught:
        update_draft(db, trader, declaration.id, draft_input(declaration, origin_code="NOWHERE", corridor_m=0))
    assert set(caught.value.errors) == {"origin", "corridor_m"} and declaration.corridor_m == 500


def test_a_submitted_declaration_cannot_be_edited(db: Session, make_submittable) -> None:
    trader, declaration = submitted(db, make_submittable)
    with pytest.raises(Conflict, match="only a draft or a rejected declaration can be edited"):
        update_draft(db, trader, declaration.id, draft_input(declaration, vehicle="x"))


def test_another_dealers_declaration_does_not_exist_for_a_trader(db: Session, make_user, make_submittable) -> None:
    _, declaration = make_submittable()
    stranger = make_user("trader")
    with pytest.raises(NotFound):
        update_draft(db, stranger, declaration.id, draft_input(declaration))
    with pytest.raises(NotFound):
        lifecycle.submit(db, stranger, declaration.id)


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED, S.APPROVED])
def test_cancel_is_possible_before_departure(db: Session, make_user, make_declaration, status) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status=status)
    lifecycle.cancel(db, trader, declaration.id, "buyer withdrew")
    assert declaration.status == S.CANCELLED and declaration.decision_reason == "buyer withdrew"


@pytest.mark.parametrize("status", [S.IN_TRANSIT, S.ARRIVED, S.CLOSED, S.CANCELLED])
def test_cancel_after_departure_is_refused_with_a_clear_message(db: Session, make_user, make_declaration,
                                                                status) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status=status)
    with pytest.raises(Conflict, match=f"is {status.value}; it cannot become cancelled"):
        lifecycle.cancel(db, trader, declaration.id)
    assert declaration.status == status


@pytest.mark.parametrize("status, step", [
    (S.DRAFT, "approve"), (S.APPROVED, "approve"), (S.REJECTED, "reject"), (S.DRAFT, "depart"),
    (S.SUBMITTED, "arrive"), (S.CLOSED, "submit")])
def test_illegal_transitions_are_refused(db: Session, admin, make_user, make_declaration, status, step) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status=status)
    with pytest.raises(Conflict, match=f"is {status.value}; it cannot become"):
        {"approve": lambda: lifecycle.approve(db, admin, declaration.id),
         "reject": lambda: lifecycle.reject(db, admin, declaration.id, "no"),
         "submit": lambda: lifecycle.submit(db, trader, declaration.id),
         "depart": lambda: lifecycle.depart(declaration),
         "arrive": lambda: lifecycle.arrive(declaration)}[step]()
    assert declaration.status == status


def test_departure_and_arrival_move_an_approved_declaration(db: Session, make_declaration) -> None:
    declaration = make_declaration(status=S.APPROVED)
    lifecycle.depart(declaration)
    lifecycle.arrive(declaration)
    assert declaration.status == S.ARRIVED and declaration.arrived_at >= declaration.departed_at


def test_an_import_names_its_foreign_exporter_by_name_and_country(db: Session, make_user,
                                                                   make_checkpoint, make_container) -> None:
    trader = make_user("trader")
    flask_ = make_container(owner=trader.dealer)
    origin, destination = make_checkpoint(), make_checkpoint(lat=42.875, lon=74.590)
    data = DraftInput(kind="import", consignee_id=None, origin_code=origin.code,
                      destination_code=destination.code, items=[(flask_.sscc, 34_500)],
                      consignor_foreign=("Guizhou  Recycling Co.", "CN"))
    first = create_draft(db, trader, data)
    second = create_draft(db, trader, DraftInput(**{**data.__dict__, "items": [],
                                                    "consignor_foreign": ("guizhou recycling co.", "CN")}))
    assert first.kind == DeclarationKind.IMPORT and first.consignee_id == trader.dealer_id
    assert first.consignor.country == "CN" and first.consignor.legal_name == "Guizhou Recycling Co."
    assert second.consignor_id == first.consignor_id  # the same party, recorded once


def test_a_refused_draft_records_no_foreign_party(db: Session, make_user) -> None:
    trader = make_user("trader")
    before = db.scalars(select(Dealer)).all()
    with pytest.raises(ValidationFailed) as caught:
        create_draft(db, trader, DraftInput(kind="import", consignee_id=None, origin_code="NOWHERE",
                                            destination_code="NOWHERE", consignor_foreign=("Acme", "CN")))
    assert set(caught.value.errors) == {"origin", "destination"}
    assert db.scalars(select(Dealer)).all() == before


def test_the_licensing_admin_may_cancel_customs_may_not(db: Session, admin, make_user, make_declaration) -> None:
    declaration = make_declaration(status=S.SUBMITTED)
    with pytest.raises(Forbidden):
        lifecycle.cancel(db, make_user("customs_officer"), declaration.id)
    lifecycle.cancel(db, admin, declaration.id, "licence application withdrawn")
    assert declaration.status == S.CANCELLED


def test_approval_retries_when_a_simultaneous_approval_took_the_reference(
        db: Session, admin, make_submittable, make_declaration, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = make_declaration(status=S.APPROVED, reference=make_reference(2026, 41))
    _, declaration = submitted(db, make_submittable)
    answers = iter([taken.reference, make_reference(2026, 42)])
    monkeypatch.setattr(lifecycle, "next_reference", lambda session, year: next(answers))
    lifecycle.approve(db, admin, declaration.id)
    assert declaration.status == S.APPROVED and declaration.reference == make_reference(2026, 42)
