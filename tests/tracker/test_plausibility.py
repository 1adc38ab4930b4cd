"""Plausible masses and times: each limit through the domain, the API and the portal.

Masses are whole grams within the container's capacity and the ceiling (100 t by default);
times carry an offset within ±14 h, lie within the last 30 days and at most 5 minutes ahead.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker import create_app
from tracker.config import ConfigError, load_settings
from tracker.domain.plausibility import (
    Limits,
    current_limits,
    day_problem,
    mass_problem,
    moment_problem,
    read_moment,
    use_limits,
)
from tracker.domain.gs1 import make_sscc
from tracker.domain.register import today_kg
from tracker.models import (
    Activity,
    CustodyEvent,
    Declaration,
    DeclarationStatus,
    ImportApproval,
    License,
    Role,
    StockEntry,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
CEILING = 100_000_000
#: Times no one records custody at, as the API receives them.
OUT_OF_RANGE = [
    ("0001-01-01T00:00:00+00:00", "more than 30 days ago"),
    ("0001-01-01T00:00:00+01:00", "more than 30 days ago"),   # its UTC instant is before year 1
    ("9999-12-31T23:59:59+14:00", "in the future"),
    ("9999-12-31T23:59:59-12:00", "in the future"),           # its UTC instant is after year 9999
    ("2026-12-04T18:00:00+23:59", "beyond ±14:00"),
    ("2026-12-04T10:00:00", "UTC offset"),
    ("yesterday", "ISO 8601"),
    ("2026-13-01T00:00:00+06:00", "ISO 8601"),
]


def kg_time(moment: datetime) -> str:
    """``moment`` as a station in Kyrgyzstan writes it."""
    return moment.astimezone(timezone(timedelta(hours=6))).isoformat(timespec="seconds")


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    """Every test starts and ends with the default limits (a test may install others)."""
    use_limits(Limits())
    yield
    use_limits(Limits())


# ---------------------------------------------------------------- the domain's limits
@pytest.mark.parametrize("grams, capacity, problem", [
    (1, None, None), (CEILING, None, None), (34_500, 34_500, None),
    (0, None, "whole grams > 0"), (-5, None, "whole grams > 0"), (True, None, "whole grams > 0"),
    (34.5, None, "whole grams > 0"), ("34500", None, "whole grams > 0"),
    (CEILING + 1, None, "more than the ceiling of 100000000 g (100000 kg)"),
    (2 ** 70, None, "more than the ceiling"),
    (34_501, 34_500, "more than the capacity of container"),
])
def test_a_mass_is_whole_grams_within_the_capacity_and_the_ceiling(grams: Any, capacity: int | None,
                                                                   problem: str | None) -> None:
    found = mass_problem(grams, capacity_g=capacity, sscc="047000000100000103")
    assert (found is None) if problem is None else (problem in found)


def test_zero_grams_is_plausible_where_an_empty_container_is_a_fact() -> None:
    assert mass_problem(0, minimum=0) is None and "whole grams >= 0" in mass_problem(-1, minimum=0)


def test_the_limits_are_settings_the_app_installs(tmp_path: Path) -> None:
    create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "MASS_CEILING_G": "50000",
                "PLAUSIBLE_PAST_DAYS": "2", "PLAUSIBLE_FUTURE_MINUTES": "0"})
    assert current_limits() == Limits(ceiling_g=50_000, past_days=2, future_minutes=0)
    assert mass_problem(50_000) is None and "ceiling of 50000 g" in mass_problem(50_001)
    assert "more than 2 days ago" in moment_problem(NOW - timedelta(days=2, seconds=1), NOW)
    assert "in the future" in moment_problem(NOW + timedelta(seconds=1), NOW)


@pytest.mark.parametrize("name, value", [("MASS_CEILING_G", "0"), ("MASS_CEILING_G", "100 t"),
                                         ("PLAUSIBLE_PAST_DAYS", "-1"), ("PLAUSIBLE_FUTURE_MINUTES", "soon")])
def test_a_bad_limit_setting_is_refused_naming_it(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", name: value})


@pytest.mark.parametrize("moment, problem", [
    (NOW, None),
    (NOW + timedelta(minutes=5), None),
    (NOW + timedelta(minutes=5, seconds=1), "in the future (at most 5 minutes ahead"),
    (NOW - timedelta(days=30), None),
    (NOW - timedelta(days=30, seconds=1), "more than 30 days ago"),
    (NOW.astimezone(timezone(timedelta(hours=14))), None),
    (NOW.astimezone(timezone(timedelta(hours=-12))), None),
    (NOW.replace(tzinfo=timezone(timedelta(hours=14, minutes=1))), "beyond ±14:00"),
    (NOW.replace(tzinfo=timezone(-timedelta(hours=14, minutes=1))), "beyond ±14:00"),
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "more than 30 days ago"),
    (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))), "in the future"),
    (NOW.replace(tzinfo=None), "with its UTC offset"),
])
def test_an_event_time_lies_in_the_last_30_days_and_at_most_5_minutes_ahead(moment: datetime,
                                                                            problem: str | None) -> None:
    found = moment_problem(moment, NOW)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("raw, problem", OUT_OF_RANGE + [(None, "ISO 8601"), (42, "ISO 8601"),
                                                         ("\ud800", "ISO 8601"), ("2026-12-04\x00", "ISO 8601")])
def test_an_out_of_range_or_unreadable_time_is_refused_not_converted(raw: Any, problem: str) -> None:
    moment, found = read_moment(raw, NOW)
    assert moment is None and problem in found


def test_a_time_read_is_kept_with_its_own_offset() -> None:
    moment, found = read_moment("2026-12-04T17:30:00+06:00", NOW)
    assert found is None and moment == NOW - timedelta(minutes=30) and moment.utcoffset() == timedelta(hours=6)


@pytest.mark.parametrize("day, problem", [
    (date(2026, 12, 4), None), (date(2026, 11, 4), None),
    (date(2026, 12, 5), "in the future"), (date(2026, 11, 3), "more than 30 days ago"),
    (date(1, 1, 1), "more than 30 days ago"), (date(9999, 12, 31), "in the future"),
])
def test_a_book_entry_is_dated_within_the_last_30_days(day: date, problem: str | None) -> None:
    found = day_problem(day, date(2026, 12, 4))
    assert (found is None) if problem is None else (problem in found)


# ---------------------------------------------------------------- the API
def sign_in(client: FlaskClient, user: Any) -> None:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


@pytest.fixture
def departing(make_declaration: Any) -> Declaration:
    """An approved declaration of one 34.5 kg flask (capacity 34.5 kg), waiting at its origin."""
    return make_declaration(status=DeclarationStatus.APPROVED)


def custody_event(declaration: Declaration, **changes: Any) -> dict[str, Any]:
    return {"client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc, "kind": "inspection",
            "seal_intact": True, "event_time": kg_time(datetime.now(timezone.utc)), **changes}


@pytest.mark.parametrize("raw, problem", OUT_OF_RANGE)
def test_the_api_refuses_an_implausible_custody_event_time_naming_the_field(
        client: FlaskClient, db: Session, departing: Declaration, make_station: Any, raw: str, problem: str) -> None:
    token = make_station(departing.origin)
    response = client.post("/api/v1/custody-events", json=custody_event(departing, event_time=raw),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and set(response.json["fields"]) == {"event_time"}
    assert problem in response.json["fields"]["event_time"]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


@pytest.mark.parametrize("age, status", [(timedelta(days=29, hours=23), 201), (timedelta(days=30, minutes=1), 422),
                                         (-timedelta(minutes=4), 201), (-timedelta(minutes=6), 422)])
def test_a_station_may_send_events_buffered_for_up_to_30_days(
        client: FlaskClient, departing: Declaration, make_station: Any, age: timedelta, status: int) -> None:
    token = make_station(departing.origin)
    body = custody_event(departing, event_time=kg_time(datetime.now(timezone.utc) - age))
    response = client.post("/api/v1/custody-events", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.json


@pytest.mark.parametrize("grams, problem", [(34_501, "capacity of container"), (CEILING + 1, "ceiling"),
                                            (2 ** 62, "ceiling"), (0, "whole grams > 0")])
def test_the_api_refuses_a_measured_mass_the_container_cannot_hold(
        client: FlaskClient, db: Session, departing: Declaration, make_station: Any, grams: int,
        problem: str) -> None:
    token = make_station(departing.origin)
    response = client.post("/api/v1/custody-events", json=custody_event(departing, measured_net_g=grams),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and problem in response.json["fields"]["measured_net_g"]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


@pytest.fixture
def arrived(make_user: Any, make_declaration: Any) -> tuple[Any, Declaration]:
    receiver = make_user("trader")
    declaration = make_declaration(consignee=receiver.dealer, status=DeclarationStatus.ARRIVED,
                                   arrived_at=utcnow() - timedelta(hours=3))
    return receiver, declaration


@pytest.mark.parametrize("changes, field, problem", [
    ({"received_at": "0001-01-01T00:00:00+00:00"}, "received_at", "more than 30 days ago"),
    ({"received_at": "9999-12-31T23:59:59+14:00"}, "received_at", "in the future"),
    ({"received_at": "2026-12-04T10:00:00+15:00"}, "received_at", "beyond ±14:00"),
    ({"received_net_g": 34_501}, "containers[0].received_net_g", "capacity of container"),
    ({"received_net_g": CEILING + 1}, "containers[0].received_net_g", "ceiling"),
])
def test_the_api_refuses_an_implausible_receipt_and_the_declaration_stays_arrived(
        client: FlaskClient, db: Session, arrived: tuple[Any, Declaration], changes: dict[str, Any], field: str,
        problem: str) -> None:
    receiver, declaration = arrived
    sign_in(client, receiver)
    changes = dict(changes)  # the table's own dict is shared by both databases' runs
    item = {"sscc": declaration.items[0].container.sscc, "received_net_g": changes.pop("received_net_g", 34_500),
            "seal_intact": True}
    response = client.post(f"/api/v1/declarations/{declaration.id}/receipt", json={"containers": [item], **changes})
    assert response.status_code == 422 and problem in response.json["fields"][field]
    db.expire_all()
    assert declaration.status == DeclarationStatus.ARRIVED and declaration.items[0].received_net_g is None


def test_the_api_takes_an_empty_container_at_receipt(client: FlaskClient, arrived: tuple[Any, Declaration]) -> None:
    receiver, declaration = arrived
    sign_in(client, receiver)
    item = {"sscc": declaration.items[0].container.sscc, "received_net_g": 0, "seal_intact": True}
    response = client.post(f"/api/v1/declarations/{declaration.id}/receipt", json={"containers": [item]})
    assert response.status_code == 200 and response.json["status"] == "closed"


@pytest.mark.parametrize("quota, status", [(CEILING, 201), (CEILING + 1, 422), (2 ** 63 - 1, 422)])
def test_the_api_refuses_a_licence_quota_past_the_ceiling(client: FlaskClient, db: Session, make_user: Any,
                                                          make_dealer: Any, quota: int, status: int) -> None:
    dealer = make_dealer(licensed=False)
    sign_in(client, make_user("licensing_admin"))
    response = client.post("/api/v1/licences", json={
        "dealer_id": dealer.id, "number": f"KG-HG-{uuid.uuid4().hex[:8]}", "valid_from": "2026-01-01",
        "valid_to": "2027-12-31", "annual_quota_g": quota, "activities": ["storage"]})
    assert response.status_code == status, response.json
    if status == 422:
        assert set(response.json["fields"]) == {"annual_quota_g"} and "ceiling" in response.json["fields"]["annual_quota_g"]
        assert db.scalar(select(License).where(License.dealer_id == dealer.id)) is None


def test_the_api_refuses_an_import_approval_past_the_ceiling(client: FlaskClient, db: Session, make_user: Any,
                                                             make_dealer: Any) -> None:
    sign_in(client, make_user("licensing_admin"))
    response = client.post("/api/v1/import-approvals", json={
        "number": "KG-HG-IMP-HUGE", "importer_id": make_dealer().id, "exporter_name": "Guizhou Recycling Co.",
        "exporter_country": "CN", "quantity_g": CEILING + 1, "intended_use": "dental amalgam",
        "source_not_primary_mining": True, "source_statement": "recovered from lamps", "valid_until": "2027-06-30"})
    assert response.status_code == 422 and set(response.json["fields"]) == {"quantity_g"}
    assert db.scalar(select(func.count()).select_from(ImportApproval)) == 0


@pytest.fixture
def combine(make_user: Any, make_dealer: Any) -> Any:
    """A trader of a producing combine."""
    return make_user("trader", dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))


@pytest.mark.parametrize("entry_date, status, problem", [
    (lambda today: today - timedelta(days=30), 201, None),
    (lambda today: today - timedelta(days=31), 422, "more than 30 days ago"),
    (lambda today: date(1, 1, 1), 422, "more than 30 days ago"),
    (lambda today: today + timedelta(days=1), 422, "in the future"),
])
def test_the_api_dates_stock_entries_within_the_last_30_days(client: FlaskClient, db: Session, combine: Any,
                                                             entry_date: Any, status: int, problem: str | None) -> None:
    sign_in(client, combine)
    response = client.post("/api/v1/stock-entries", json={
        "kind": "production", "mass_g": 34_500, "entry_date": entry_date(today_kg()).isoformat(), "place": "Khaidarkan"})
    assert response.status_code == status, response.json
    if problem:
        assert problem in response.json["fields"]["entry_date"]
        assert db.scalar(select(func.count()).select_from(StockEntry)) == 0


def test_the_api_refuses_a_declared_mass_past_the_container_capacity_at_once(
        client: FlaskClient, db: Session, make_user: Any, make_dealer: Any, make_container: Any,
        make_checkpoint: Any) -> None:
    trader = make_user("trader")
    flask_ = make_container(owner=trader.dealer)
    origin, destination = make_checkpoint(), make_checkpoint(lat=42.875, lon=74.590)
    sign_in(client, trader)
    before = db.scalar(select(func.count()).select_from(Declaration))
    response = client.post("/api/v1/declarations", json={
        "kind": "domestic", "consignee_id": make_dealer().id, "origin": origin.code, "destination": destination.code,
        "items": [{"sscc": flask_.sscc, "declared_net_g": 34_501}]})
    assert response.status_code == 422 and set(response.json["fields"]) == {"items[0].declared_net_g"}
    assert f"capacity of container {flask_.sscc} (34.500 kg)" in response.json["fields"]["items[0].declared_net_g"]
    assert db.scalar(select(func.count()).select_from(Declaration)) == before


# ---------------------------------------------------------------- the portal
def field_error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error"[^>]*>([^<]*)</p>', page)
    return match.group(1) if match else ""


@pytest.mark.parametrize("typed, language, message", [
    ("100000.001", "en", "100000.001 kg is more than the ceiling of 100000 kg"),
    ("1,000", "en", "Type 1000 or 1.0"),
    ("100 000,001", "ru", "100000,001 кг — больше предельной массы 100000 кг"),
])
def test_the_portal_refuses_a_quota_past_the_ceiling_or_ambiguous(db: Session, auth: Any, make_user: Any,
                                                                  make_dealer: Any, typed: str, language: str,
                                                                  message: str) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    admin.language = language
    db.flush()
    auth.sign_in_as(admin)
    dealer = make_dealer(licensed=False)
    response = auth.post_form("/licences", {
        "dealer_id": dealer.id, "number": "KG-HG-CEIL", "valid_from": "2027-01-01", "valid_to": "2027-12-31",
        "annual_quota_kg": typed, "activities": ["storage"]})
    assert response.status_code == 400
    assert message in field_error(response.get_data(as_text=True), "licence-quota")
    assert db.scalar(select(License).where(License.number == "KG-HG-CEIL")) is None


def test_the_portal_refuses_a_measured_mass_past_the_capacity(client: FlaskClient, auth: Any, db: Session,
                                                              make_user: Any, departing: Declaration) -> None:
    auth.sign_in_as(make_user(Role.CUSTOMS_OFFICER, checkpoints=[departing.origin]))
    sscc = departing.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    event_id = re.search(r'name="client_event_id" value="([^"]+)"', page)[1]
    response = client.post("/checkpoint/custody", data={
        "csrf_token": token, "sscc": sscc, "client_event_id": event_id, "checkpoint": departing.origin.code,
        "kind": "departure", "seal_intact": "yes", "event_time": kg_time(datetime.now(timezone.utc)),
        "measured_kg": "34.501"})
    assert response.status_code == 400
    assert "more than the capacity of container" in field_error(response.get_data(as_text=True), "measured_kg")
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_the_portal_refuses_an_event_time_out_of_range(client: FlaskClient, auth: Any, db: Session,
                                                       make_user: Any, departing: Declaration) -> None:
    auth.sign_in_as(make_user(Role.CUSTOMS_OFFICER, checkpoints=[departing.origin]))
    sscc = departing.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = client.post("/checkpoint/custody", data={
        "csrf_token": token, "sscc": sscc, "client_event_id": uuid.uuid4().hex, "checkpoint": departing.origin.code,
        "kind": "departure", "seal_intact": "yes", "event_time": "0001-01-01T00:00:00+00:00"})
    assert response.status_code == 400
    assert "0001-01-01T00:00:00+00:00 is more than 30 days ago" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_the_portal_refuses_a_received_mass_past_the_capacity(auth: Any, db: Session,
                                                              arrived: tuple[Any, Declaration]) -> None:
    receiver, declaration = arrived
    auth.sign_in_as(receiver)
    sscc = declaration.items[0].container.sscc
    response = auth.post_form(f"/declarations/{declaration.id}/receipt", {f"received-{sscc}": "34.501",
                                                                          f"seal-{sscc}": "intact"})
    assert response.status_code == 400
    assert "more than the capacity of container" in response.get_data(as_text=True)
    db.expire_all()
    assert declaration.status == DeclarationStatus.ARRIVED


@pytest.mark.parametrize("days_ago, language, message", [
    (31, "en", "more than 30 days ago"),
    (31, "ru", "более 30 дней назад"),
])
def test_the_portal_refuses_a_stock_entry_dated_too_long_ago(db: Session, auth: Any, make_user: Any,
                                                             make_dealer: Any, days_ago: int, language: str,
                                                             message: str) -> None:
    trader = make_user(Role.TRADER, dealer=make_dealer(activities={Activity.PRODUCTION, Activity.DOMESTIC_TRADE}))
    trader.language = language
    db.flush()
    auth.sign_in_as(trader)
    response = auth.post_form("/register/stock-entries", {
        "kind": "production", "mass": "100", "entry_date": (today_kg() - timedelta(days=days_ago)).isoformat(),
        "place": "Khaidarkan"}, form_page="/register")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(StockEntry)) == 0


def test_the_portal_refuses_a_declared_mass_past_the_capacity_in_step_2(auth: Any, db: Session,
                                                                       make_submittable: Any) -> None:
    trader, draft = make_submittable()
    sscc = draft.items[0].container.sscc
    auth.sign_in_as(trader)
    response = auth.post_form(f"/declarations/{draft.id}/edit?step=containers", {"sscc": sscc, f"mass-{sscc}": "34.501"})
    assert response.status_code == 400
    assert f"capacity of container {sscc} (34.500 kg)" in field_error(response.get_data(as_text=True), f"mass-{sscc}")
    db.expire_all()
    assert draft.items[0].declared_net_g == 34_500


@pytest.mark.parametrize("container_type, capacity, net, field, problem", [
    ("flask_34_5kg", 34_501, 34_500, "capacity_g", "a flask_34_5kg holds at most 34500 g"),
    ("drum", CEILING + 1, 1, "capacity_g", "ceiling"),
    ("drum", 500_000, 500_001, "net_g", "exceeds the capacity"),
])
def test_the_api_refuses_a_container_its_type_cannot_be(client: FlaskClient, make_user: Any, container_type: str,
                                                        capacity: int, net: int, field: str, problem: str) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/containers", json={
        "sscc": make_sscc(0, "470000001", 990_001), "container_type": container_type, "tare_g": 2_700,
        "capacity_g": capacity, "net_g": net})
    assert response.status_code == 422 and set(response.json["fields"]) == {field}
    assert problem in response.json["fields"][field]


def test_the_api_registers_a_drum_of_half_a_tonne(client: FlaskClient, make_user: Any) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/containers", json={
        "sscc": make_sscc(0, "470000001", 990_002), "container_type": "drum", "tare_g": 40_000,
        "capacity_g": 500_000, "net_g": 500_000})
    assert response.status_code == 201, response.json


def test_the_api_refuses_a_sale_past_the_ceiling(client: FlaskClient, combine: Any, make_dealer: Any) -> None:
    sign_in(client, combine)
    response = client.post("/api/v1/transactions", json={
        "seller_id": combine.dealer_id, "buyer_id": make_dealer().id, "mass_g": CEILING + 1, "place": "Kadamjai",
        "transaction_date": today_kg().isoformat()})
    assert response.status_code == 422 and "ceiling" in response.json["fields"]["mass_g"]
