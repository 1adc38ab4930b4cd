"""HTTP ingestion: the native JSON batch with a beacon token and the OsmAnd protocol with its key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.helpers import LiveGateway, http
from beacon_gateway.servers.http import start_http
from tracker.domain.tokens import issue_token, revoke_token
from tracker.models import BeaconProtocol
from tracker.models import Position as PositionRow

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def gateway(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A live HTTP gateway on the test's transaction; yields its base URL."""
    live = LiveGateway(sessions)
    runner = live.call(start_http(live.ingest, "127.0.0.1", 0, max_body_bytes=64 * 1024))
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    live.close(runner.cleanup)


def batch(device_id: str, *seconds: int, **ping: Any) -> dict[str, Any]:
    """A native JSON batch of pings ``seconds`` after NOW - 5 min."""
    start = NOW - timedelta(minutes=5)
    return {"device_id": device_id, "pings": [
        {"fix_time": (start + timedelta(seconds=s)).isoformat(), "lat": 40.5, "lon": 72.8, **ping}
        for s in seconds]}


def stored(db: Session, beacon_id: int) -> list[PositionRow]:
    db.expire_all()
    return list(db.scalars(select(PositionRow).where(PositionRow.beacon_id == beacon_id)
                           .order_by(PositionRow.fix_time)))


def test_json_batch_with_the_beacon_token_is_stored_before_200(db, gateway, make_beacon) -> None:
    beacon = make_beacon()
    _, token = issue_token(db, name="t", beacon=beacon)
    db.flush()
    status, body = http("POST", f"{gateway}/api/v1/pings", batch(beacon.device_id, 0, 30),
                        {"Authorization": f"Bearer {token}"})
    assert (status, body) == (200, {"stored": 2, "duplicates": 0})
    assert len(stored(db, beacon.id)) == 2
    status, body = http("POST", f"{gateway}/api/v1/pings", batch(beacon.device_id, 0, 30),
                        {"Authorization": f"Bearer {token}"})
    assert (status, body) == (200, {"stored": 0, "duplicates": 2})


def test_json_batch_without_or_with_a_wrong_token_is_refused(db, gateway, make_beacon) -> None:
    beacon, other = make_beacon(), make_beacon()
    _, others_token = issue_token(db, name="t", beacon=other)
    db.flush()
    status, body = http("POST", f"{gateway}/api/v1/pings", batch(beacon.device_id, 0))
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = http("POST", f"{gateway}/api/v1/pings", batch(beacon.device_id, 0),
                        {"Authorization": "Bearer mt_not-a-token"})
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = http("POST", f"{gateway}/api/v1/pings", b"not even JSON", {"Authorization": "Bearer x"})
    assert (status, body["error"]) == (401, "unauthorized")  # a stranger learns nothing about the format
    status, body = http("POST", f"{gateway}/api/v1/pings", batch(beacon.device_id, 0),
                        {"Authorization": f"Bearer {others_token}"})
    assert (status, body["error"]) == (403, "forbidden")
    assert body["message"] == f"the bearer token is not the token of beacon '{beacon.device_id}'"
    assert stored(db, beacon.id) == []


def test_bad_batch_gets_422_naming_each_bad_field_and_stores_nothing(db, gateway, make_beacon) -> None:
    beacon = make_beacon()
    _, token = issue_token(db, name="t", beacon=beacon)
    db.flush()
    document = batch(beacon.device_id, 0, 30)
    document["pings"][1]["lat"] = 95
    document["pings"][0]["fix_time"] = "yesterday"
    status, body = http("POST", f"{gateway}/api/v1/pings", document, {"Authorization": f"Bearer {token}"})
    assert status == 422 and body["error"] == "invalid_batch"
    assert set(body["fields"]) == {"pings[0].fix_time", "pings[1].lat"}
    assert stored(db, beacon.id) == []


def test_a_ping_with_text_that_is_not_unicode_gets_422_and_stores_nothing(db, gateway, make_beacon) -> None:
    beacon = make_beacon()
    _, token = issue_token(db, name="t", beacon=beacon)
    db.flush()
    document = batch(beacon.device_id, 0, 30)
    document["pings"][1]["note"] = "\ud800"      # sent as the JSON escape \ud800: a lone surrogate
    status, body = http("POST", f"{gateway}/api/v1/pings", document, {"Authorization": f"Bearer {token}"})
    assert status == 422 and body["error"] == "invalid_batch" and list(body["fields"]) == ["pings[1]"]
    assert stored(db, beacon.id) == []


@pytest.fixture
def osmand_beacon(db: Session, make_beacon: Any) -> tuple[Any, str]:
    """An OsmAnd beacon and its key (the beacon's token)."""
    beacon = make_beacon(protocol=BeaconProtocol.OSMAND)
    _, key = issue_token(db, name="phone", beacon=beacon)
    db.flush()
    return beacon, key


