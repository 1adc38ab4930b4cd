"""The ingestion pipeline: each handler, de-duplication, flags, and a failing handler."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway import evaluation
from beacon_gateway.evaluation import incremental
from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import BATCH_REJECTED, FORBIDDEN, INVALID, UNAUTHORIZED, Batch, build_pipeline
from beacon_gateway.position import (
    FLAG_APPROXIMATE,
    FLAG_FROZEN,
    FLAG_FUTURE,
    FLAG_IMPOSSIBLE_JUMP,
    FLAG_INVALID_FIX,
    FLAG_LATE,
    FLAG_NULL_ISLAND,
    FLAG_TIME_BACKWARDS,
    FLAG_WEEK_ROLLOVER,
    Position,
)
from beacon_gateway.writer import BatchWriter, NotStored, Outcome
from tracker.domain.tokens import issue_token, revoke_token
from tracker.models import DeclarationStatus, DeviceMessage
from tracker.models import Position as PositionRow

SETTINGS = GatewaySettings(database_url="sqlite://")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(minutes=5)


@pytest.fixture(autouse=True)
def fresh_clock() -> None:
    """Fixes are five minutes old when each test runs, not when the module was loaded (else a long run flags them late)."""
    global NOW, T0
    NOW = datetime.now(timezone.utc).replace(microsecond=0)
    T0 = NOW - timedelta(minutes=5)


def fix(device_id: str, seconds: float = 0, lat: float = 40.5, lon: float = 72.8, **kw: Any) -> Position:
    """A plain valid fix ``seconds`` after T0."""
    kw.setdefault("raw", f"{device_id}@{seconds}".encode())
    return Position(device_id=device_id, fix_time=T0 + timedelta(seconds=seconds), lat=lat, lon=lon,
                    protocol="json", **kw)


class Failing:
    """A handler that always fails, to prove the pipeline goes on."""

    name = "failing"

    def __init__(self, settings: GatewaySettings) -> None:
        pass

    def __call__(self, batch: Batch) -> None:
        raise RuntimeError("broken handler")


@pytest.fixture
def writer(sessions: sessionmaker[Session]) -> BatchWriter:
    """A writer on the test transaction; tests call ``write`` on their own thread."""
    return BatchWriter(sessions, build_pipeline(SETTINGS))


def ingest(writer: BatchWriter, *submissions: list[Position], token: str | None = None) -> list[Any]:
    """Write the submissions as one batch; return each one's Outcome (or NotStored)."""
    from beacon_gateway.writer import Submission

    items = [Submission(positions, token) for positions in submissions]
    writer.write(items)
    return [item.future.exception() or item.future.result() for item in items]


def rows(db: Session, beacon_id: int) -> list[PositionRow]:
    db.expire_all()
    return list(db.scalars(select(PositionRow).where(PositionRow.beacon_id == beacon_id)
                           .order_by(PositionRow.fix_time)))


def test_positions_of_a_registered_beacon_are_stored_with_raw_message(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    [outcome] = ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 30, speed_kmh=40.0)])
    assert outcome == Outcome(stored=2)
    stored = rows(db, beacon.id)
    assert [r.raw for r in stored] == [f"{beacon.device_id}@0".encode(), f"{beacon.device_id}@30".encode()]
    assert stored[1].speed_kmh == 40.0 and stored[1].fix_time == T0 + timedelta(seconds=30)


def test_every_value_is_stored_exactly_as_received(db, writer, make_beacon) -> None:
    """The batch travels to the database as one document: nothing may be rounded or re-encoded on the way."""
    beacon = make_beacon()
    raw = bytes(range(256)) + b"\x00\xff"
    when = (T0 + timedelta(microseconds=123457)).astimezone(timezone(timedelta(hours=6)))
    position = Position(device_id=beacon.device_id, fix_time=when, lat=40.123456789012345, lon=72.99999999999999,
                        protocol="json", raw=raw, speed_kmh=0.1 + 0.2, course=359.9999999, altitude_m=-12.5e-7,
                        accuracy_m=1e-300, hdop=123456789.125, satellites=2**31 - 1)
    assert ingest(writer, [position]) == [Outcome(stored=1)]
    [row] = rows(db, beacon.id)
    assert (row.fix_time, row.lat, row.lon, row.raw) == (when, 40.123456789012345, 72.99999999999999, raw)
    assert (row.speed_kmh, row.course, row.altitude_m, row.accuracy_m, row.hdop, row.satellites) == (
        0.1 + 0.2, 359.9999999, -12.5e-7, 1e-300, 123456789.125, 2**31 - 1)


