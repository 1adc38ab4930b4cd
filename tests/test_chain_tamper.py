"""Tamper evidence: each kind of tampering is found at the exact row; PostgreSQL refuses edits outright.

On PostgreSQL the tampering is done the way an attacker with superuser rights would:
with the append-only triggers switched off (``session_replication_role = replica``).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tracker.domain.chain import row_hash
from tracker.domain.chain_verify import verify_chain
from tracker.domain.custody import record_custody_event
from tracker.domain.register import SaleInput, StockEntryInput, record_sale, record_stock_entry, today_kg
from tracker.models import Activity, CustodyEvent, Transaction

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def events(db: Session, make_user, make_container, make_checkpoint) -> list[int]:
    """Five chained custody events; returns their ids in chain order."""
    officer, container, post = make_user("customs_officer"), make_container(), make_checkpoint()
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    ids = []
    for n in range(5):
        outcome = record_custody_event(db, officer, {
            "client_event_id": str(uuid.uuid4()), "sscc": container.sscc, "checkpoint": post.code,
            "kind": "inspection", "seal_intact": True, "measured_net_g": 34_500,
            "event_time": (start + timedelta(minutes=n)).isoformat()})
        ids.append(outcome.event.id)
    return ids


def tamper(db: Session, sql: str, **params: Any) -> None:
    """Run raw SQL past the append-only triggers (PostgreSQL) and forget what the session knew."""
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        db.execute(text("SET LOCAL session_replication_role = replica"))
    db.execute(text(sql), params)
    if postgres:
        db.execute(text("SET LOCAL session_replication_role = origin"))
    db.expire_all()


def test_intact_chain_verifies_with_its_count(db: Session, events: list[int]) -> None:
    report = verify_chain(db, CustodyEvent)
    assert report.ok and report.count == 5


def test_editing_a_field_is_found_at_that_row(db: Session, events: list[int]) -> None:
    tamper(db, "UPDATE custody_events SET measured_net_g = 30000 WHERE id = :id", id=events[2])
    report = verify_chain(db, CustodyEvent)
    assert report.broken_row_id == events[2] and "edited" in (report.reason or "")


def test_deleting_a_row_is_found_at_the_row_after_the_gap(db: Session, events: list[int]) -> None:
    tamper(db, "DELETE FROM custody_events WHERE id = :id", id=events[2])
    report = verify_chain(db, CustodyEvent)
    assert report.broken_row_id == events[3] and "missing (deleted)" in (report.reason or "")


def test_swapping_two_rows_is_found_at_the_first_of_them(db: Session, events: list[int]) -> None:
    a, b = events[1], events[2]
    tamper(db, "UPDATE custody_events SET id = -1 WHERE id = :a", a=a)
    tamper(db, "UPDATE custody_events SET id = :a WHERE id = :b", a=a, b=b)
    tamper(db, "UPDATE custody_events SET id = :b WHERE id = -1", b=b)
    report = verify_chain(db, CustodyEvent)
    assert report.broken_row_id == a and "swapped" in (report.reason or "")


def test_forged_row_with_a_correct_hash_is_found_at_that_row(db: Session, events: list[int]) -> None:
    last = db.get(CustodyEvent, events[-1])
    forged = CustodyEvent(**{c: getattr(last, c) for c in (
        "kind", "container_id", "checkpoint_id", "officer_id", "event_time", "event_time_zone",
        "recorded_at", "seal_intact", "remarks", "device")}, measured_net_g=20_000,
        client_event_id=str(uuid.uuid4()), prev_hash=last.row_hash)
    forged.row_hash = row_hash(last.row_hash, forged)
    db.add(forged)
    db.flush()  # an INSERT: the triggers allow it, only the chain head can tell
    report = verify_chain(db, CustodyEvent)
    assert report.broken_row_id == forged.id and "forged" in (report.reason or "")


def test_forged_row_in_the_middle_is_found_at_that_row(db: Session, events: list[int]) -> None:
    tamper(db, "DELETE FROM custody_events WHERE id = :id", id=events[2])
    tamper(db, "INSERT INTO custody_events (id, client_event_id, kind, container_id, checkpoint_id, officer_id, "
               "event_time, event_time_zone, recorded_at, seal_intact, remarks, device, prev_hash, row_hash) "
               "SELECT :id, 'forged', kind, container_id, checkpoint_id, officer_id, event_time, event_time_zone, "
               "recorded_at, seal_intact, remarks, device, :prev, :hash FROM custody_events WHERE id = :src",
           id=events[2], src=events[1], prev="a" * 64, hash="b" * 64)
    report = verify_chain(db, CustodyEvent)
    assert report.broken_row_id == events[2]


def test_rows_cut_off_the_end_are_found(db: Session, events: list[int]) -> None:
    tamper(db, "DELETE FROM custody_events WHERE id = :id", id=events[-1])
    report = verify_chain(db, CustodyEvent)
    assert not report.ok and "deleted from the end" in (report.reason or "")


def test_editing_a_register_entry_is_found_at_that_row(db: Session, make_user, make_dealer) -> None:
    seller = make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))
    record_stock_entry(db, seller, StockEntryInput("production", 100_000, today_kg() - timedelta(days=9), "Khaidarkan"))
    buyer = make_dealer()
    entries = [record_sale(db, seller, SaleInput(seller.dealer_id, buyer.id, 1_000 * n, "Osh",
                                                 today_kg() - timedelta(days=5))) for n in (1, 2, 3)]
    tamper(db, "UPDATE transactions SET mass_g = 100 WHERE id = :id", id=entries[1].id)
    report = verify_chain(db, Transaction)
    assert report.broken_row_id == entries[1].id


@pytest.mark.parametrize("statement", ["UPDATE custody_events SET remarks = 'changed'", "DELETE FROM custody_events",
                                       "TRUNCATE custody_events CASCADE"])
def test_postgresql_refuses_to_change_or_delete_evidence(db: Session, events: list[int], statement: str) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    with pytest.raises(DBAPIError, match="append-only evidence"):
        with db.begin_nested():
            db.execute(text(statement))
    assert verify_chain(db, CustodyEvent).ok


def test_verify_chain_command_prints_ok_with_counts_or_the_broken_row(
        app: Flask, db: Session, events: list[int]) -> None:
    db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["verify-chain"])
    assert result.exit_code == 0, result.output
    assert "custody_events: OK, 5 rows" in result.output and result.output.rstrip().endswith("rows intact")
    tamper(db, "UPDATE custody_events SET seal_intact = :broken WHERE id = :id", broken=False, id=events[3])
    db.commit()
    result = runner.invoke(args=["verify-chain"])
    assert result.exit_code == 1
    assert f"custody_events: BROKEN at row {events[3]}" in result.output
