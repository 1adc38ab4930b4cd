"""Custody against the track: the beacon's nearest fix at a custody event, through the domain and the API."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.config import ConfigError, load_settings
from tracker.domain.custody import event_alerts, record_custody_event
from tracker.domain.custody_track import TRACK_KINDS, compare_with_beacon, settle_with_new_fixes
from tracker.models import Alert, AlertStatus, Declaration, DeclarationStatus, Position, User

pytestmark = pytest.mark.usefixtures("fast_passwords")

API = "/api/v1/custody-events"
#: Metres per degree of latitude (fixes are placed due north of the checkpoint).
M_PER_DEG = 111_195.0
NOT_WITH_CARGO, NO_POSITION = "beacon_not_with_cargo", "no_beacon_position_at_custody"


@pytest.fixture
def moment() -> datetime:
    """When the custody event happens: an hour ago, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def shipment(make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
             moment: datetime) -> Declaration:
    """An approved declaration Osh → Bishkek with a beacon, due to leave around ``moment``."""
    return make_declaration(status=DeclarationStatus.APPROVED, beacon=make_beacon(),
                            planned_departure=moment - timedelta(minutes=30),
                            planned_arrival=moment + timedelta(days=1))


@pytest.fixture
def officer(make_user: Callable[..., User], shipment: Declaration) -> User:
    """A customs officer posted at the shipment's origin."""
    return make_user("customs_officer", checkpoints=[shipment.origin])


def north(declaration: Declaration, metres: float) -> tuple[float, float]:
    """Return (lat, lon) ``metres`` due north of the declaration's origin."""
    return declaration.origin.lat + metres / M_PER_DEG, declaration.origin.lon


def put_fix(db: Session, declaration: Declaration, at: datetime, metres: float, *flags: str) -> Position:
    """Store a fix of the declaration's beacon at ``at``, ``metres`` north of the origin."""
    lat, lon = north(declaration, metres)
    assert declaration.beacon is not None
    fix = Position(beacon_id=declaration.beacon.id, fix_time=at, lat=lat, lon=lon, flags=list(flags),
                   protocol="osmand", raw=b"fix")
    db.add(fix)
    db.flush()
    return fix


def departure(declaration: Declaration, at: datetime, phone_m: float | None = None) -> dict[str, Any]:
    """The departure scan of the declaration's flask at its origin, with the phone's position if given."""
    body = {"client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
            "checkpoint": declaration.origin.code, "kind": "departure", "seal_intact": True,
            "event_time": at.isoformat(), "device": "phone"}
    if phone_m is not None:
        body["lat"], body["lon"] = north(declaration, phone_m)
    return body


def track_alerts(alerts: list[Any]) -> list[str]:
    kinds = [a["kind"] if isinstance(a, dict) else a.kind for a in alerts]
    return sorted(k for k in kinds if k in TRACK_KINDS)


#: (fixes as (minutes from the event, metres north of the checkpoint, flags...), phone's metres north, alerts)
CASES = {
    "beacon moved to another truck (30 km away)": ([(0, 30_000)], None, [NOT_WITH_CARGO]),
    "fix 5 min earlier, 300 m away": ([(-5, 300)], None, []),
    "no fix at all": ([], None, [NO_POSITION]),
    "only fix 12 min earlier": ([(-12, 0)], None, [NO_POSITION]),
    "fix 5 min later, 100 m away": ([(5, 100)], None, []),
    "1.9 km away": ([(0, 1_900)], None, []),
    "2.1 km away": ([(0, 2_100)], None, [NOT_WITH_CARGO]),
    "nearest in time wins (near, 2 min later)": ([(-8, 30_000), (2, 200)], None, []),
    "nearest in time wins (far, 1 min later)": ([(-8, 200), (1, 30_000)], None, [NOT_WITH_CARGO]),
    "a flagged jump is no location": ([(0, 30_000, "impossible_jump"), (-4, 100)], None, []),
    "only a null-island fix": ([(0, 100, "null_island")], None, [NO_POSITION]),
    "phone reported beside the beacon, away from the post": ([(0, 30_000)], 30_100, []),
    "phone reported 5 km from the beacon at the post": ([(0, 0)], 5_000, [NOT_WITH_CARGO]),
}


