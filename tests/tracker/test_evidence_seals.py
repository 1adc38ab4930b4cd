"""Evidence outside the chains is sealed under them: editing it afterwards is found by verify-chain.

Positions (per declaration and hour, once the hour is over), declaration items once
submitted, alert history and customs records. Tampering is done as in test_chain_tamper:
past the append-only triggers on PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.tracker.test_chain_tamper import tamper
from tracker.domain.alerts import acknowledge_alert, open_alert
from tracker.domain.chain_verify import ChainReport, verify_chain
from tracker.domain.customs_import import import_customs_csv
from tracker.domain.lifecycle import submit
from tracker.domain.position_seals import SETTLE, hour_of, position_subject, run_position_sealing, seal_positions
from tracker.domain.seal_checks import verify_coverage
from tracker.domain.sealing import seal_everything
from tracker.domain.seals import (
    ALERT_HISTORY,
    CUSTOMS_RECORDS,
    DECLARATION_ITEMS,
    POSITIONS,
    Coverage,
    latest_seal,
)
from tracker.models import (
    AlertEvent,
    BeaconProtocol,
    DeclarationItem,
    DeclarationStatus,
    EvidenceSeal,
    Position,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

NOW = datetime.now(timezone.utc)
HOUR = hour_of(NOW) - timedelta(hours=3)  # long over: sealed on the next run


def add_fixes(db: Session, beacon_id: int, declaration_id: int | None, minutes: list[int]) -> list[Position]:
    """Store fixes as the gateway does (raw message kept), ``minutes`` into HOUR."""
    fixes = [Position(beacon_id=beacon_id, declaration_id=declaration_id, fix_time=HOUR + timedelta(minutes=m),
                      received_at=utcnow(), lat=41.0 + m / 1000, lon=72.9, speed_kmh=50.0, flags=[],
                      protocol=BeaconProtocol.JSON, raw=f"fix {m}".encode()) for m in minutes]
    db.add_all(fixes)
    db.flush()
    return fixes


def check(db: Session, coverage: Coverage, *subjects: str) -> ChainReport:
    """Verify only these subjects' seals (other tests' committed evidence is not this test's concern)."""
    return verify_coverage(db, coverage, set(subjects))


@pytest.fixture
def trip(db: Session, make_beacon, make_declaration) -> tuple[int, int]:
    """A beacon travelling with a declaration in transit: (beacon id, declaration id)."""
    beacon = make_beacon()
    declaration = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=beacon)
    return beacon.id, declaration.id


