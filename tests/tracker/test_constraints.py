"""The database itself refuses bad rows, whatever the Python code does."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from tracker.domain.gs1 import make_sscc
from tracker.models import Container, DeclarationItem, Position, Role, User


def _insert_container(db: Session, owner_id: int, sscc: str, net_g: int = 34_500) -> None:
    db.execute(text(
        "INSERT INTO containers (sscc, container_type, tare_g, capacity_g, net_g, status, owner_id,"
        " custodian_id, registered_at) VALUES (:sscc, 'flask_34_5kg', 2700, 34500, :net, 'in_stock',"
        " :owner, :owner, CURRENT_TIMESTAMP)"), {"sscc": sscc, "net": net_g, "owner": owner_id})


def test_database_refuses_sscc_with_bad_check_digit(db: Session, make_dealer) -> None:
    owner = make_dealer()
    good = make_sscc(0, "470000001", 424242)
    _insert_container(db, owner.id, good)  # the same statement succeeds with a valid SSCC
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(IntegrityError, match="sscc_check_digit"):
        with db.begin_nested():
            _insert_container(db, owner.id, bad)


@pytest.mark.parametrize("sscc", ["12345678901234567", "1234567890123456789", "10614141123456789A"])
def test_database_refuses_malformed_sscc(db: Session, make_dealer, sscc: str) -> None:
    owner = make_dealer()
    # PostgreSQL stops a 19-digit value at the column length already; SQLite at the check.
    with pytest.raises(DBAPIError, match="sscc_check_digit|too long"):
        with db.begin_nested():
            _insert_container(db, owner.id, sscc)


def test_model_refuses_bad_sscc_before_the_database(make_dealer) -> None:
    with pytest.raises(ValueError, match="check digit should be 7"):
        Container(sscc="106141411234567890")


@pytest.mark.parametrize("mass", [0, -34_500])
def test_database_refuses_zero_or_negative_declared_mass(db: Session, make_declaration, mass: int) -> None:
    declaration = make_declaration()
    container_id = declaration.items[0].container_id
    with pytest.raises(IntegrityError, match="declared_net_g_positive"):
        with db.begin_nested():
            db.execute(text("UPDATE declaration_items SET declared_net_g = :m WHERE container_id = :c"),
                       {"m": mass, "c": container_id})


@pytest.mark.parametrize("mass", [0, -1])
def test_model_refuses_zero_or_negative_declared_mass(mass: int) -> None:
    with pytest.raises(ValueError, match="grams > 0"):
        DeclarationItem(declared_net_g=mass)


@pytest.mark.parametrize("mass", [0, -150])
def test_database_refuses_zero_or_negative_transaction_mass(db: Session, make_dealer, mass: int) -> None:
    seller, buyer = make_dealer(), make_dealer()
    with pytest.raises(IntegrityError, match="mass_g_positive"):
        with db.begin_nested():
            db.execute(text(
                "INSERT INTO transactions (kind, seller_id, buyer_id, mass_g, place, transaction_date,"
                " remarks, recorded_at, row_hash) VALUES ('sale', :s, :b, :m, 'Osh', '2026-11-01', '',"
                " CURRENT_TIMESTAMP, :h)"), {"s": seller.id, "b": buyer.id, "m": mass, "h": "a" * 64})


def test_database_refuses_container_heavier_than_its_capacity(db: Session, make_dealer) -> None:
    owner = make_dealer()
    with pytest.raises(IntegrityError, match="net_within_capacity"):
        with db.begin_nested():
            _insert_container(db, owner.id, make_sscc(0, "470000001", 77), net_g=34_501)


def test_duplicate_reference_is_refused(db: Session, make_declaration) -> None:
    first = make_declaration(status="approved")
    with pytest.raises(IntegrityError, match="(?i)unique|uq_declarations_reference"):
        with db.begin_nested():
            make_declaration(status="approved", reference=first.reference)


def test_duplicate_sscc_is_refused(db: Session, make_container) -> None:
    first = make_container()
    with pytest.raises(IntegrityError, match="(?i)unique|uq_containers_sscc"):
        with db.begin_nested():
            make_container(sscc=first.sscc)


def test_unknown_foreign_key_is_refused(db: Session) -> None:
    with pytest.raises(IntegrityError, match="(?i)foreign key"):
        with db.begin_nested():
            _insert_container(db, 999_999, make_sscc(0, "470000001", 5))


def test_unknown_enum_value_is_refused_by_the_database(db: Session, make_dealer) -> None:
    owner = make_dealer()
    with pytest.raises(IntegrityError, match="ck_containers_status"):
        with db.begin_nested():
            db.execute(text(
                "INSERT INTO containers (sscc, container_type, tare_g, capacity_g, net_g, status,"
                " owner_id, custodian_id, registered_at) VALUES (:s, 'flask_34_5kg', 2700, 34500, 1,"
                " 'vanished', :o, :o, CURRENT_TIMESTAMP)"), {"s": make_sscc(0, "470000001", 6), "o": owner.id})


def test_trader_without_dealer_is_refused_by_the_database(db: Session) -> None:
    with pytest.raises(IntegrityError, match="trader_has_dealer"):
        with db.begin_nested():
            db.add(User(login="lonely", name="Lonely", role=Role.TRADER, password_hash="x"))
            db.flush()


def test_one_position_per_beacon_and_fix_time(db: Session) -> None:
    from tracker.models import Beacon, BeaconProtocol
    beacon = Beacon(device_id="356307042441013", protocol=BeaconProtocol.OSMAND)
    db.add(beacon)
    db.flush()
    fix = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    db.add(Position(beacon_id=beacon.id, fix_time=fix, lat=40.5, lon=72.8, protocol="osmand", raw=b"a"))
    db.flush()
    with pytest.raises(IntegrityError, match="(?i)unique|uq_positions_beacon_id_fix_time"):
        with db.begin_nested():
            db.add(Position(beacon_id=beacon.id, fix_time=fix, lat=40.6, lon=72.9, protocol="osmand", raw=b"b"))
            db.flush()


def test_naive_timestamps_are_refused(db: Session, make_dealer) -> None:
    from tracker.models import Beacon, BeaconProtocol
    beacon = Beacon(device_id="356307042441014", protocol=BeaconProtocol.OSMAND)
    db.add(beacon)
    db.flush()
    with pytest.raises(StatementError, match="naive datetime"):
        with db.begin_nested():
            db.add(Position(beacon_id=beacon.id, fix_time=datetime(2026, 11, 20, 8, 0),
                            lat=40.5, lon=72.8, protocol="osmand", raw=b"a"))
            db.flush()


def test_timestamps_come_back_as_utc(db: Session, make_dealer) -> None:

    from tracker.models import Beacon, BeaconProtocol
    beacon = Beacon(device_id="356307042441015", protocol=BeaconProtocol.OSMAND)
    db.add(beacon)
    db.flush()
    bishkek = timezone(timedelta(hours=6))
    db.add(Position(beacon_id=beacon.id, fix_time=datetime(2026, 11, 20, 14, 0, tzinfo=bishkek),
                    lat=40.5, lon=72.8, protocol="osmand", raw=b"a"))
    db.flush()
    db.expire_all()
    stored = db.scalars(text("SELECT id FROM positions WHERE beacon_id = :b").bindparams(b=beacon.id)).one()
    position = db.get(Position, stored)
    assert position.fix_time == datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    assert position.fix_time.utcoffset() == timedelta(0)


def test_licence_period_must_not_end_before_it_starts(db: Session, make_dealer) -> None:
    dealer = make_dealer(licensed=False)
    with pytest.raises(IntegrityError, match="valid_period"):
        with db.begin_nested():
            db.execute(text(
                "INSERT INTO licenses (number, dealer_id, valid_from, valid_to, annual_quota_g, status,"
                " status_reason, issued_at) VALUES ('KG-X', :d, :f, :t, 1000, 'active', '', CURRENT_TIMESTAMP)"),
                {"d": dealer.id, "f": date(2026, 6, 1), "t": date(2026, 5, 31)})


def test_a_beacon_reports_for_one_moving_declaration_at_a_time(db: Session, make_declaration) -> None:
    from tracker.models import Beacon, BeaconProtocol
    beacon = Beacon(device_id="356307042441016", protocol=BeaconProtocol.TELTONIKA)
    db.add(beacon)
    moving = make_declaration(status="in_transit", beacon=beacon)
    make_declaration(status="closed", beacon=beacon)  # earlier trips keep their beacon
    db.expire(beacon)
    assert beacon.assigned_declaration is moving
    with pytest.raises(IntegrityError, match="(?i)unique|uq_declarations_beacon_busy"):
        with db.begin_nested():
            make_declaration(status="approved", beacon=beacon)
