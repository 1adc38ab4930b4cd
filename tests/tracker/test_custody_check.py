"""The one custody check, rule by rule, through the domain function and through recording an event."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.custody import record_custody_event
from tracker.domain.custody_check import (
    CustodyRefused,
    Overrides,
    ProposedEvent,
    Verdict,
    check_custody,
    read_overrides,
)
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.licensing import revoke_licence, suspend_licence
from tracker.domain.loading import loading
from tracker.models import (
    Activity,
    Alert,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    ExpectedCheckpoint,
    License,
    User,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def trip(db: Session, make_declaration, make_checkpoint, make_container) -> Declaration:
    """An approved declaration of two flasks Osh → Toktogul → Bishkek, planned from an hour ago."""
    declaration = make_declaration(status=DeclarationStatus.APPROVED, planned_departure=NOW - timedelta(hours=1),
                                   planned_arrival=NOW + timedelta(days=1))
    declaration.items.append(DeclarationItem(container=make_container(owner=declaration.declarant),
                                             declared_net_g=34_500))
    declaration.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=make_checkpoint(lat=41.873, lon=72.941))]
    db.flush()
    return declaration


@pytest.fixture
def officer(trip: Declaration, make_user) -> User:
    """A customs officer posted at every place of the trip's route."""
    return make_user("customs_officer", name="Aibek Osmonov",
                     checkpoints=[place.checkpoint for place in trip.route_places])


def place(trip: Declaration, where: str) -> Any:
    return {"origin": trip.origin, "checkpoint": trip.expected_checkpoints[0].checkpoint,
            "destination": trip.destination}[where]


def answer(db: Session, trip: Declaration, recorder: Any, kind: CustodyKind, where: Any, at: datetime = NOW,
           overrides: Overrides = Overrides(), tolerance: timedelta = timedelta(hours=2)) -> Any:
    checkpoint = place(trip, where) if isinstance(where, str) else where
    return check_custody(db, ProposedEvent(recorder, kind, checkpoint, trip.items[0].container, trip, at,
                                           overrides, tolerance))


def body(trip: Declaration, where: str, kind: str, at: datetime = NOW, item: int = 0, **extra: Any) -> dict[str, Any]:
    return {"client_event_id": str(uuid.uuid4()), "sscc": trip.items[item].container.sscc,
            "checkpoint": place(trip, where).code, "kind": kind, "seal_intact": True,
            "event_time": at.isoformat(), **extra}


# ---------------------------------------------------------------- status and place
@pytest.mark.parametrize("status,kind,where,verdict,alert", [
    ("approved", "departure", "origin", Verdict.ALLOWED, None),
    ("approved", "departure", "destination", Verdict.REFUSED, None),
    ("approved", "departure", "checkpoint", Verdict.REFUSED, None),
    ("in_transit", "departure", "origin", Verdict.REFUSED, None),
    ("in_transit", "arrival", "destination", Verdict.ALLOWED, None),
    ("arrived", "arrival", "destination", Verdict.ALLOWED, None),
    ("in_transit", "arrival", "checkpoint", Verdict.REFUSED, None),
    ("approved", "arrival", "destination", Verdict.ALLOWED_WITH_ALERT, AlertKind.CUSTODY_OUT_OF_ORDER),
    ("in_transit", "inspection", "checkpoint", Verdict.ALLOWED, None),
    ("in_transit", "handover", "destination", Verdict.ALLOWED, None),
])
def test_the_status_allows_each_kind_of_event_only_at_its_place(
        db: Session, trip: Declaration, officer: User, status: str, kind: str, where: str,
        verdict: Verdict, alert: AlertKind | None) -> None:
    trip.status = DeclarationStatus(status)
    found = answer(db, trip, officer, CustodyKind(kind), where)
    assert found.verdict == verdict
    assert [f.alert for f in found.alerts] == ([alert] if alert else [])
    assert len(found.reasons) == (0 if verdict == Verdict.ALLOWED else 1)


