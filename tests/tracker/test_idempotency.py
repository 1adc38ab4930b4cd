"""The Idempotency-Key header on API POSTs: retries get the saved answer, a reused key with another body 422."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.gs1 import make_sscc
from tracker.models import Container

pytestmark = pytest.mark.usefixtures("fast_passwords")

_serial = iter(range(7000, 8000))


def sign_in(client: FlaskClient, user: Any) -> None:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def flask_body() -> dict[str, Any]:
    return {"sscc": make_sscc(0, "470000003", next(_serial)), "container_type": "flask_34_5kg",
            "tare_g": 2700, "capacity_g": 34500, "net_g": 34500}


def containers(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Container)) or 0


def test_same_key_and_body_gets_the_saved_answer_and_stores_once(
        client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("trader"))
    key, body = {"Idempotency-Key": str(uuid.uuid4())}, flask_body()
    first = client.post("/api/v1/containers", json=body, headers=key)
    again = client.post("/api/v1/containers", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data() and again.headers["Idempotent-Replayed"] == "true"
    assert containers(db) == 1
    without_key = client.post("/api/v1/containers", json=body)
    assert without_key.status_code == 409  # what the retry would have met without the key


def test_same_key_with_a_different_body_is_refused_with_422(client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("trader"))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert client.post("/api/v1/containers", json=flask_body(), headers=key).status_code == 201
    response = client.post("/api/v1/containers", json=flask_body(), headers=key)
    assert response.status_code == 422 and "Idempotency-Key" in response.json["fields"]
    assert containers(db) == 1


def test_keys_belong_to_the_user_who_sent_them(client: FlaskClient, db: Session, make_user) -> None:
    key = {"Idempotency-Key": "retry-1"}
    for trader in (make_user("trader"), make_user("trader")):
        sign_in(client, trader)
        assert client.post("/api/v1/containers", json=flask_body(), headers=key).status_code == 201
        client.delete("/api/v1/session")
    assert containers(db) == 2


def test_refused_request_is_replayed_as_refused_and_stores_nothing(
        client: FlaskClient, db: Session, make_user) -> None:
    sign_in(client, make_user("trader"))
    key, body = {"Idempotency-Key": str(uuid.uuid4())}, {**flask_body(), "tare_g": 0}
    first = client.post("/api/v1/containers", json=body, headers=key)
    again = client.post("/api/v1/containers", json=body, headers=key)
    assert first.status_code == again.status_code == 422 and again.json == first.json
    assert containers(db) == 0


def test_key_longer_than_200_characters_is_refused(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/containers", json=flask_body(), headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 422


def test_station_retry_with_a_key_gets_the_first_answer(
        client: FlaskClient, db: Session, make_container, make_checkpoint, make_station) -> None:
    post = make_checkpoint()
    headers = {"Authorization": f"Bearer {make_station(post)}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"client_event_id": str(uuid.uuid4()), "sscc": make_container().sscc, "kind": "inspection",
            "seal_intact": True, "event_time": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()}
    first = client.post("/api/v1/custody-events", json=body, headers=headers)
    again = client.post("/api/v1/custody-events", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.get_data() == first.get_data()