@pytest.mark.parametrize(("fixes", "phone_m", "expected"), CASES.values(), ids=CASES.keys())
def test_custody_event_is_compared_with_the_beacon_through_the_domain(
        db: Session, shipment: Declaration, officer: User, moment: datetime,
        fixes: list[tuple[Any, ...]], phone_m: float | None, expected: list[str]) -> None:
    for minutes, metres, *flags in fixes:
        put_fix(db, shipment, moment + timedelta(minutes=minutes), metres, *flags)
    outcome = record_custody_event(db, officer, departure(shipment, moment, phone_m))
    assert track_alerts(outcome.alerts) == expected
    assert event_alerts(db, outcome.event) == outcome.alerts


API_CASES = {k: CASES[k] for k in ("beacon moved to another truck (30 km away)", "fix 5 min earlier, 300 m away",
                                   "no fix at all", "phone reported 5 km from the beacon at the post",
                                   "phone reported beside the beacon, away from the post")}


@pytest.mark.parametrize(("fixes", "phone_m", "expected"), API_CASES.values(), ids=API_CASES.keys())
def test_custody_event_is_compared_with_the_beacon_through_the_api(
        client: FlaskClient, db: Session, shipment: Declaration, officer: User, moment: datetime,
        fixes: list[tuple[Any, ...]], phone_m: float | None, expected: list[str]) -> None:
    for minutes, metres, *flags in fixes:
        put_fix(db, shipment, moment + timedelta(minutes=minutes), metres, *flags)
    assert client.post("/api/v1/session", json={"login": officer.login, "password": PASSWORD}).status_code == 200
    body = departure(shipment, moment, phone_m)
    response = client.post(API, json=body)
    assert response.status_code == 201, response.json
    assert track_alerts(response.json["alerts"]) == expected
    again = client.post(API, json=body)
    assert again.status_code == 200 and track_alerts(again.json["alerts"]) == expected
    listed = client.get(f"/api/v1/custody-events/{response.json['id']}").json
    assert track_alerts(listed["alerts"]) == expected


def test_alert_says_how_far_the_beacon_was_when_and_which_beacon(
        db: Session, shipment: Declaration, officer: User, moment: datetime) -> None:
    put_fix(db, shipment, moment - timedelta(minutes=3), 30_000)
    [alert] = record_custody_event(db, officer, departure(shipment, moment)).alerts
    assert alert.kind == NOT_WITH_CARGO and alert.severity.value == "critical"
    assert alert.declaration_id == shipment.id and (alert.lat, alert.lon) == (shipment.origin.lat, shipment.origin.lon)
    d = alert.details
    assert 29_900 <= d["distance_m"] <= 30_100
    assert datetime.fromisoformat(d["fix_time"]) == moment - timedelta(minutes=3)
    assert d["beacon"] == shipment.beacon.device_id and d["measured_from"] == "checkpoint"
    assert d["checkpoint"] == shipment.origin.code and d["sscc"] == shipment.items[0].container.sscc


def test_phone_position_is_where_the_alert_is_placed(
        db: Session, shipment: Declaration, officer: User, moment: datetime) -> None:
    put_fix(db, shipment, moment, 0)
    [alert] = record_custody_event(db, officer, departure(shipment, moment, phone_m=5_000)).alerts
    assert alert.details["measured_from"] == "reported_position"
    assert alert.lat == pytest.approx(north(shipment, 5_000)[0]) and 4_900 <= alert.details["distance_m"] <= 5_100


def test_declaration_without_a_beacon_is_not_compared(
        db: Session, make_declaration: Callable[..., Declaration], make_user: Callable[..., User],
        moment: datetime) -> None:
    shipment = make_declaration(status=DeclarationStatus.APPROVED, planned_departure=moment - timedelta(minutes=30),
                                planned_arrival=moment + timedelta(days=1))
    officer = make_user("customs_officer", checkpoints=[shipment.origin])
    assert track_alerts(record_custody_event(db, officer, departure(shipment, moment)).alerts) == []


def test_the_limit_is_a_setting(db: Session, shipment: Declaration, officer: User, moment: datetime,
                                tmp_path: Any) -> None:
    put_fix(db, shipment, moment, 3_000)
    event = record_custody_event(db, officer, departure(shipment, moment)).event
    assert track_alerts(compare_with_beacon(db, event, shipment, limit_m=5_000)) == []
    assert track_alerts(compare_with_beacon(db, event, shipment, limit_m=2_000)) == [NOT_WITH_CARGO]
    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    assert load_settings(base, environ={}).custody_beacon_distance_m == 2_000
    assert load_settings({**base, "CUSTODY_BEACON_DISTANCE_M": "5000"}, environ={}).custody_beacon_distance_m == 5_000
    with pytest.raises(ConfigError, match="CUSTODY_BEACON_DISTANCE_M"):
        load_settings({**base, "CUSTODY_BEACON_DISTANCE_M": "-1"}, environ={})


