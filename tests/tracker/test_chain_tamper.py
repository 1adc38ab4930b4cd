"""Tamper evidence: each kind of tampering is found at the exact row; PostgreSQL refuses edits outright.

On PostgreSQL the tampering is done the way an attacker with superuser rights would:
with the append-only triggers switched off (``session_replication_role = replica``).
Re-hashing a whole chain with the project's own function is caught by the signed head;
moving the head back to an older, validly signed one, by a head an auditor witnessed.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tracker.domain.chain import row_hash
from tracker.domain.chain_verify import verify_chain
from tracker import create_app
from tracker.domain import signing
from tracker.domain.custody import record_custody_event
from tracker.domain.register import SaleInput, StockEntryInput, record_sale, record_stock_entry, today_kg
from tracker.domain.signed_heads import sign_head
from tracker.domain.witness import WitnessError, export_heads, read_witnessed, sign_unsigned_chains
from tracker.models import Activity, ChainHead, ChainSignature, CustodyEvent, Transaction

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def events(db: Session, make_user, make_container, make_checkpoint) -> list[int]:
    """Five chained custody events; returns their ids in chain order."""
    container, post = make_container(), make_checkpoint()
    officer = make_user("customs_officer", checkpoints=[post])
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


# ------------------------------------------------ signed heads: what re-hashing and moving back cannot hide
def rehash(db: Session, model: Any) -> None:
    """Recompute every hash of ``model``'s chain with the project's own function, and its head, as an attacker would."""
    table, prev = model.__tablename__, None
    for row_id in db.scalars(select(model.id).order_by(model.id)).all():
        new = row_hash(prev, db.get(model, row_id))
        tamper(db, f"UPDATE {table} SET prev_hash = :prev, row_hash = :new WHERE id = :id",
               prev=prev, new=new, id=row_id)
        prev = new
    tamper(db, "UPDATE chain_heads SET tip_hash = :tip WHERE chain = :chain", tip=prev, chain=table)


@pytest.fixture
def big_sale(db: Session, make_user, make_dealer) -> Transaction:
    """A 138,000 g sale, the newest row of the transactions chain."""
    seller = make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))
    record_stock_entry(db, seller, StockEntryInput("production", 200_000, today_kg() - timedelta(days=9), "Khaidarkan"))
    return record_sale(db, seller, SaleInput(seller.dealer_id, make_dealer().id, 138_000, "Osh",
                                             today_kg() - timedelta(days=5)))


def test_sale_shrunk_and_every_hash_recomputed_is_caught_by_the_signed_head(db: Session, big_sale: Transaction) -> None:
    tamper(db, "UPDATE transactions SET mass_g = 13800 WHERE id = :id", id=big_sale.id)
    rehash(db, Transaction)
    report = verify_chain(db, Transaction)
    assert not report.ok and "rewritten" in (report.reason or "")
    assert report.broken_row_id == big_sale.id


def test_head_re_signed_without_the_key_does_not_verify(db: Session, big_sale: Transaction) -> None:
    tamper(db, "UPDATE transactions SET mass_g = 13800 WHERE id = :id", id=big_sale.id)
    rehash(db, Transaction)
    head = db.get(ChainHead, "transactions")
    tamper(db, "DELETE FROM chain_signatures WHERE chain = 'transactions' AND length = :n", n=head.length)
    forger = signing.Signer(Ed25519PrivateKey.generate())  # the attacker's own key
    statement = signing.HeadStatement("transactions", head.length, head.tip_hash, datetime.now(timezone.utc))
    db.add(ChainSignature(chain="transactions", length=head.length, tip_hash=head.tip_hash,
                          signed_at=statement.signed_at, key_id=forger.key_id, signature=forger.sign(statement)))
    db.flush()
    report = verify_chain(db, Transaction)
    assert not report.ok and "does not verify" in (report.reason or "")


def test_an_auditor_with_another_key_sees_the_signatures_fail(db: Session, events: list[int]) -> None:
    stranger = signing.Signer(Ed25519PrivateKey.generate())
    assert verify_chain(db, CustodyEvent).ok
    assert "does not verify" in (verify_chain(db, CustodyEvent, stranger).reason or "")


def witness(db: Session) -> list[signing.HeadStatement]:
    """What an auditor keeps: the exported signed heads, read back and checked."""
    verifier = signing.current_signer()
    return read_witnessed(json.dumps(export_heads(db, verifier)), verifier)


def move_head_back(db: Session, last_id: int) -> None:
    """Delete the newest custody event and its signed head: the head before it is validly signed."""
    length = db.scalar(select(ChainHead.length).where(ChainHead.chain == "custody_events"))
    tamper(db, "DELETE FROM custody_events WHERE id = :id", id=last_id)
    tamper(db, "DELETE FROM chain_signatures WHERE chain = 'custody_events' AND length = :n", n=length)
    previous = db.scalar(select(CustodyEvent.row_hash).order_by(CustodyEvent.id.desc()).limit(1))
    tamper(db, "UPDATE chain_heads SET length = :n, tip_hash = :tip WHERE chain = 'custody_events'",
           n=length - 1, tip=previous)


def test_head_moved_back_is_caught_against_a_witnessed_head(db: Session, events: list[int]) -> None:
    witnessed = witness(db)
    move_head_back(db, events[-1])
    assert verify_chain(db, CustodyEvent).ok  # signed and consistent: only a witness can tell
    report = verify_chain(db, CustodyEvent, witnessed=witnessed)
    assert not report.ok and "moved back" in (report.reason or "")


def test_chain_that_grew_after_witnessing_still_extends_the_witnessed_head(
        db: Session, events: list[int], make_user, make_container, make_checkpoint) -> None:
    witnessed = witness(db)
    container, post = make_container(), make_checkpoint()
    officer = make_user("customs_officer", checkpoints=[post])
    record_custody_event(db, officer, {
        "client_event_id": str(uuid.uuid4()), "sscc": container.sscc, "checkpoint": post.code,
        "kind": "inspection", "seal_intact": True, "measured_net_g": 34_500,
        "event_time": datetime.now(timezone.utc).isoformat()})
    assert verify_chain(db, CustodyEvent, witnessed=witnessed).ok


def test_rewritten_prefix_is_caught_against_a_witnessed_head_even_when_re_signed(
        db: Session, events: list[int]) -> None:
    witnessed = witness(db)
    tamper(db, "UPDATE custody_events SET measured_net_g = 30000 WHERE id = :id", id=events[1])
    rehash(db, CustodyEvent)
    head = db.get(ChainHead, "custody_events")
    tamper(db, "DELETE FROM chain_signatures WHERE chain = 'custody_events' AND length = :n", n=head.length)
    sign_head(db, "custody_events", head.length, head.tip_hash)  # even a thief of the key ...
    db.flush()
    assert verify_chain(db, CustodyEvent).ok
    report = verify_chain(db, CustodyEvent, witnessed=witnessed)  # ... cannot rewrite what was witnessed
    assert not report.ok and "rewritten" in (report.reason or "")


def test_witnessed_heads_file_not_signed_by_the_key_is_refused(db: Session, events: list[int]) -> None:
    document = export_heads(db, signing.current_signer())
    document["heads"][0]["length"] += 1
    with pytest.raises(WitnessError, match="not signed by key"):
        read_witnessed(json.dumps(document), signing.current_signer())


def test_verify_chain_exports_a_head_and_later_checks_the_chain_against_it(
        app: Flask, db: Session, events: list[int], tmp_path: Path) -> None:
    db.commit()
    runner, witnessed = app.test_cli_runner(), tmp_path / "heads.json"
    result = runner.invoke(args=["verify-chain", "--export-head", str(witnessed)])
    assert result.exit_code == 0, result.output
    assert json.loads(witnessed.read_text())["heads"][0]["chain"] == "custody_events"
    assert runner.invoke(args=["verify-chain", "--against", str(witnessed)]).exit_code == 0
    move_head_back(db, events[-1])
    db.commit()
    assert runner.invoke(args=["verify-chain"]).exit_code == 0
    result = runner.invoke(args=["verify-chain", "--against", str(witnessed)])
    assert result.exit_code == 1 and "custody_events: BROKEN" in result.output and "moved back" in result.output


def test_auditor_verifies_with_the_printed_public_key_alone(
        app: Flask, db: Session, events: list[int], tmp_path: Path) -> None:
    db.commit()
    runner, public = app.test_cli_runner(), tmp_path / "mercury.pub"
    public.write_text(runner.invoke(args=["evidence", "public-key"]).output)
    assert "PRIVATE" not in public.read_text()
    result = runner.invoke(args=["verify-chain", "--public-key", str(public)])
    assert result.exit_code == 0, result.output


def test_rows_written_before_signing_are_signed_once_and_only_when_unsigned(db: Session, events: list[int]) -> None:
    tamper(db, "DELETE FROM chain_signatures")
    assert "no signed head" in (verify_chain(db, CustodyEvent).reason or "")
    assert "custody_events" in sign_unsigned_chains(db)
    assert verify_chain(db, CustodyEvent).ok and sign_unsigned_chains(db) == []


def test_verify_chain_without_any_key_asks_for_the_public_key_and_makes_none(
        tmp_path: Path, evidence_key: Path) -> None:
    instance = tmp_path / "instance"
    try:
        app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x" * 32,
                          "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                          "EVIDENCE_KEY_FILE": str(instance / "evidence-signing-key.pem")})
        result = app.test_cli_runner().invoke(args=["verify-chain"])
    finally:
        signing.use_key_file(evidence_key)  # the app pointed this process at its (missing) key
    assert result.exit_code == 1 and "--public-key" in result.output
    assert not (instance / "evidence-signing-key.pem").exists()