def test_an_inspection_off_the_route_is_kept_with_an_alert_naming_the_post(
        db: Session, trip: Declaration, make_checkpoint, make_user) -> None:
    naryn = make_checkpoint(name="Naryn", lat=41.429, lon=75.991)
    found = answer(db, trip, make_user("customs_officer", checkpoints=[naryn]), CustodyKind.INSPECTION, naryn)
    assert found.verdict == Verdict.ALLOWED_WITH_ALERT
    assert found.alerts[0].alert == AlertKind.CUSTODY_UNEXPECTED_CHECKPOINT
    assert found.reasons == [f"Naryn is not on the route of {trip.reference}"]


# ---------------------------------------------------------------- the officer's post
def test_an_officer_not_posted_here_is_refused_and_nothing_is_stored(
        db: Session, trip: Declaration, make_user) -> None:
    elsewhere = make_user("customs_officer")
    found = answer(db, trip, elsewhere, CustodyKind.DEPARTURE, "origin")
    assert found.verdict == Verdict.REFUSED and found.refusals[0].forbidden
    with pytest.raises(Forbidden, match=f"not posted at {trip.origin.name}"):
        record_custody_event(db, elsewhere, body(trip, "origin", "departure"))
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


# ---------------------------------------------------------------- licences and approvals
@pytest.mark.parametrize("change,status", [(suspend_licence, "suspended"), (revoke_licence, "revoked")])
def test_a_licence_that_stopped_holding_refuses_a_departure_and_names_it(
        db: Session, trip: Declaration, officer: User, make_user, change: Any, status: str) -> None:
    admin = make_user("licensing_admin", login=f"licensing.{status}")
    licence = db.scalars(select(License).where(License.dealer_id == trip.consignor_id)).one()
    change(db, admin, licence.id, "annual report not filed")
    found = answer(db, trip, officer, CustodyKind.DEPARTURE, "origin")
    assert found.verdict == Verdict.REFUSED
    (reason,) = found.reasons
    assert reason.startswith(f"licence {licence.number} of {trip.consignor.legal_name} is {status} since ")
    assert reason.endswith(f" by licensing.{status}: annual report not filed")
    with pytest.raises(CustodyRefused):
        record_custody_event(db, officer, body(trip, "origin", "departure"))
    assert trip.status == DeclarationStatus.APPROVED


@pytest.mark.parametrize("kind,where", [("arrival", "destination"), ("inspection", "checkpoint")])
def test_at_arrival_or_inspection_a_suspended_licence_keeps_the_event_with_a_critical_alert(
        db: Session, trip: Declaration, officer: User, make_user, kind: str, where: str) -> None:
    trip.status = DeclarationStatus.IN_TRANSIT
    licence = db.scalars(select(License).where(License.dealer_id == trip.consignee_id)).one()
    suspend_licence(db, make_user("licensing_admin"), licence.id, "inspection pending")
    outcome = record_custody_event(db, officer, body(trip, where, kind))
    assert outcome.created
    [alert] = [a for a in outcome.alerts if a.kind == AlertKind.CUSTODY_LICENCE_INVALID]
    assert alert.severity.value == "critical" and licence.number in alert.details["reason"]


def test_a_licence_ended_by_the_event_day_refuses_a_departure(db: Session, trip: Declaration, officer: User) -> None:
    licence = db.scalars(select(License).where(License.dealer_id == trip.consignor_id)).one()
    licence.valid_to = NOW.date() - timedelta(days=1)
    (reason,) = answer(db, trip, officer, CustodyKind.DEPARTURE, "origin").reasons
    assert reason == (f"licence {licence.number} of {trip.consignor.legal_name} is valid "
                      f"{licence.valid_from} – {licence.valid_to}, not on {NOW.date()}")


# ---------------------------------------------------------------- the planned window
@pytest.mark.parametrize("offset,tolerance_h,verdict", [
    (timedelta(hours=-11), 2, Verdict.REFUSED),
    (timedelta(hours=-1, minutes=-59), 2, Verdict.ALLOWED),
    (timedelta(hours=-1, minutes=-59), 1, Verdict.REFUSED),
    (timedelta(days=1, hours=4), 2, Verdict.REFUSED),  # 3 h after the planned arrival
])
def test_a_departure_outside_the_planned_window_needs_an_override(
        db: Session, trip: Declaration, officer: User, offset: timedelta, tolerance_h: int, verdict: Verdict) -> None:
    found = answer(db, trip, officer, CustodyKind.DEPARTURE, "origin", at=trip.planned_departure + offset,
                   tolerance=timedelta(hours=tolerance_h))
    assert found.verdict == verdict
    if verdict == Verdict.REFUSED:
        (reason,) = found.reasons
        assert "outside the planned window" in reason and reason.endswith("say why")