def test_a_value_past_its_column_refuses_only_its_own_message(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    big, good = ingest(writer, [fix(beacon.device_id, 0, satellites=2**63)], [fix(beacon.device_id, 30)])
    assert [(r.code, r.reason) for r in big.rejected] == [
        (INVALID, f"satellites: satellites must be at most {2**31 - 1}, got {2**63}")]
    assert good == Outcome(stored=1)
    assert [r.fix_time for r in rows(db, beacon.id)] == [T0 + timedelta(seconds=30)]


def test_unregistered_device_is_refused_and_nothing_stored(db, writer) -> None:
    [outcome] = ingest(writer, [fix("999999999999999")])
    assert [(r.code, r.reason) for r in outcome.rejected] == [
        (UNAUTHORIZED, "device '999999999999999' is not a registered beacon")]
    assert db.scalar(select(PositionRow.id).limit(1)) is None


def test_token_must_be_live_and_belong_to_the_beacon(db, writer, make_beacon) -> None:
    mine, other = make_beacon(), make_beacon()
    token_row, token = issue_token(db, name="t", beacon=mine)
    _, revoked = issue_token(db, name="old", beacon=mine)
    revoke_token(db.scalars(select(type(token_row)).where(type(token_row).name == "old")).one())
    db.flush()
    assert ingest(writer, [fix(other.device_id)], token=token)[0].rejected[0].code == FORBIDDEN
    assert ingest(writer, [fix(mine.device_id)], token=revoked)[0].rejected[0].code == UNAUTHORIZED
    assert ingest(writer, [fix(mine.device_id)], token=token)[0] == Outcome(stored=1)
    db.refresh(token_row)
    assert token_row.last_used_at is not None
    assert rows(db, other.id) == []


def test_out_of_range_ping_refuses_its_whole_submission_but_not_the_others(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    bad, good = ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 30, lat=91.0)],
                       [fix(beacon.device_id, 60)])
    assert [(r.index, r.code) for r in bad.rejected] == [(0, BATCH_REJECTED), (1, INVALID)]
    assert "latitude must be within -90..90" in bad.rejected[1].reason
    assert good == Outcome(stored=1)
    assert [r.fix_time for r in rows(db, beacon.id)] == [T0 + timedelta(seconds=60)]
    # the refused ping is kept as evidence with its reason (its neighbour, refused only with it, is not)
    [kept] = db.scalars(select(DeviceMessage).where(DeviceMessage.beacon_id == beacon.id)).all()
    assert kept.kind == "refused" and "latitude must be within -90..90" in kept.reason


def test_same_ping_twice_is_one_row_whether_in_one_batch_or_two(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    first, again = ingest(writer, [fix(beacon.device_id, 0)], [fix(beacon.device_id, 0)])
    later = ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 30)])[0]
    assert (first, again, later) == (Outcome(stored=1), Outcome(duplicates=1), Outcome(stored=1, duplicates=1))
    assert len(rows(db, beacon.id)) == 2


@pytest.mark.parametrize(("position", "flag"), [
    (dict(valid=False), FLAG_INVALID_FIX),
    (dict(lat=0.0, lon=0.0), FLAG_NULL_ISLAND),
    (dict(accuracy_m=1500.0), FLAG_APPROXIMATE),
    (dict(extra={"source": "cell"}), FLAG_APPROXIMATE),
    (dict(seconds=3600), FLAG_FUTURE),
    (dict(seconds=-3600), FLAG_LATE),
    (dict(seconds=-timedelta(weeks=1024).total_seconds()), FLAG_WEEK_ROLLOVER),
])
def test_suspicious_fix_is_stored_with_its_flag(db, writer, make_beacon, position, flag) -> None:
    beacon = make_beacon()
    assert ingest(writer, [fix(beacon.device_id, **position)])[0] == Outcome(stored=1)
    [row] = rows(db, beacon.id)
    assert row.flags == [flag]


