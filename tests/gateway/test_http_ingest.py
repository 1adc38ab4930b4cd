"""HTTP ingestion: the native JSON batch with a beacon token and the OsmAnd protocol."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.helpers import LiveGateway, http
from beacon_gateway.servers.http import start_http
from tracker.domain.tokens import issue_token
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


def test_osmand_query_string_of_a_registered_beacon_is_stored(db, gateway, make_beacon) -> None:
    beacon = make_beacon()
    when = NOW - timedelta(minutes=1)
    query = urlencode({"id": beacon.device_id, "lat": "40.52", "lon": "72.81",
                       "timestamp": int(when.timestamp()), "speed": "10", "bearing": "90"})
    status, body = http("GET", f"{gateway}/?{query}")
    assert (status, body) == (200, {"stored": 1, "duplicates": 0})
    [row] = stored(db, beacon.id)
    assert (row.fix_time, row.lat, row.lon, row.course) == (when, 40.52, 72.81, 90.0)
    assert row.speed_kmh == pytest.approx(18.52)  # knots on the wire
    assert row.raw == query.encode()


def test_osmand_post_form_and_traccar_client_json_are_stored(db, gateway, make_beacon) -> None:
    beacon = make_beacon()
    form = urlencode({"id": beacon.device_id, "lat": "40.6", "lon": "72.9",
                      "timestamp": (NOW - timedelta(minutes=2)).isoformat()}).encode()
    assert http("POST", f"{gateway}/", form,
                {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
    location = {"timestamp": (NOW - timedelta(minutes=1)).isoformat(),
                "coords": {"latitude": 40.7, "longitude": 72.95, "speed": 10, "heading": 45}}
    status, body = http("POST", f"{gateway}/", {"device_id": beacon.device_id, "location": location},
                        {"Content-Type": "application/json"})
    assert (status, body) == (200, {"stored": 1, "duplicates": 0})
    assert [(r.lat, r.protocol.value) for r in stored(db, beacon.id)] == [(40.6, "osmand"), (40.7, "osmand")]


def test_osmand_from_an_unknown_device_is_refused(db, gateway) -> None:
    status, body = http("GET", f"{gateway}/?id=000000000000000&lat=40.5&lon=72.8&timestamp=1764000000")
    assert (status, body["error"]) == (401, "unauthorized")
    assert "'000000000000000' is not a registered beacon" in body["message"]


def test_osmand_without_coordinates_gets_422(gateway, make_beacon) -> None:
    beacon = make_beacon()
    status, body = http("GET", f"{gateway}/?id={beacon.device_id}&timestamp=1764000000")
    assert status == 422 and body["error"] == "invalid_message" and body["message"]


def test_unknown_path_oversized_body_and_wrong_method_answer_json(gateway) -> None:
    assert http("GET", f"{gateway}/nowhere")[0] == 404
    assert http("GET", f"{gateway}/api/v1/pings")[0] == 405
    status, body = http("POST", f"{gateway}/api/v1/pings", b"x" * (65 * 1024),
                        {"Authorization": "Bearer mt_x"})
    assert status == 413 and body["error"]
    assert http("GET", f"{gateway}/health") == (200, {"status": "ok"})
