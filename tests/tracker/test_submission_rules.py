"""Submitting a declaration: one test per rule, every failure reported at once, nothing half-done."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from shapely.geometry import LineString
from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, ValidationFailed
from tracker.domain.lifecycle import submit
from tracker.models import (
    Activity,
    Dealer,
    ExportConsent,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    ImportApproval,
    LicenseStatus,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

OSH, BISHKEK, TOKTOGUL = (40.528, 72.799), (42.875, 74.590), (41.873, 72.941)


def refusal(db: Session, trader, declaration) -> dict[str, str]:
    """Submit and return the failing fields, checking the declaration stayed a draft."""
    with pytest.raises(ValidationFailed) as caught:
        submit(db, trader, declaration.id)
    assert declaration.status == DeclarationStatus.DRAFT and declaration.submitted_at is None
    return caught.value.errors


@pytest.fixture
def importer(make_licensed_dealer, make_user):
    """A trader of a dealer licensed to import."""
    return make_user("trader", dealer=make_licensed_dealer({Activity.IMPORT}))


@pytest.fixture
def exporter(db: Session) -> Dealer:
    """A foreign exporter."""
    dealer = Dealer(legal_name="Guizhou Recycling Co.", taxpayer_number="CN-91520000", country="CN")
    db.add(dealer)
    db.flush()
    return dealer


def approval_for(db: Session, importer: Dealer, exporter: Dealer, quantity_g: int) -> ImportApproval:
    approval = ImportApproval(
        number=f"IMP-{importer.id}-{quantity_g}", importer=importer, exporter_name=exporter.legal_name,
        exporter_country=exporter.country, quantity_g=quantity_g, intended_use="dental amalgam",
        source_not_primary_mining=True, source_statement="recovered from lamps",
        valid_until=date.today() + timedelta(days=300))
    db.add(approval)
    db.flush()
    return approval


def import_declaration(make_declaration, importer, exporter, approval, **kw):
    return make_declaration(declarant=importer.dealer, consignor=exporter, consignee=importer.dealer,
                            kind=DeclarationKind.IMPORT, import_approval=approval, **kw)


def test_a_declaration_meeting_every_rule_is_submitted(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable()
    submit(db, trader, declaration.id)
    assert declaration.status == DeclarationStatus.SUBMITTED and declaration.submitted_at is not None


def test_every_failure_is_reported_at_once_each_naming_its_field(db: Session, make_submittable,
                                                                make_container, make_checkpoint) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=1)
    trader, declaration = make_submittable(
        planned_departure=start, planned_arrival=start + timedelta(days=100),
        route=LineString([(71.343, 39.947), (74.590, 42.875)]))
    declaration.items[0].container = make_container()  # someone else's flask
    declaration.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=make_checkpoint(lat=41.429, lon=75.991))]
    db.flush()
    errors = refusal(db, trader, declaration)
    assert {"planned_departure", "planned_arrival", "items[0].sscc", "route.start",
            "expected_checkpoints[0]"} <= set(errors)


def test_rule_parties_licensed_for_the_activity(db: Session, make_submittable, make_licensed_dealer) -> None:
    trader, declaration = make_submittable(consignee=make_licensed_dealer({Activity.STORAGE}))
    errors = refusal(db, trader, declaration)
    assert set(errors) == {"consignee"} and "domestic_trade" in errors["consignee"]


def test_rule_parties_licensed_for_the_whole_window(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable()
    licence = trader.dealer.licenses[0]
    licence.valid_to = declaration.planned_departure.date()  # runs out before the arrival day
    declaration.planned_arrival = declaration.planned_departure + timedelta(days=2)
    db.flush()
    assert set(refusal(db, trader, declaration)) == {"consignor"}


def test_rule_parties_licensed_a_suspended_licence_blocks_at_once(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable()
    declaration.consignee.licenses[0].status = LicenseStatus.SUSPENDED
    db.flush()
    assert "no active licence" in refusal(db, trader, declaration)["consignee"]


def test_rule_parties_licensed_a_transit_carrier_declares_for_foreign_parties(
        db: Session, make_licensed_dealer, make_user, make_declaration, exporter) -> None:
    buyer = Dealer(legal_name="Almaty Chemicals LLP", taxpayer_number="KZ-1", country="KZ")
    carrier = make_user("trader", dealer=make_licensed_dealer({Activity.DOMESTIC_TRADE}))
    declaration = make_declaration(declarant=carrier.dealer, consignor=exporter, consignee=buyer,
                                   kind=DeclarationKind.TRANSIT)
    errors = refusal(db, carrier, declaration)
    assert set(errors) == {"declarant"} and "transit" in errors["declarant"]


def test_rule_parties_domestic_or_foreign_an_export_goes_abroad(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable({Activity.EXPORT}, kind=DeclarationKind.EXPORT)
    assert "foreign party" in refusal(db, trader, declaration)["consignee"]


def test_rule_import_matches_approval_exporter(db: Session, importer, exporter, make_declaration) -> None:
    other = Dealer(legal_name="Someone Else Ltd", taxpayer_number="X1", country="CN")
    db.add(other)
    approval = approval_for(db, importer.dealer, exporter, 1_000_000)
    declaration = import_declaration(make_declaration, importer, other, approval)
    errors = refusal(db, importer, declaration)
    assert set(errors) == {"consignor"} and "Guizhou Recycling Co." in errors["consignor"]


def test_rule_import_matches_approval_exporter_ignores_case_and_spacing(
        db: Session, importer, exporter, make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 1_000_000)
    approval.exporter_name = "  guizhou   RECYCLING co. "
    submit(db, importer, import_declaration(make_declaration, importer, exporter, approval).id)


def test_rule_import_matches_approval_an_import_needs_one(db: Session, importer, exporter,
                                                          make_declaration) -> None:
    declaration = import_declaration(make_declaration, importer, exporter, None)
    assert "import approval" in refusal(db, importer, declaration)["import_approval_id"]


def test_rule_approval_quantity_remains(db: Session, importer, exporter, make_declaration) -> None:
    approval = approval_for(db, importer.dealer, exporter, 60_000)   # room for one 34.5 kg flask
    first = import_declaration(make_declaration, importer, exporter, approval)
    submit(db, importer, first.id)
    second = import_declaration(make_declaration, importer, exporter, approval)
    errors = refusal(db, importer, second)
    assert errors == {"import_approval_id": f"{approval.number} has 25500 g left; "
                                            "this declaration needs 34500 g"}
    first.status = DeclarationStatus.CANCELLED   # a cancelled declaration gives its quantity back
    db.flush()
    submit(db, importer, second.id)


@pytest.fixture
def foreign_buyer(db: Session) -> Dealer:
    """An importer abroad."""
    dealer = Dealer(legal_name="Almaty Chemicals LLP", taxpayer_number="KZ-77", country="KZ")
    db.add(dealer)
    db.flush()
    return dealer


def consent_for(db: Session, exporter: Dealer, buyer: Dealer, quantity_g: int) -> ExportConsent:
    consent = ExportConsent(number=f"EXP-{exporter.id}-{buyer.country}-{quantity_g}", exporter=exporter,
                            importer_name=buyer.legal_name, importer_country=buyer.country,
                            quantity_g=quantity_g, intended_use="laboratory reagents",
                            valid_until=date.today() + timedelta(days=300))
    db.add(consent)
    db.flush()
    return consent


def test_rule_export_matches_consent(db: Session, make_submittable, foreign_buyer) -> None:
    trader, declaration = make_submittable({Activity.EXPORT}, kind=DeclarationKind.EXPORT, consignee=foreign_buyer)
    assert "written consent" in refusal(db, trader, declaration)["export_consent_id"]
    other = Dealer(legal_name="Tashkent Dental", taxpayer_number="UZ-1", country="UZ")
    declaration.export_consent = consent_for(db, trader.dealer, other, 100_000)
    db.flush()
    assert "names the importer Tashkent Dental (UZ)" in refusal(db, trader, declaration)["consignee"]
    declaration.export_consent = consent_for(db, trader.dealer, foreign_buyer, 100_000)
    db.flush()
    submit(db, trader, declaration.id)


def test_rule_approval_quantity_remains_for_an_export_consent(db: Session, make_submittable,
                                                               make_declaration, foreign_buyer) -> None:
    trader, first = make_submittable({Activity.EXPORT}, kind=DeclarationKind.EXPORT, consignee=foreign_buyer)
    consent = consent_for(db, trader.dealer, foreign_buyer, 50_000)
    first.export_consent = consent
    submit(db, trader, first.id)
    second = make_declaration(declarant=trader.dealer, consignee=foreign_buyer, kind=DeclarationKind.EXPORT,
                              export_consent=consent)
    assert refusal(db, trader, second) == {"export_consent_id": f"{consent.number} has 15500 g left; "
                                                                "this declaration needs 34500 g"}


def test_rule_annual_quota(db: Session, make_submittable, make_licensed_dealer, make_user,
                           make_declaration) -> None:
    trader = make_user("trader", dealer=make_licensed_dealer(quota_g=50_000))
    first = make_declaration(declarant=trader.dealer, consignee=make_licensed_dealer())
    submit(db, trader, first.id)
    second = make_declaration(declarant=trader.dealer, consignee=make_licensed_dealer())
    errors = refusal(db, trader, second)
    assert set(errors) == {"items"} and "69000 g declared" in errors["items"] and "50000 g" in errors["items"]


def test_rule_annual_quota_counts_only_declarations_departing_in_the_same_year(
        db: Session, make_licensed_dealer, make_user, make_declaration) -> None:
    trader = make_user("trader", dealer=make_licensed_dealer(quota_g=50_000))
    first = make_declaration(declarant=trader.dealer, consignee=make_licensed_dealer())
    submit(db, trader, first.id)
    later = datetime.now(timezone.utc) + timedelta(days=380)   # always in a later calendar year
    second = make_declaration(declarant=trader.dealer, consignee=make_licensed_dealer(),
                              planned_departure=later, planned_arrival=later + timedelta(days=1))
    submit(db, trader, second.id)
    assert second.status == DeclarationStatus.SUBMITTED


def test_rule_containers_held_by_the_consignor(db: Session, make_submittable, make_container) -> None:
    trader, declaration = make_submittable()
    declaration.items[0].container.custodian_id = make_container().owner_id
    db.flush()
    assert "is not held by" in refusal(db, trader, declaration)["items[0].sscc"]


def test_rule_containers_on_no_other_open_declaration(db: Session, make_submittable, make_declaration) -> None:
    trader, first = make_submittable()
    submit(db, trader, first.id)
    second = make_declaration(declarant=trader.dealer, consignee=first.consignee)
    second.items[0].container = first.items[0].container
    db.flush()
    assert f"is on declaration {first.label}" in refusal(db, trader, second)["items[0].sscc"]


def test_rule_containers_declared_mass_within_capacity(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable()
    declaration.items[0].declared_net_g = 40_000
    db.flush()
    assert "34500" in refusal(db, trader, declaration)["items[0].declared_net_g"]


def test_rule_route_starts_and_ends_within_2_km(db: Session, make_submittable) -> None:
    # 0.03 degrees of latitude is about 3.3 km: both ends are off; 0.01 (1.1 km) would pass
    trader, declaration = make_submittable(route=LineString([
        (OSH[1], OSH[0] + 0.03), (BISHKEK[1], BISHKEK[0] - 0.03)]))
    errors = refusal(db, trader, declaration)
    assert set(errors) == {"route.start", "route.end"} and "3.3 km" in errors["route.start"]
    declaration.route = LineString([(OSH[1], OSH[0] + 0.01), (BISHKEK[1], BISHKEK[0] - 0.01)])
    submit(db, trader, declaration.id)


def test_rule_route_passes_every_expected_checkpoint_within_the_corridor(
        db: Session, make_submittable, make_checkpoint) -> None:
    route = LineString([(OSH[1], OSH[0]), (TOKTOGUL[1], TOKTOGUL[0]), (BISHKEK[1], BISHKEK[0])])
    on_route = make_checkpoint(lat=TOKTOGUL[0] + 0.003, lon=TOKTOGUL[1])      # ~330 m off
    off_route = make_checkpoint(lat=TOKTOGUL[0], lon=TOKTOGUL[1] + 0.02)      # ~1.7 km off
    trader, declaration = make_submittable(route=route, expected_checkpoints=[
        ExpectedCheckpoint(seq=0, checkpoint=on_route), ExpectedCheckpoint(seq=1, checkpoint=off_route)])
    errors = refusal(db, trader, declaration)
    assert set(errors) == {"expected_checkpoints[1]"} and "outside the 500 m corridor" in errors[
        "expected_checkpoints[1]"]
    declaration.corridor_m = 2_000
    submit(db, trader, declaration.id)


def test_rule_route_passes_the_expected_checkpoints_in_the_order_listed(
        db: Session, make_submittable, make_checkpoint) -> None:
    route = LineString([(OSH[1], OSH[0]), (TOKTOGUL[1], TOKTOGUL[0]), (BISHKEK[1], BISHKEK[0])])
    toktogul = make_checkpoint(lat=TOKTOGUL[0], lon=TOKTOGUL[1])
    midway = make_checkpoint(lat=42.374, lon=73.7655)   # half-way along the Toktogul-Bishkek leg
    trader, declaration = make_submittable(route=route, corridor_m=5_000, expected_checkpoints=[
        ExpectedCheckpoint(seq=0, checkpoint=midway), ExpectedCheckpoint(seq=1, checkpoint=toktogul)])
    errors = refusal(db, trader, declaration)
    assert set(errors) == {"expected_checkpoints[1]"}
    assert f"passes {toktogul.code} before {midway.code}" in errors["expected_checkpoints[1]"]


def test_rule_route_is_required(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable(route=None)
    assert "route" in refusal(db, trader, declaration)


def test_rule_window_starts_in_the_future(db: Session, make_submittable) -> None:
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    trader, declaration = make_submittable(planned_departure=past, planned_arrival=past + timedelta(days=1))
    assert refusal(db, trader, declaration) == {"planned_departure": "must be in the future"}


def test_rule_window_lasts_at_most_92_days(db: Session, make_submittable) -> None:
    start = datetime.now(timezone.utc) + timedelta(days=1)
    trader, declaration = make_submittable(planned_departure=start,
                                           planned_arrival=start + timedelta(days=92, minutes=1))
    assert refusal(db, trader, declaration) == {"planned_arrival": "the window lasts at most 92 days"}
    declaration.planned_arrival = start + timedelta(days=92)
    submit(db, trader, declaration.id)


def test_submitting_twice_is_a_conflict_naming_the_transition(db: Session, make_submittable) -> None:
    trader, declaration = make_submittable()
    submit(db, trader, declaration.id)
    with pytest.raises(Conflict, match="is submitted; it cannot become submitted"):
        submit(db, trader, declaration.id)