def test_plain_fix_has_no_flags(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 30, lat=40.501, speed_kmh=20.0)])
    assert [r.flags for r in rows(db, beacon.id)] == [[], []]


def test_jump_from_the_previous_stored_fix_is_impossible(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    ingest(writer, [fix(beacon.device_id, 0, lat=40.5)])
    ingest(writer, [fix(beacon.device_id, 60, lat=41.0), fix(beacon.device_id, 120, lat=41.0005)])
    assert [r.flags for r in rows(db, beacon.id)] == [[], [FLAG_IMPOSSIBLE_JUMP], []]  # 55 km in 1 min


def test_frozen_coordinates_while_moving_are_flagged(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 60, speed_kmh=70.0)])
    assert [r.flags for r in rows(db, beacon.id)] == [[], [FLAG_FROZEN]]


def test_fix_the_device_sent_after_a_later_one_is_flagged_going_backwards(db, writer, make_beacon) -> None:
    beacon = make_beacon()
    ingest(writer, [fix(beacon.device_id, 60), fix(beacon.device_id, 30, lat=40.5001)])
    assert [r.flags for r in rows(db, beacon.id)] == [[FLAG_TIME_BACKWARDS], []]


def test_late_fix_is_judged_against_its_neighbours_in_time_and_its_successor_is_rejudged(
        db, writer, make_beacon) -> None:
    beacon = make_beacon()
    ingest(writer, [fix(beacon.device_id, 0, lat=40.5)])
    ingest(writer, [fix(beacon.device_id, 120, lat=40.5005)])
    assert [r.flags for r in rows(db, beacon.id)] == [[], []]
    ingest(writer, [fix(beacon.device_id, 60, lat=41.0)])  # delivered late, 55 km away
    assert [r.flags for r in rows(db, beacon.id)] == [[], [FLAG_IMPOSSIBLE_JUMP], [FLAG_IMPOSSIBLE_JUMP]]


def test_flags_do_not_depend_on_delivery_order(db, writer, make_beacon) -> None:
    in_order, shuffled = make_beacon(), make_beacon()
    track = [(0, 40.5), (60, 41.0), (120, 41.0005), (180, 41.001)]
    for seconds, lat in track:
        ingest(writer, [fix(in_order.device_id, seconds, lat=lat, speed_kmh=50.0)])
    for seconds, lat in (track[2], track[0], track[3], track[1]):
        ingest(writer, [fix(shuffled.device_id, seconds, lat=lat, speed_kmh=50.0)])
    assert [r.flags for r in rows(db, shuffled.id)] == [r.flags for r in rows(db, in_order.id)] == \
        [[], [FLAG_IMPOSSIBLE_JUMP], [], []]


def test_position_gets_the_declaration_the_beacon_travelled_with_at_fix_time(
        db, writer, make_beacon, make_declaration) -> None:
    beacon = make_beacon()
    declaration = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=beacon,
                                   departed_at=T0 + timedelta(seconds=10))
    ingest(writer, [fix(beacon.device_id, 0), fix(beacon.device_id, 20)])
    assert [r.declaration_id for r in rows(db, beacon.id)] == [None, declaration.id]


def test_evaluation_runs_once_per_declaration_from_the_earliest_new_fix(
        db, writer, make_beacon, make_declaration, monkeypatch) -> None:
    calls: list[tuple[int, datetime | None]] = []
    monkeypatch.setattr(incremental, "reevaluate_many",
                        lambda session, since_by_declaration, **_kw: calls.extend(since_by_declaration.items()))
    beacon = make_beacon()
    declaration = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=beacon, departed_at=T0)
    ingest(writer, [fix(beacon.device_id, 90)], [fix(beacon.device_id, 30), fix(beacon.device_id, 60)])
    ingest(writer, [fix(beacon.device_id, 30)])  # a duplicate: nothing new to evaluate
    assert calls == [(declaration.id, T0 + timedelta(seconds=30))]


