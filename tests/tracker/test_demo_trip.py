"""The demo truck of `make run` drives the demo's own export, even after a user dispatched a newer one."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.demo import load_demo
from tracker.domain.demo_trip import DEMO_TRUCK_BEACON, demo_trip
from tracker.models import Declaration, DeclarationStatus

RUN_SH = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"


def dispatch_a_newer_one(db: Session) -> Declaration:
    """Put another demo declaration on the road now, as a user dispatching their own would."""
    other = db.scalars(select(Declaration).where(Declaration.status == DeclarationStatus.APPROVED)
                       .order_by(Declaration.id)).first()
    assert other is not None and other.route is not None
    other.status = DeclarationStatus.IN_TRANSIT
    other.departed_at = datetime.now(timezone.utc)
    db.flush()
    return other


def test_the_demo_trip_is_the_export_to_ak_jol(db: Session) -> None:
    load_demo(db)
    trip = demo_trip(db)
    assert trip is not None and trip.status == DeclarationStatus.IN_TRANSIT
    assert trip.destination.code == "AKJOL" and trip.beacon.device_id == DEMO_TRUCK_BEACON


def test_a_newer_departure_does_not_take_the_demo_trucks_place(db: Session) -> None:
    load_demo(db)
    demo = demo_trip(db)
    newer = dispatch_a_newer_one(db)
    assert newer.departed_at > demo.departed_at
    assert demo_trip(db) is demo


def test_a_later_declaration_on_the_demo_truck_is_not_the_demo_trip(db: Session) -> None:
    load_demo(db)
    demo = demo_trip(db)
    demo.status = DeclarationStatus.CLOSED
    db.flush()
    newer = dispatch_a_newer_one(db)
    newer.beacon_id = demo.beacon_id
    db.flush()
    assert demo_trip(db) is None


def test_no_demo_trip_once_it_left_the_road(db: Session) -> None:
    load_demo(db)
    demo = demo_trip(db)
    demo.status = DeclarationStatus.ARRIVED
    db.flush()
    assert demo_trip(db) is None


def test_flask_demo_trip_prints_the_reference_make_run_drives(app: Flask, db: Session) -> None:
    load_demo(db)
    db.commit()
    expected = demo_trip(db).reference
    dispatch_a_newer_one(db)
    db.commit()
    result = app.test_cli_runner().invoke(args=["demo", "--trip"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected
    script = RUN_SH.read_text()
    assert 'DEMO_TRIP=$(flask demo --trip)' in script and '--declaration "$DEMO_TRIP"' in script
    assert "--declaration in-transit" not in script
