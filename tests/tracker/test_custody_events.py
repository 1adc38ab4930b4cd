"""Custody events: the station contract, idempotency on client event id, and the rules that open alerts."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.chain_verify import verify_chain
from tracker.models import (
    Alert,
    ContainerStatus,
    CustodyEvent,
    Declaration,
    DeclarationStatus,
    ExpectedCheckpoint,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

API = "/api/v1/custody-events"


def sign_in(client: FlaskClient, user: Any) -> None:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def at(minutes: int) -> str:
    """An event time ``minutes`` from now in Kyrgyz time, as a station sends it."""
    moment = datetime.now(timezone(timedelta(hours=6))) - timedelta(hours=5) + timedelta(minutes=minutes)
    return moment.isoformat(timespec="seconds")


@pytest.fixture
def trip(db: Session, make_declaration, make_checkpoint) -> Declaration:
    """An approved declaration Osh → (Toktogul) → Bishkek with one 34.5 kg flask, planned from 6 h ago."""
    start = datetime.now(timezone.utc) - timedelta(hours=6)
    declaration = make_declaration(status=DeclarationStatus.APPROVED, planned_departure=start,
                                   planned_arrival=start + timedelta(days=1),
                                   origin=make_checkpoint(code=f"OSH-{uuid.uuid4().hex[:6]}"),
                                   destination=make_checkpoint(code=f"BSK-{uuid.uuid4().hex[:6]}",
                                                               lat=42.875, lon=74.59))
    toktogul = make_checkpoint(code=f"TOK-{uuid.uuid4().hex[:6]}", lat=41.873, lon=72.941)
    declaration.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=toktogul)]
    db.flush()
    return declaration


def officer_of(trip: Declaration, make_user: Any) -> Any:
    """A customs officer posted at every checkpoint of the trip's route."""
    return make_user("customs_officer", checkpoints=[place.checkpoint for place in trip.route_places])


def event(declaration: Declaration, checkpoint: str, kind: str, minutes: int, **extra: Any) -> dict[str, Any]:
    body = {"client_event_id": str(uuid.uuid4()), "sscc": declaration.items[0].container.sscc,
            "checkpoint": checkpoint, "kind": kind, "seal_intact": True, "event_time": at(minutes),
            "device": "gate scanner 1"}
    return {**body, **extra}


def alert_kinds(response: Any) -> list[str]:
    return sorted(a["kind"] for a in response.json["alerts"])