def test_when_the_batch_evaluation_fails_each_declaration_is_evaluated_alone(
        db, writer, make_beacon, make_declaration, monkeypatch, caplog) -> None:
    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("batch evaluation bug")

    alone: list[int] = []
    monkeypatch.setattr(incremental, "evaluate_new_fixes", broken)
    monkeypatch.setattr(evaluation, "reevaluate",
                        lambda session, declaration_id, since=None, now=None: alone.append(declaration_id))
    beacons = [make_beacon() for _ in range(3)]
    declarations = [make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=b, departed_at=T0) for b in beacons]
    with caplog.at_level(logging.ERROR):
        ingest(writer, *[[fix(b.device_id, 10)] for b in beacons])
    assert "retrying each alone" in caplog.text
    assert alone == sorted(d.id for d in declarations)


def test_failing_evaluation_is_logged_and_the_positions_are_still_stored(
        db, writer, make_beacon, make_declaration, monkeypatch, caplog) -> None:
    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("evaluation bug")

    monkeypatch.setattr(incremental, "reevaluate_many", broken)
    monkeypatch.setattr(evaluation, "reevaluate", broken)
    beacon = make_beacon()
    make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=beacon, departed_at=T0)
    with caplog.at_level(logging.ERROR):
        assert ingest(writer, [fix(beacon.device_id, 10)])[0] == Outcome(stored=1)
    assert "evaluation of declaration" in caplog.text and "evaluation bug" in caplog.text
    assert len(rows(db, beacon.id)) == 1


def test_a_failing_handler_is_logged_and_the_pipeline_goes_on(db, sessions, make_beacon, caplog) -> None:
    writer = BatchWriter(sessions, build_pipeline(SETTINGS, extra=[Failing]))
    beacon = make_beacon()
    with caplog.at_level(logging.ERROR):
        assert ingest(writer, [fix(beacon.device_id)])[0] == Outcome(stored=1)
    assert "handler failing failed" in caplog.text


def test_positions_are_not_acknowledged_when_the_store_handler_fails(db, sessions, make_beacon,
                                                                      monkeypatch) -> None:
    from beacon_gateway.handlers import store

    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.StorePositions, "_insert", staticmethod(broken))
    writer = BatchWriter(sessions, build_pipeline(SETTINGS))
    beacon = make_beacon()
    first, twin = ingest(writer, [fix(beacon.device_id)], [fix(beacon.device_id)])
    assert isinstance(first, NotStored) and isinstance(twin, NotStored)
    assert rows(db, beacon.id) == []


def test_failing_authentication_stores_nothing_unchecked(db, sessions, make_beacon, monkeypatch) -> None:
    from beacon_gateway.handlers import authenticate

    def broken(*_args: Any, **_kw: Any) -> dict[str, int]:
        raise RuntimeError("auth bug")

    monkeypatch.setattr(authenticate, "lock_registered", broken)
    writer = BatchWriter(sessions, build_pipeline(SETTINGS))
    beacon = make_beacon()
    assert isinstance(ingest(writer, [fix(beacon.device_id)])[0], NotStored)
    assert rows(db, beacon.id) == []


def test_database_that_refuses_the_batch_leaves_every_submission_unacknowledged(
        db, sessions, make_beacon, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from beacon_gateway import writer as writer_module

    writer = BatchWriter(sessions, build_pipeline(SETTINGS))
    attempts: list[int] = []

    def down(_submissions: Any) -> Any:
        attempts.append(1)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(writer, "_transaction", down)
    monkeypatch.setattr(writer_module.time, "sleep", lambda _s: None)
    beacon = make_beacon()
    outcomes = ingest(writer, [fix(beacon.device_id, 0)], [fix(beacon.device_id, 30)])
    assert all(isinstance(o, NotStored) for o in outcomes)
    assert len(attempts) == writer_module.RETRIES  # retried as one batch, not once per submission
