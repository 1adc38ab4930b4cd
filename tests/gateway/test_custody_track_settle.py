"""A beacon's fix delivered after a custody event settles the event's "no beacon position" alert."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import build_pipeline
from beacon_gateway.position import Position
from beacon_gateway.writer import BatchWriter, Outcome, Submission
from tracker.domain.custody import record_custody_event
from tracker.models import Alert, AlertStatus, Declaration, DeclarationStatus, User

#: Metres per degree of latitude.
M_PER_DEG = 111_195.0


@pytest.fixture
def writer(sessions: sessionmaker[Session]) -> BatchWriter:
    """A writer on the test transaction."""
    return BatchWriter(sessions, build_pipeline(GatewaySettings(database_url="sqlite://")))


@pytest.fixture
def scanned(db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
            make_user: Callable[..., User]) -> tuple[Declaration, datetime, Alert]:
    """A departure scanned 7 minutes ago while the beacon had sent nothing: its "no position" alert."""
    moment = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=7)
    declaration = make_declaration(status=DeclarationStatus.APPROVED, beacon=make_beacon(),
                                   planned_departure=moment - timedelta(minutes=30),
                                   planned_arrival=moment + timedelta(days=1))
    officer = make_user("customs_officer", checkpoints=[declaration.origin])
    outcome = record_custody_event(db, officer, {
        "client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
        "checkpoint": declaration.origin.code, "kind": "departure", "seal_intact": True,
        "event_time": moment.isoformat()})
    [alert] = [a for a in outcome.alerts if a.kind == "no_beacon_position_at_custody"]
    db.commit()
    return declaration, moment, alert


def deliver(writer: BatchWriter, declaration: Declaration, at: datetime, metres_north: float) -> Outcome:
    assert declaration.beacon is not None
    fix = Position(device_id=declaration.beacon.device_id, fix_time=at, protocol="json", raw=b"buffered",
                   lat=declaration.origin.lat + metres_north / M_PER_DEG, lon=declaration.origin.lon)
    item = Submission([fix], None)
    writer.write([item])
    return item.future.result()


@pytest.mark.parametrize(("metres", "opened"), [(150, []), (30_000, ["beacon_not_with_cargo"])])
def test_buffered_fix_near_the_event_time_closes_the_no_position_alert(
        db: Session, writer: BatchWriter, scanned: tuple[Declaration, datetime, Alert], metres: float,
        opened: list[str]) -> None:
    declaration, moment, waiting = scanned
    assert deliver(writer, declaration, moment + timedelta(minutes=2), metres) == Outcome(stored=1)
    db.expire_all()
    assert waiting.status == AlertStatus.CLOSED and waiting.resolved_by_id is None
    later = db.scalars(select(Alert.kind).where(Alert.declaration_id == declaration.id,
                                                Alert.kind == "beacon_not_with_cargo")).all()
    assert list(later) == opened


def test_fix_far_from_the_event_time_leaves_the_alert_open(
        db: Session, writer: BatchWriter, scanned: tuple[Declaration, datetime, Alert]) -> None:
    declaration, moment, waiting = scanned
    assert deliver(writer, declaration, moment - timedelta(minutes=15), 0) == Outcome(stored=1)
    db.expire_all()
    assert waiting.status == AlertStatus.OPEN