def test_departure_scanned_by_origin_station_puts_declaration_in_transit(
        client: FlaskClient, db: Session, trip: Declaration, make_station) -> None:
    token = make_station(trip.origin)
    body = event(trip, trip.origin.code, "departure", 0)
    del body["checkpoint"]  # a station's checkpoint is its own
    response = client.post(API, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    assert response.json["declaration"] == {"id": trip.id, "reference": trip.reference, "status": "in_transit"}
    assert response.json["alerts"] == [] and response.json["checkpoint"] == trip.origin.code
    assert len(response.json["row_hash"]) == 64
    db.expire_all()
    assert trip.status == DeclarationStatus.IN_TRANSIT and trip.departed_at is not None
    assert trip.items[0].container.status == ContainerStatus.IN_TRANSIT


def test_arrival_at_destination_marks_declaration_arrived_and_consignee_holds_the_flask(
        client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    assert client.post(API, json=event(trip, trip.origin.code, "departure", 0)).status_code == 201
    expected = trip.expected_checkpoints[0].checkpoint.code
    assert client.post(API, json=event(trip, expected, "inspection", 60)).json["alerts"] == []
    response = client.post(API, json=event(trip, trip.destination.code, "arrival", 120))
    assert response.status_code == 201 and response.json["declaration"]["status"] == "arrived"
    db.expire_all()
    container = trip.items[0].container
    assert container.custodian_id == trip.consignee_id and container.status == ContainerStatus.IN_STOCK


def test_same_event_sent_twice_is_stored_once_and_answered_the_same(
        client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    body = event(trip, trip.origin.code, "departure", 0, seal_intact=False)
    first = client.post(API, json=body)
    second = client.post(API, json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_data() == first.get_data()
    count = db.scalar(select(func.count()).select_from(CustodyEvent).where(
        CustodyEvent.client_event_id == body["client_event_id"]))
    assert count == 1
    assert db.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "custody_seal_broken",
                                                                   Alert.declaration_id == trip.id)) == 1


def test_same_client_event_id_with_different_content_is_refused(
        client: FlaskClient, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    body = event(trip, trip.origin.code, "departure", 0)
    assert client.post(API, json=body).status_code == 201
    response = client.post(API, json={**body, "seal_intact": False})
    assert response.status_code == 409 and body["client_event_id"] in response.json["message"]


def test_container_on_no_open_declaration_is_kept_with_an_alert(
        client: FlaskClient, db: Session, make_user, make_container, make_checkpoint) -> None:
    container, post = make_container(), make_checkpoint()
    sign_in(client, make_user("customs_officer", checkpoints=[post]))
    response = client.post(API, json={
        "client_event_id": str(uuid.uuid4()), "sscc": container.sscc, "checkpoint": post.code,
        "kind": "inspection", "seal_intact": True, "event_time": at(0)})
    assert response.status_code == 201
    assert response.json["declaration"] is None and alert_kinds(response) == ["custody_without_declaration"]
    assert db.get(CustodyEvent, response.json["id"]) is not None


def test_checkpoint_not_on_the_declared_route_opens_an_alert(
        client: FlaskClient, trip: Declaration, make_user, make_checkpoint) -> None:
    elsewhere = make_checkpoint(code=f"NRN-{uuid.uuid4().hex[:6]}", lat=41.429, lon=75.991)
    sign_in(client, make_user("customs_officer", checkpoints=[elsewhere]))
    response = client.post(API, json=event(trip, elsewhere.code, "inspection", 0))
    assert response.status_code == 201 and alert_kinds(response) == ["custody_unexpected_checkpoint"]


def test_checkpoint_out_of_order_opens_an_alert(client: FlaskClient, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    expected = trip.expected_checkpoints[0].checkpoint.code
    assert client.post(API, json=event(trip, expected, "inspection", 0)).json["alerts"] == []
    response = client.post(API, json=event(trip, trip.origin.code, "inspection", 30))
    assert alert_kinds(response) == ["custody_out_of_order"]


def test_measured_mass_beyond_tolerance_opens_an_alert_and_within_it_does_not(
        client: FlaskClient, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    within = client.post(API, json=event(trip, trip.origin.code, "inspection", 0, measured_net_g=34_460))
    assert within.json["alerts"] == []
    expected = trip.expected_checkpoints[0].checkpoint.code
    beyond = client.post(API, json=event(trip, expected, "inspection", 5, measured_net_g=34_400))
    assert alert_kinds(beyond) == ["custody_mass_discrepancy"]


def test_broken_seal_opens_a_critical_alert(client: FlaskClient, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    response = client.post(API, json=event(trip, trip.origin.code, "inspection", 0, seal_intact=False))
    assert response.json["alerts"][0]["kind"] == "custody_seal_broken"
    assert response.json["alerts"][0]["severity"] == "critical"


def test_station_may_not_record_at_another_checkpoint(
        client: FlaskClient, db: Session, trip: Declaration, make_station) -> None:
    token = make_station(trip.origin)
    response = client.post(API, json=event(trip, trip.destination.code, "arrival", 0),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and trip.origin.code in response.json["message"]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_bad_event_reports_every_field_and_stores_nothing(
        client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("customs_officer"))
    response = client.post(API, json={
        "client_event_id": "x" * 65, "sscc": "106141411234567890", "checkpoint": "NOWHERE",
        "kind": "teleport", "seal_intact": "yes", "event_time": "2026-11-25T10:00:00",
        "measured_net_g": -5, "photo_digest": "abc", "to_party_id": 999999})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"client_event_id", "sscc", "checkpoint", "kind", "seal_intact",
                                            "event_time", "measured_net_g", "photo_digest", "to_party_id"}
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_only_officers_and_stations_record_custody(client: FlaskClient, trip: Declaration, make_user) -> None:
    for role in ("trader", "auditor"):
        sign_in(client, make_user(role))
        assert client.post(API, json=event(trip, trip.origin.code, "inspection", 0)).status_code == 403
        client.delete("/api/v1/session")
    assert client.post(API, json=event(trip, trip.origin.code, "inspection", 0)).status_code == 401


def test_station_reads_the_container_and_its_open_declaration(
        client: FlaskClient, trip: Declaration, make_station) -> None:
    token = make_station(trip.origin)
    sscc = trip.items[0].container.sscc
    response = client.get(f"/api/v1/containers/{sscc}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["declaration"]["reference"] == trip.reference
    assert response.json["declaration"]["origin"] == trip.origin.code
    assert response.json["declaration"]["expected_checkpoints"] == [trip.expected_checkpoints[0].checkpoint.code]
    assert client.get(f"/api/v1/containers/{sscc}", headers={"Authorization": "Bearer mt_nope"}).status_code == 401


def test_a_station_asks_the_custody_check_before_it_records(client: FlaskClient, trip: Declaration,
                                                             make_station) -> None:
    sscc = trip.items[0].container.sscc
    at_origin = {"Authorization": f"Bearer {make_station(trip.origin)}"}
    on_the_way = {"Authorization": f"Bearer {make_station(trip.expected_checkpoints[0].checkpoint)}"}
    departure = client.get(f"/api/v1/containers/{sscc}?kind=departure", headers=at_origin).json["custody_check"]
    assert (departure["verdict"], departure["checkpoint"], departure["reasons"]) == (
        "allowed", trip.origin.code, [])
    refused = client.get(f"/api/v1/containers/{sscc}?kind=departure", headers=on_the_way).json["custody_check"]
    assert refused["verdict"] == "refused" and any("departs from" in reason for reason in refused["reasons"])
    assert client.get(f"/api/v1/containers/{sscc}?kind=leaving", headers=at_origin).status_code == 422
    assert "custody_check" not in client.get(f"/api/v1/containers/{sscc}", headers=at_origin).json


def test_recorded_events_form_one_intact_chain_and_are_listed(
        client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    for minutes, kind in ((0, "departure"), (10, "inspection")):
        assert client.post(API, json=event(trip, trip.origin.code, kind, minutes)).status_code == 201
    assert verify_chain(db, CustodyEvent).ok
    listed = client.get(f"{API}?declaration_id={trip.id}").json
    assert listed["total"] == 2 and listed["items"][0]["kind"] == "inspection"
    one = client.get(f"{API}/{listed['items'][1]['id']}").json
    assert one["kind"] == "departure" and one["device"] == "gate scanner 1"


def test_unregistered_sscc_is_kept_as_evidence_with_a_critical_alert(
        client: FlaskClient, db: Session, make_user, make_checkpoint) -> None:
    from tracker.domain.gs1 import make_sscc

    post, sscc = make_checkpoint(), make_sscc(0, "470000099", 4242)
    sign_in(client, make_user("customs_officer", checkpoints=[post]))
    body = {"client_event_id": str(uuid.uuid4()), "sscc": sscc, "checkpoint": post.code,
            "kind": "inspection", "seal_intact": True, "event_time": at(0)}
    response = client.post(API, json=body)
    assert response.status_code == 201 and response.json["sscc"] == sscc
    assert [(a["kind"], a["severity"]) for a in response.json["alerts"]] == [
        ("custody_unregistered_container", "critical")]
    stored = db.get(CustodyEvent, response.json["id"])
    assert stored.container_id is None and stored.unregistered_sscc == sscc
    assert client.post(API, json=body).status_code == 200
    assert client.get(f"{API}?sscc={sscc}").json["total"] == 1
    assert verify_chain(db, CustodyEvent).ok


# ---------------------------------------------------------------- the custody check through the API
def suspend_consignor(db: Session, trip: Declaration, make_user) -> Any:
    from tracker.domain.licensing import suspend_licence
    from tracker.models import License

    licence = db.scalars(select(License).where(License.dealer_id == trip.consignor_id)).one()
    return suspend_licence(db, make_user("licensing_admin"), licence.id, "unpaid fees")


def test_departure_of_a_suspended_dealer_is_refused_with_every_reason_and_nothing_stored(
        client: FlaskClient, db: Session, trip: Declaration, make_user, make_station) -> None:
    licence = suspend_consignor(db, trip, make_user)
    token = make_station(trip.origin)
    response = client.post(API, json=event(trip, trip.origin.code, "departure", 0),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409 and response.json["error"] == "custody_refused"
    (reason,) = response.json["reasons"]
    assert licence.number in reason and "suspended since" in reason and reason.endswith(": unpaid fees")
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0
    db.expire_all()
    assert trip.status == DeclarationStatus.APPROVED


def test_an_officer_posted_elsewhere_gets_403(client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    sign_in(client, make_user("customs_officer"))
    response = client.post(API, json=event(trip, trip.origin.code, "departure", 0))
    assert response.status_code == 403 and f"not posted at {trip.origin.name}" in response.json["message"]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_a_re_scan_answers_409_already_recorded_and_a_retry_200(
        client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    officer = officer_of(trip, make_user)
    sign_in(client, officer)
    first = event(trip, trip.origin.code, "departure", 0)
    assert client.post(API, json=first).status_code == 201
    again = client.post(API, json=event(trip, trip.origin.code, "departure", 5))
    assert again.status_code == 409
    assert again.json["reasons"][-1].startswith("departure of ") and "already recorded at" in again.json["reasons"][-1]
    assert again.json["reasons"][-1].endswith(f"by {officer.name}")
    assert client.post(API, json=first).status_code == 200
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 1


def test_a_departure_outside_the_window_needs_override_fields_and_then_opens_an_alert(
        client: FlaskClient, db: Session, trip: Declaration, make_user) -> None:
    sign_in(client, officer_of(trip, make_user))
    trip.planned_departure += timedelta(hours=11)
    db.flush()
    refused = client.post(API, json=event(trip, trip.origin.code, "departure", 0))
    assert refused.status_code == 409 and "outside the planned window" in refused.json["reasons"][0]
    missing = client.post(API, json=event(trip, trip.origin.code, "departure", 0, override_window=True))
    assert missing.status_code == 422 and set(missing.json["fields"]) == {"override_reason"}
    taken = client.post(API, json=event(trip, trip.origin.code, "departure", 0, override_window=True,
                                        override_reason="the pass closes tonight"))
    assert taken.status_code == 201 and alert_kinds(taken) == ["custody_outside_window"]
    assert taken.json["declaration"]["status"] == "in_transit"


@pytest.fixture
def two_flasks(db: Session, trip: Declaration, make_container) -> Declaration:
    """The trip with a second flask."""
    from tracker.models import DeclarationItem

    trip.items.append(DeclarationItem(container=make_container(owner=trip.declarant), declared_net_g=34_500))
    db.flush()
    return trip


def test_the_declaration_departs_with_its_last_flask_and_its_page_shows_the_progress(
        client: FlaskClient, db: Session, two_flasks: Declaration, make_user) -> None:
    trip = two_flasks
    first, second = (item.container.sscc for item in trip.items)
    sign_in(client, officer_of(trip, make_user))
    one = client.post(API, json=event(trip, trip.origin.code, "departure", 0))
    assert one.status_code == 201 and one.json["declaration"]["status"] == "approved"
    page = client.get(f"/declarations/{trip.id}").get_data(as_text=True)
    assert "1 of 2 containers scanned" in page and second in page.split('id="missing"')[1].split("</p>")[0]
    two = client.post(API, json={**event(trip, trip.origin.code, "departure", 1), "sscc": second})
    assert two.status_code == 201 and two.json["declaration"]["status"] == "in_transit" and two.json["alerts"] == []
    listed = client.get(f"{API}?declaration_id={trip.id}").json
    assert sorted(e["sscc"] for e in listed["items"]) == sorted([first, second])


def test_a_partial_departure_through_the_api_names_the_missing_flask(
        client: FlaskClient, db: Session, two_flasks: Declaration, make_user) -> None:
    trip = two_flasks
    sign_in(client, officer_of(trip, make_user))
    response = client.post(API, json=event(trip, trip.origin.code, "departure", 0, partial_departure=True,
                                           partial_reason="second flask failed the leak test"))
    assert response.status_code == 201 and response.json["declaration"]["status"] == "in_transit"
    assert alert_kinds(response) == ["custody_partial_departure"]
    alert = db.get(Alert, response.json["alerts"][0]["id"])
    assert alert.details["missing"] == [trip.items[1].container.sscc]