def osmand_query(device_id: str, minutes_ago: int = 1, **extra: Any) -> str:
    """An OsmAnd query string as Traccar Client sends it (a fix ``minutes_ago`` before NOW)."""
    when = NOW - timedelta(minutes=minutes_ago)
    return urlencode({"id": device_id, "lat": "40.52", "lon": "72.81",
                      "timestamp": int(when.timestamp()), "speed": "10", "bearing": "90", **extra})


def test_osmand_query_string_with_the_device_key_is_stored_without_the_key(db, gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    query = osmand_query(beacon.device_id)
    # Traccar Client keeps the server URL typed into it (…/?key=…) and appends its parameters.
    status, body = http("GET", f"{gateway}/?key={key}&{query}")
    assert (status, body) == (200, {"stored": 1, "duplicates": 0})
    [row] = stored(db, beacon.id)
    assert (row.fix_time, row.lat, row.lon, row.course) == (NOW - timedelta(minutes=1), 40.52, 72.81, 90.0)
    assert row.speed_kmh == pytest.approx(18.52)  # knots on the wire
    assert row.raw == query.encode()              # the evidence never holds the secret


def test_attackers_osmand_get_with_the_printed_imei_and_no_key_stores_nothing(db, gateway, osmand_beacon,
                                                                              caplog) -> None:
    beacon, _key = osmand_beacon
    status, body = http("GET", f"{gateway}/?{osmand_query(beacon.device_id)}")
    assert (status, body["error"]) == (401, "unauthorized")
    assert "key" in body["message"]
    status, _ = http("POST", f"{gateway}/", {"device_id": beacon.device_id, "location": {
        "timestamp": NOW.isoformat(), "coords": {"latitude": 40.7, "longitude": 72.95}}})
    assert status == 401
    assert stored(db, beacon.id) == []
    assert "refused: no device key" in caplog.text


def test_osmand_with_a_wrong_revoked_or_other_beacons_key_stores_nothing(db, gateway, osmand_beacon,
                                                                         make_beacon, caplog) -> None:
    beacon, key = osmand_beacon
    other = make_beacon(protocol=BeaconProtocol.OSMAND)
    others_row, others_key = issue_token(db, name="other phone", beacon=other)
    revoked_row, revoked_key = issue_token(db, name="old phone", beacon=beacon)
    revoke_token(revoked_row)
    db.flush()
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for candidate, status in ((wrong, 401), (revoked_key, 401), (others_key, 403)):
        answer, body = http("GET", f"{gateway}/?key={candidate}&{osmand_query(beacon.device_id)}")
        assert (answer, body["error"]) == (status, "unauthorized" if status == 401 else "forbidden")
    assert stored(db, beacon.id) == [] and others_row.last_used_at is None
    assert "osmand ping of '%s' refused" % beacon.device_id in caplog.text


@pytest.mark.parametrize("key", [
    "mt_%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00",     # NUL bytes
    "mt_" + "A" * 6_000,                                      # a huge key (aiohttp caps a URL at 8 KiB)
    "mt_%ED%A0%80%ED%B0%80" + "A" * 20,                        # UTF-8 of lone surrogates
    "",                                                       # empty
])
def test_osmand_hostile_keys_are_refused_cleanly(db, gateway, osmand_beacon, key) -> None:
    beacon, _ = osmand_beacon
    status, body = http("GET", f"{gateway}/?key={key}&{osmand_query(beacon.device_id)}")
    assert (status, body["error"]) == (401, "unauthorized")
    assert stored(db, beacon.id) == []


def test_osmand_huge_key_in_a_form_body_is_refused_cleanly(db, gateway, osmand_beacon) -> None:
    beacon, _ = osmand_beacon
    form = f"{osmand_query(beacon.device_id)}&key=mt_{'A' * 50_000}".encode()
    status, body = http("POST", f"{gateway}/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (401, "unauthorized")
    assert stored(db, beacon.id) == []


def test_osmand_tracker_sending_the_key_as_a_bearer_token_is_stored(db, gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    status, _ = http("GET", f"{gateway}/?{osmand_query(beacon.device_id)}", headers={"Authorization": f"Bearer {key}"})
    assert status == 200 and len(stored(db, beacon.id)) == 1


def test_osmand_key_twice_is_refused(db, gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    status, _ = http("GET", f"{gateway}/?key={key}&key=mt_{'B' * 43}&{osmand_query(beacon.device_id)}")
    assert status == 401 and stored(db, beacon.id) == []


def test_osmand_hostile_device_ids_get_422(db, gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    for device_id in ("%00" + beacon.device_id, "9" * 65):
        query = osmand_query("x").replace("id=x", f"id={device_id}")
        status, body = http("GET", f"{gateway}/?key={key}&{query}")
        assert (status, body["error"]) == (422, "invalid_message")
    lone_surrogate = {"device_id": "\ud800", "location": {"coords": {"latitude": 40.5, "longitude": 72.8}}}
    status, body = http("POST", f"{gateway}/?key={key}", lone_surrogate, {"Content-Type": "application/json"})
    assert (status, body["error"]) == (422, "invalid_message")
    assert stored(db, beacon.id) == []


def test_osmand_post_form_and_traccar_client_json_with_the_key_are_stored(db, gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    form = urlencode({"id": beacon.device_id, "lat": "40.6", "lon": "72.9", "key": key,
                      "timestamp": (NOW - timedelta(minutes=2)).isoformat()}).encode()
    assert http("POST", f"{gateway}/", form,
                {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
    # Traccar Client 9 posts its JSON to the server URL as typed: the key is in the URL.
    location = {"timestamp": (NOW - timedelta(minutes=1)).isoformat(),
                "coords": {"latitude": 40.7, "longitude": 72.95, "speed": 10, "heading": 45}}
    status, body = http("POST", f"{gateway}/?key={key}", {"device_id": beacon.device_id, "location": location,
                                                         "_": f"&id={beacon.device_id}&lat=40.7&lon=72.95&"},
                        {"Content-Type": "application/json"})
    assert (status, body) == (200, {"stored": 1, "duplicates": 0})
    rows = stored(db, beacon.id)
    assert [(r.lat, r.protocol.value) for r in rows] == [(40.6, "osmand"), (40.7, "osmand")]
    assert all(key.encode() not in r.raw for r in rows)


def test_osmand_from_an_unknown_device_is_refused(db, gateway, osmand_beacon) -> None:
    _, key = osmand_beacon
    status, body = http("GET", f"{gateway}/?key={key}&id=000000000000000&lat=40.5&lon=72.8&timestamp=1764000000")
    assert (status, body["error"]) == (401, "unauthorized")
    assert "'000000000000000' is not a registered beacon" in body["message"]


def test_osmand_without_coordinates_gets_422(gateway, osmand_beacon) -> None:
    beacon, key = osmand_beacon
    status, body = http("GET", f"{gateway}/?key={key}&id={beacon.device_id}&timestamp=1764000000")
    assert status == 422 and body["error"] == "invalid_message" and body["message"]


def test_osmand_cell_and_wifi_report_without_coordinates_is_kept_as_a_status(db, gateway, osmand_beacon) -> None:
    from tracker.models import DeviceMessage

    beacon, key = osmand_beacon
    query = f"id={beacon.device_id}&timestamp=1764000000&cell=437,1,4660,43981,-70&wifi=a0-b1-c2-d3-e4-f5,-60&batt=81"
    status, body = http("GET", f"{gateway}/?key={key}&{query}")
    assert (status, body) == (200, {"stored": 0, "duplicates": 0, "kept": "status"})
    assert stored(db, beacon.id) == []                      # no position at (0, 0)
    db.expire_all()
    [message] = db.scalars(select(DeviceMessage).where(DeviceMessage.beacon_id == beacon.id))
    assert (message.kind, message.protocol.value, message.raw) == ("status", "osmand", query.encode())
    assert key.encode() not in message.raw and "cell" in message.reason and "wifi" in message.reason


def test_osmand_status_needs_the_beacons_own_key(db, gateway, osmand_beacon, make_beacon) -> None:
    from tracker.models import DeviceMessage

    beacon, key = osmand_beacon
    other = make_beacon(protocol=BeaconProtocol.OSMAND)
    cell = "timestamp=1764000000&cell=437,1,4660,43981"
    assert http("GET", f"{gateway}/?key={key}&id={other.device_id}&{cell}")[0] == 403
    assert http("GET", f"{gateway}/?key=mt_{'A' * 43}&id={beacon.device_id}&{cell}")[0] == 401
    assert http("GET", f"{gateway}/?key={key}&id=%00&{cell}")[0] == 422
    assert db.scalars(select(DeviceMessage)).all() == []


def test_unknown_path_oversized_body_and_wrong_method_answer_json(gateway) -> None:
    assert http("GET", f"{gateway}/nowhere")[0] == 404
    assert http("GET", f"{gateway}/api/v1/pings")[0] == 405
    status, body = http("POST", f"{gateway}/api/v1/pings", b"x" * (65 * 1024),
                        {"Authorization": "Bearer mt_x"})
    assert status == 413 and body["error"]
    assert http("GET", f"{gateway}/health") == (200, {"status": "ok"})