def test_positions_of_a_finished_hour_are_sealed_per_declaration_and_verify(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    add_fixes(db, beacon_id, declaration_id, [1, 2, 3])
    add_fixes(db, beacon_id, None, [50])  # before departure: on no declaration, sealed too
    assert seal_positions(db, NOW) == 2
    assert latest_seal(db, POSITIONS, position_subject(declaration_id, HOUR)).row_count == 3
    report = check(db, POSITIONS, position_subject(declaration_id, HOUR), position_subject(None, HOUR))
    assert report.ok and report.count == 4 and verify_chain(db, EvidenceSeal).ok


def test_the_current_hour_waits_until_it_is_over(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    add_fixes(db, beacon_id, declaration_id, [1])
    assert seal_positions(db, HOUR + timedelta(minutes=30)) == 0
    assert seal_positions(db, HOUR + timedelta(hours=1) + SETTLE) == 1


def test_edited_position_is_found_naming_its_declaration_and_hour(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    fixes = add_fixes(db, beacon_id, declaration_id, [1, 2, 3])
    seal_positions(db, NOW)
    tamper(db, "UPDATE positions SET lat = 40.0 WHERE id = :id", id=fixes[1].id)
    report = check(db, POSITIONS, position_subject(declaration_id, HOUR))
    assert not report.ok and position_subject(declaration_id, HOUR) in (report.reason or "")


def test_deleted_position_is_found_and_never_sealed_over(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    fixes = add_fixes(db, beacon_id, declaration_id, [1, 2, 3])
    seal_positions(db, NOW)
    tamper(db, "DELETE FROM positions WHERE id = :id", id=fixes[0].id)
    add_fixes(db, beacon_id, declaration_id, [4])  # a later fix for the hour must not cover the gap
    seal_positions(db, NOW + timedelta(minutes=1))
    assert latest_seal(db, POSITIONS, position_subject(declaration_id, HOUR)).row_count == 3
    assert not check(db, POSITIONS, position_subject(declaration_id, HOUR)).ok


def test_late_fix_for_a_sealed_hour_is_covered_by_a_later_seal(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    add_fixes(db, beacon_id, declaration_id, [1, 2])
    seal_positions(db, NOW)
    late = add_fixes(db, beacon_id, declaration_id, [30])[0]
    subject = position_subject(declaration_id, HOUR)
    assert latest_seal(db, POSITIONS, subject).row_count == 2 and check(db, POSITIONS, subject).ok
    assert seal_positions(db, NOW + timedelta(minutes=1)) == 1
    assert latest_seal(db, POSITIONS, subject).row_count == 3
    tamper(db, "UPDATE positions SET raw = :raw WHERE id = :id", raw=b"forged", id=late.id)
    assert not check(db, POSITIONS, subject).ok


def test_re_flagging_a_sealed_fix_is_not_tampering(db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    fixes = add_fixes(db, beacon_id, declaration_id, [1, 2])
    seal_positions(db, NOW)
    tamper(db, "UPDATE positions SET flags = :flags WHERE id = :id", flags='["impossible_jump"]', id=fixes[1].id)
    assert check(db, POSITIONS, position_subject(declaration_id, HOUR)).ok


def test_submitted_declaration_items_are_sealed_and_an_edit_is_found(db: Session, make_declaration) -> None:
    declaration = make_declaration(status=DeclarationStatus.SUBMITTED)
    seal_everything(db, NOW)
    subject = f"declaration:{declaration.id}"
    assert check(db, DECLARATION_ITEMS, subject).ok and check(db, DECLARATION_ITEMS, subject).count == 1
    item = declaration.items[0]
    tamper(db, "UPDATE declaration_items SET declared_net_g = 3450 WHERE declaration_id = :d AND container_id = :c",
           d=declaration.id, c=item.container_id)
    report = check(db, DECLARATION_ITEMS, subject)
    assert not report.ok and subject in (report.reason or "")


def test_submitting_seals_the_items(db: Session, monkeypatch, make_user, make_declaration) -> None:
    monkeypatch.setattr("tracker.domain.lifecycle.check_submission", lambda *args, **kw: {})
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer)
    submit(db, trader, declaration.id)
    assert latest_seal(db, DECLARATION_ITEMS, f"declaration:{declaration.id}").row_count == 1


def test_a_received_mass_is_not_an_edit_of_the_declared_contents(db: Session, make_declaration) -> None:
    declaration = make_declaration(status=DeclarationStatus.SUBMITTED)
    seal_everything(db, NOW)
    item = db.scalars(select(DeclarationItem).where(DeclarationItem.declaration_id == declaration.id)).one()
    item.received_net_g = 34_400
    db.flush()
    assert check(db, DECLARATION_ITEMS, f"declaration:{declaration.id}").ok


def test_alert_history_is_sealed_when_its_transaction_commits(db: Session, make_user, make_declaration) -> None:
    alert = open_alert(db, kind="off_route", severity="warning", declaration=make_declaration())
    db.commit()
    assert latest_seal(db, ALERT_HISTORY, f"alert:{alert.id}").row_count == 1
    acknowledge_alert(db, alert, make_user("customs_officer"), note="calling the driver")
    assert latest_seal(db, ALERT_HISTORY, f"alert:{alert.id}").row_count == 1  # not before the commit
    db.commit()
    assert latest_seal(db, ALERT_HISTORY, f"alert:{alert.id}").row_count == 2
    assert check(db, ALERT_HISTORY, f"alert:{alert.id}").ok
    tamper(db, "UPDATE alert_events SET note = 'nothing seen' WHERE alert_id = :id AND action = 'acknowledged'",
           id=alert.id)
    report = check(db, ALERT_HISTORY, f"alert:{alert.id}")
    assert not report.ok and f"alert:{alert.id}" in (report.reason or "")


def test_a_step_added_outside_the_alert_functions_is_sealed_too(db: Session, make_declaration) -> None:
    alert = open_alert(db, kind="off_route", severity="warning", declaration=make_declaration())
    alert.history.append(AlertEvent(action="reopened", at=utcnow(), actor_name="system", note="as the gateway does"))
    db.commit()
    assert latest_seal(db, ALERT_HISTORY, f"alert:{alert.id}").row_count == 2


def test_a_rolled_back_step_leaves_no_seal(db: Session, make_declaration) -> None:
    alert = open_alert(db, kind="late", severity="warning", declaration=make_declaration())
    db.commit()
    alert.history.append(AlertEvent(action="explained", at=utcnow(), actor_name="system", note="never kept"))
    db.flush()
    db.rollback()
    db.commit()
    assert latest_seal(db, ALERT_HISTORY, f"alert:{alert.id}").row_count == 1
    assert check(db, ALERT_HISTORY, f"alert:{alert.id}").ok


def test_deleted_alert_step_is_found(db: Session, make_user, make_declaration) -> None:
    alert = open_alert(db, kind="late", severity="warning", declaration=make_declaration())
    acknowledge_alert(db, alert, make_user("customs_officer"))
    db.commit()
    tamper(db, "DELETE FROM alert_events WHERE alert_id = :id AND action = 'acknowledged'", id=alert.id)
    assert not check(db, ALERT_HISTORY, f"alert:{alert.id}").ok


def test_imported_customs_records_are_sealed_and_an_edit_is_found(db: Session) -> None:
    day = NOW.date().isoformat()
    import_customs_csv(db, None, "date,reference,sscc,direction,mass_kg,checkpoint\n"
                                 f"{day},26KGHG00000000010,,export,138,AKJOL\n"
                                 f"{day},26KGHG00000000020,,import,34.5,DOSTUK\n", "extract.csv")
    subject = db.scalars(select(EvidenceSeal.subject).where(EvidenceSeal.kind == CUSTOMS_RECORDS.kind)
                         .order_by(EvidenceSeal.id.desc()).limit(1)).one()
    assert check(db, CUSTOMS_RECORDS, subject).ok and check(db, CUSTOMS_RECORDS, subject).count == 2
    tamper(db, "UPDATE customs_records SET mass_g = 13800 WHERE reference = '26KGHG00000000010'")
    report = check(db, CUSTOMS_RECORDS, subject)
    assert not report.ok and subject in (report.reason or "")


def test_verify_chain_command_reports_an_edited_position(app: Flask, db: Session, trip) -> None:
    beacon_id, declaration_id = trip
    fixes = add_fixes(db, beacon_id, declaration_id, [1, 2])
    db.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["evidence", "seal"]).exit_code == 0
    result = runner.invoke(args=["verify-chain"])
    assert "positions: OK" in result.output, result.output
    tamper(db, "UPDATE positions SET lon = 73.5 WHERE id = :id", id=fixes[0].id)
    db.commit()
    result = runner.invoke(args=["verify-chain"])
    assert result.exit_code == 1 and "positions: BROKEN" in result.output


def test_gateway_run_seals_in_chunks_of_groups(sessions, db: Session, make_beacon, make_declaration) -> None:
    declarations = []
    for _ in range(3):
        beacon = make_beacon()
        declarations.append(make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=beacon).id)
        add_fixes(db, beacon.id, declarations[-1], [1, 2])
    db.commit()
    assert run_position_sealing(sessions, NOW, chunk=2) >= 3  # (other tests may have left finished hours)
    subjects = [position_subject(declaration_id, HOUR) for declaration_id in declarations]
    assert [latest_seal(db, POSITIONS, subject).row_count for subject in subjects] == [2, 2, 2]
