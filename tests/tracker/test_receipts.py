"""Report of receipt: received masses and seals close the declaration; discrepancies open alerts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.receipts import ReceiptInput, ReceivedContainer, Tolerance, report_receipt
from tracker.models import Alert, Dealer, DeclarationStatus, utcnow

pytestmark = pytest.mark.usefixtures("fast_passwords")

FLASK = 34_500


@pytest.fixture
def arrived(make_user, make_declaration):
    """An arrived declaration of one 34.5 kg flask and a trader of its consignee."""
    receiver = make_user("trader")
    declaration = make_declaration(consignee=receiver.dealer, status=DeclarationStatus.ARRIVED,
                                   arrived_at=utcnow() - timedelta(hours=2))
    return receiver, declaration


def receipt(declaration, received_g: int, seal_intact: bool = True, **kw) -> ReceiptInput:
    sscc = declaration.items[0].container.sscc
    return ReceiptInput([ReceivedContainer(sscc, received_g, seal_intact)], **kw)


def alerts_of(db: Session, declaration) -> list[Alert]:
    return list(db.scalars(select(Alert).where(Alert.declaration_id == declaration.id).order_by(Alert.id)))


def test_receipt_within_tolerance_closes_without_alert(db: Session, arrived) -> None:
    receiver, declaration = arrived
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK - 50, remarks="all in order"))
    assert declaration.status == DeclarationStatus.CLOSED and declaration.closed_at is not None
    assert declaration.items[0].received_net_g == FLASK - 50 and declaration.items[0].seal_intact is True
    assert declaration.received_by == receiver and declaration.receipt_remarks == "all in order"
    assert alerts_of(db, declaration) == []


def test_receipt_passes_the_containers_into_the_consignees_custody(db: Session, arrived) -> None:
    receiver, declaration = arrived
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK - 40))
    container = declaration.items[0].container
    assert container.custodian_id == receiver.dealer_id and container.net_g == FLASK - 40


def test_shortage_beyond_tolerance_opens_receipt_shortage_with_the_figures(db: Session, arrived) -> None:
    receiver, declaration = arrived
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK - 51))
    [alert] = alerts_of(db, declaration)
    assert alert.kind == "receipt_shortage"
    assert alert.details == {"sscc": declaration.items[0].container.sscc, "declared_g": FLASK,
                             "received_g": FLASK - 51, "difference_g": -51, "tolerance_g": 50}


def test_excess_beyond_tolerance_opens_receipt_excess(db: Session, arrived) -> None:
    receiver, declaration = arrived
    declaration.items[0].container.capacity_g = FLASK + 1_000  # a container with headroom above its fill
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK + 200))
    assert [(a.kind, a.details["difference_g"]) for a in alerts_of(db, declaration)] == [("receipt_excess", 200)]


def test_tolerance_is_configurable(db: Session, arrived) -> None:
    receiver, declaration = arrived
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK - 300), Tolerance(permille=10, min_g=50))
    assert alerts_of(db, declaration) == []   # 1 % of 34.5 kg is 345 g


def test_broken_seal_opens_seal_broken(db: Session, arrived) -> None:
    receiver, declaration = arrived
    report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK, seal_intact=False))
    [alert] = alerts_of(db, declaration)
    assert alert.kind == "seal_broken" and alert.severity.value == "critical"
    assert declaration.items[0].seal_intact is False


def test_receipt_must_report_every_declared_container_with_whole_grams(db: Session, arrived) -> None:
    receiver, declaration = arrived
    bad = ReceiptInput([ReceivedContainer("000000000000000000", -1, "yes")])
    with pytest.raises(ValidationFailed) as caught:
        report_receipt(db, receiver, declaration.id, bad)
    assert set(caught.value.errors) == {"containers", "containers[0].received_net_g", "containers[0].seal_intact"}
    assert declaration.status == DeclarationStatus.ARRIVED and declaration.items[0].received_net_g is None


def test_receipt_time_must_lie_between_arrival_and_now(db: Session, arrived) -> None:
    receiver, declaration = arrived
    with pytest.raises(ValidationFailed) as caught:
        report_receipt(db, receiver, declaration.id,
                       receipt(declaration, FLASK, received_at=utcnow() + timedelta(hours=1)))
    assert set(caught.value.errors) == {"received_at"}


@pytest.mark.parametrize("status", [DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT,
                                    DeclarationStatus.CLOSED])
def test_receipt_only_on_an_arrived_declaration(db: Session, make_user, make_declaration, status) -> None:
    receiver = make_user("trader")
    declaration = make_declaration(consignee=receiver.dealer, status=status)
    with pytest.raises(Conflict, match=f"is {status.value}; it cannot become closed"):
        report_receipt(db, receiver, declaration.id, receipt(declaration, FLASK))


def test_only_the_consignee_or_customs_posted_at_the_destination_reports_receipt(db: Session, arrived, make_user) -> None:
    _, declaration = arrived
    declarant_trader = make_user("trader", dealer=declaration.declarant)
    with pytest.raises(Forbidden):
        report_receipt(db, declarant_trader, declaration.id, receipt(declaration, FLASK))
    elsewhere = make_user("customs_officer")
    with pytest.raises(Forbidden, match=f"not posted at {declaration.destination.name}"):
        report_receipt(db, elsewhere, declaration.id, receipt(declaration, FLASK))
    assert declaration.status == DeclarationStatus.ARRIVED
    report_receipt(db, make_user("customs_officer", checkpoints=[declaration.destination]), declaration.id,
                   receipt(declaration, FLASK))
    assert declaration.status == DeclarationStatus.CLOSED


def test_for_an_export_the_declarant_reports_the_receipt_abroad(db: Session, make_user, make_declaration) -> None:
    buyer = Dealer(legal_name="Almaty Chemicals LLP", taxpayer_number="KZ-1", country="KZ")
    db.add(buyer)
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, consignee=buyer, status=DeclarationStatus.ARRIVED)
    report_receipt(db, trader, declaration.id, receipt(declaration, FLASK))
    assert declaration.status == DeclarationStatus.CLOSED
    assert declaration.items[0].container.custodian_id == buyer.id