def test_an_override_with_a_reason_records_the_departure_and_opens_an_alert(
        db: Session, trip: Declaration, officer: User) -> None:
    early = trip.planned_departure - timedelta(hours=11)
    data = body(trip, "origin", "departure", at=early, override_window=True,
                override_reason="convoy leaves before the pass closes")
    outcome = record_custody_event(db, officer, data, now=NOW)
    [alert] = [a for a in outcome.alerts if a.kind == AlertKind.CUSTODY_OUTSIDE_WINDOW]
    assert alert.details["override_reason"] == "convoy leaves before the pass closes"


# ---------------------------------------------------------------- the officer's remarks
REMARKS = "Seal wire cut and twisted back; photographed with the driver."


def approved(_db: Session, _trip: Declaration, _make_user: Any) -> None:
    """Leave the trip approved, before its departure."""


def in_transit(_db: Session, trip: Declaration, _make_user: Any) -> None:
    trip.status = DeclarationStatus.IN_TRANSIT


def suspended_consignee(db: Session, trip: Declaration, make_user: Any) -> None:
    in_transit(db, trip, make_user)
    licence = db.scalars(select(License).where(License.dealer_id == trip.consignee_id)).one()
    suspend_licence(db, make_user("licensing_admin"), licence.id, "inspection pending")


#: alert kind -> (what to set up before the event, the event)
REMARKED = {
    AlertKind.CUSTODY_SEAL_BROKEN: (in_transit, lambda t: body(t, "checkpoint", "inspection", seal_intact=False)),
    AlertKind.CUSTODY_MASS_DISCREPANCY: (in_transit, lambda t: body(t, "checkpoint", "inspection",
                                                                    measured_net_g=30_000)),
    AlertKind.CUSTODY_OUTSIDE_WINDOW: (approved, lambda t: body(
        t, "origin", "departure", at=t.planned_departure - timedelta(hours=11), override_window=True,
        override_reason="convoy leaves before the pass closes")),
    AlertKind.CUSTODY_LICENCE_INVALID: (suspended_consignee, lambda t: body(t, "destination", "arrival")),
}


@pytest.mark.parametrize("kind", REMARKED, ids=[k.value for k in REMARKED])
def test_the_officers_remarks_go_into_the_alert_the_event_opens(
        db: Session, trip: Declaration, officer: User, make_user, kind: AlertKind) -> None:
    prepare, event = REMARKED[kind]
    prepare(db, trip, make_user)
    outcome = record_custody_event(db, officer, {**event(trip), "remarks": f"  {REMARKS}\n"}, now=NOW)
    [alert] = [a for a in outcome.alerts if a.kind == kind]
    assert alert.details["remarks"] == REMARKS and alert.details["custody_event_id"] == outcome.event.id


def test_empty_remarks_add_nothing_to_the_alert(db: Session, trip: Declaration, officer: User, make_user) -> None:
    in_transit(db, trip, make_user)
    outcome = record_custody_event(db, officer, body(trip, "checkpoint", "inspection", seal_intact=False, remarks=""))
    [alert] = outcome.alerts
    assert alert.kind == AlertKind.CUSTODY_SEAL_BROKEN and "remarks" not in alert.details