def test_one_read_of_the_positions_per_event(db: Session, shipment: Declaration, officer: User,
                                             moment: datetime, statements: list[str]) -> None:
    for minutes in range(-30, 31):
        put_fix(db, shipment, moment + timedelta(minutes=minutes), 50)
    statements.clear()
    assert track_alerts(record_custody_event(db, officer, departure(shipment, moment)).alerts) == []
    reads = [s for s in statements if "FROM positions" in s]
    assert len(reads) == 1 and "positions.beacon_id =" in reads[0] and "LIMIT" in reads[0]


# ---------------------------------------------------------------- a fix that arrives after the event
LATE = {
    "near fix 3 min after": ((3, 200), AlertStatus.CLOSED, []),
    "far fix 3 min after": ((3, 30_000), AlertStatus.CLOSED, [NOT_WITH_CARGO]),
    "fix 20 min after": ((20, 0), AlertStatus.OPEN, []),
}


@pytest.mark.parametrize(("fix", "status", "opened"), LATE.values(), ids=LATE.keys())
def test_fix_arriving_after_the_event_settles_the_no_position_alert(
        db: Session, shipment: Declaration, officer: User, moment: datetime,
        fix: tuple[int, int], status: AlertStatus, opened: list[str]) -> None:
    [waiting] = record_custody_event(db, officer, departure(shipment, moment)).alerts
    assert waiting.kind == NO_POSITION
    late = put_fix(db, shipment, moment + timedelta(minutes=fix[0]), fix[1])
    assert shipment.beacon is not None
    now = datetime.now(timezone.utc)
    new = settle_with_new_fixes(db, {shipment.beacon.id: late.fix_time}, now)
    assert waiting.status == status and track_alerts(new) == opened
    if status == AlertStatus.CLOSED:
        assert waiting.resolved_by_id is None and f"{fix[1]} m" in waiting.resolution
    for alert in new:
        assert alert.details["late_fix"] is True and alert.details["custody_event_id"] == waiting.details[
            "custody_event_id"]


def test_no_position_alert_closed_by_an_officer_stays_closed(
        db: Session, shipment: Declaration, officer: User, moment: datetime) -> None:
    from tracker.domain.alerts import close_alert

    [waiting] = record_custody_event(db, officer, departure(shipment, moment)).alerts
    close_alert(db, waiting, officer, "beacon replaced at the gate")
    late = put_fix(db, shipment, moment, 30_000)
    assert shipment.beacon is not None
    assert settle_with_new_fixes(db, {shipment.beacon.id: late.fix_time}, datetime.now(timezone.utc)) == []
    assert db.scalars(select(Alert).where(Alert.kind == NOT_WITH_CARGO)).all() == []


@pytest.mark.parametrize(("fix", "kind"), [((0, 30_000), NOT_WITH_CARGO), (None, NO_POSITION), ((3, 30_000), "late")],
                         ids=["beacon not with cargo", "no position", "beacon not with cargo on a late fix"])
def test_the_officers_remarks_go_into_the_beacon_alerts(
        db: Session, shipment: Declaration, officer: User, moment: datetime, fix: tuple[int, int] | None,
        kind: str) -> None:
    if fix and kind != "late":
        put_fix(db, shipment, moment + timedelta(minutes=fix[0]), fix[1])
    remarked = {**departure(shipment, moment), "remarks": " Beacon strapped to the cab. "}
    outcome = record_custody_event(db, officer, remarked)
    alerts = outcome.alerts
    if kind == "late":
        assert shipment.beacon is not None and fix is not None
        late = put_fix(db, shipment, moment + timedelta(minutes=fix[0]), fix[1])
        alerts = settle_with_new_fixes(db, {shipment.beacon.id: late.fix_time}, datetime.now(timezone.utc))
    [alert] = [a for a in alerts if a.kind in TRACK_KINDS]
    assert alert.details["remarks"] == "Beacon strapped to the cab."


def test_without_remarks_the_beacon_alert_has_none(db: Session, shipment: Declaration, officer: User,
                                                   moment: datetime) -> None:
    [alert] = record_custody_event(db, officer, {**departure(shipment, moment), "remarks": "  "}).alerts
    assert alert.kind == NO_POSITION and "remarks" not in alert.details