@pytest.mark.parametrize("data,fields", [
    ({"override_window": True}, {"override_reason"}),
    ({"override_window": True, "override_reason": "   "}, {"override_reason"}),
    ({"override_window": "yes", "override_reason": "x"}, {"override_window"}),
    ({"partial_departure": True, "partial_reason": "x" * 2001}, {"partial_reason"}),
    ({"partial_departure": 1}, {"partial_departure"}),
    ({"override_reason": ["why"]}, {"override_reason"}),
])
def test_overrides_are_booleans_with_a_reason(data: dict[str, Any], fields: set[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        read_overrides(data)
    assert set(refused.value.errors) == fields


# ---------------------------------------------------------------- once per container
def test_a_re_scan_says_when_and_by_whom_and_stores_nothing_new(db: Session, trip: Declaration, officer: User) -> None:
    scanned_at = (NOW - timedelta(minutes=30)).astimezone(timezone(timedelta(hours=6)))
    first = body(trip, "origin", "departure", at=scanned_at)
    record_custody_event(db, officer, first)
    with pytest.raises(CustodyRefused) as refused:
        record_custody_event(db, officer, body(trip, "origin", "departure"))
    assert refused.value.answer.reasons == [
        f"departure of {trip.items[0].container.sscc} already recorded at {scanned_at:%H:%M} "
        f"on {scanned_at:%Y-%m-%d} by Aibek Osmonov"]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 1
    again = record_custody_event(db, officer, first)  # a retry of the same event stays idempotent
    assert not again.created


# ---------------------------------------------------------------- loading progress
def test_the_declaration_departs_when_every_container_has(db: Session, trip: Declaration, officer: User) -> None:
    record_custody_event(db, officer, body(trip, "origin", "departure", item=0))
    assert trip.status == DeclarationStatus.APPROVED
    progress = loading(db, trip)
    assert (progress.scanned, progress.total, progress.missing) == (1, 2, (trip.items[1].container.sscc,))
    outcome = record_custody_event(db, officer, body(trip, "origin", "departure", item=1))
    assert trip.status == DeclarationStatus.IN_TRANSIT and outcome.alerts == []
    assert loading(db, trip).complete


def test_a_confirmed_partial_departure_moves_the_declaration_and_lists_the_missing(
        db: Session, trip: Declaration, officer: User) -> None:
    outcome = record_custody_event(db, officer, body(trip, "origin", "departure", partial_departure=True,
                                                     partial_reason="second flask failed the leak test"))
    assert trip.status == DeclarationStatus.IN_TRANSIT
    [alert] = outcome.alerts
    assert alert.kind == AlertKind.CUSTODY_PARTIAL_DEPARTURE
    assert alert.details["missing"] == [trip.items[1].container.sscc]
    assert alert.details["reason"] == "second flask failed the leak test"
    assert db.scalar(select(func.count()).select_from(Alert)) == 1


@pytest.mark.parametrize("status,quantity_g,expected", [
    ("active", 100_000, None),
    ("exhausted", 100_000, "IMP-CUSTODY is exhausted"),
    ("active", 30_000, "IMP-CUSTODY has 30000 g left; this declaration needs 34500 g"),
])
def test_an_import_departs_only_while_its_approval_holds_with_quantity_left(
        db: Session, make_declaration, make_dealer, make_user, status: str, quantity_g: int,
        expected: str | None) -> None:
    from tracker.models import ApprovalStatus, Dealer, DeclarationKind, ImportApproval

    exporter = Dealer(legal_name="Guizhou Recycling Co.", taxpayer_number=f"CN-{uuid.uuid4().hex[:8]}", country="CN")
    importer = make_dealer(activities={Activity.IMPORT})
    approval = ImportApproval(number="IMP-CUSTODY", importer=importer, exporter_name=exporter.legal_name,
                              exporter_country="CN", quantity_g=quantity_g, intended_use="dental amalgam",
                              source_not_primary_mining=True, source_statement="recovered from lamps",
                              valid_until=NOW.date() + timedelta(days=300), status=ApprovalStatus(status))
    db.add_all([exporter, approval])
    declaration = make_declaration(declarant=importer, consignor=exporter, consignee=importer,
                                   kind=DeclarationKind.IMPORT, import_approval=approval,
                                   status=DeclarationStatus.APPROVED, planned_departure=NOW - timedelta(hours=1),
                                   planned_arrival=NOW + timedelta(days=1))
    officer = make_user("customs_officer", checkpoints=[declaration.origin])
    found = check_custody(db, ProposedEvent(officer, CustodyKind.DEPARTURE, declaration.origin,
                                            declaration.items[0].container, declaration, NOW))
    if expected is None:
        assert found.verdict == Verdict.ALLOWED
    else:
        assert found.verdict == Verdict.REFUSED and found.reasons[0].startswith(expected)
