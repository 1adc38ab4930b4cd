"""Signing in and out; passwords and device tokens are never stored in clear."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD, Auth
from tracker.domain.tokens import (
    authenticate_token,
    hash_token,
    issue_token,
    revoke_token,
)
from tracker.models import Beacon, BeaconProtocol


def test_login_then_home_then_logout(client: FlaskClient, auth: Auth, make_user) -> None:
    user = make_user("auditor", name="Aigul Auditor")
    response = auth.login(user.login)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Aigul Auditor" in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
        client: FlaskClient, auth: Auth, make_user) -> None:
    user = make_user("auditor")
    for login, password in ((user.login, "wrong password!"), ("nobody.here", PASSWORD)):
        response = auth.login(login, password)
        assert response.status_code == 401
        assert "Unknown login or wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_form_without_csrf_token_is_refused(client: FlaskClient, make_user) -> None:
    user = make_user("auditor")
    response = client.post("/login", data={"login": user.login, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_sign_in(db: Session, auth: Auth, make_user) -> None:
    user = make_user("auditor")
    user.active = False
    db.flush()
    assert auth.login(user.login).status_code == 401


def test_password_is_stored_as_argon2_hash(make_user) -> None:
    user = make_user("auditor")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient, auth: Auth, make_user) -> None:
    response = auth.login(make_user("auditor").login)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_api_sign_in_and_out(client: FlaskClient, make_user) -> None:
    user = make_user("trader")
    assert client.get("/api/v1/me").status_code == 401
    response = client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200 and response.json["role"] == "trader"
    assert client.get("/api/v1/me").json["login"] == user.login
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_api_wrong_password_is_401_json(client: FlaskClient, make_user) -> None:
    user = make_user("trader")
    response = client.post("/api/v1/session", json={"login": user.login, "password": "nope nope nope"})
    assert response.status_code == 401
    assert response.json == {"error": "unauthorized", "message": "unknown login or wrong password"}


def test_device_token_is_stored_hashed_and_can_be_revoked(db: Session) -> None:
    beacon = Beacon(device_id="864454040000001", protocol=BeaconProtocol.OSMAND)
    db.add(beacon)
    row, secret = issue_token(db, name="truck 01KG123ABC", beacon=beacon)
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    assert authenticate_token(db, secret) is row
    assert row.last_used_at is not None
    assert authenticate_token(db, secret + "x") is None
    revoke_token(row)
    assert authenticate_token(db, secret) is None


def test_device_authenticates_with_its_bearer_token(client: FlaskClient, db: Session, make_checkpoint) -> None:
    gate = make_checkpoint(code="KHD-GATE-T")
    _row, secret = issue_token(db, name="gate scanner 1", checkpoint=gate)
    db.commit()
    response = client.get("/api/v1/device", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json == {"kind": "station", "name": "gate scanner 1", "beacon": None, "checkpoint": "KHD-GATE-T"}
    for header in ({}, {"Authorization": f"Bearer {secret[:-1]}"}, {"Authorization": f"Basic {secret}"}):
        refused = client.get("/api/v1/device", headers=header)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_pages_forbid_inline_scripts_and_framing(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


# ---------------------------------------------------------------- redirects (issue 12, item 5)
HOSTILE_NEXT = ["/%09/evil.example/phish", "/\t/evil.example", "//evil.example/phish", "/\\evil.example",
                "/%5Cevil.example", "%2F%2Fevil.example", "/%2F/evil.example", "https://evil.example/",
                "/%0d%0a/evil.example", "javascript:alert(1)", "evil.example"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_to_another_site(client: FlaskClient, auth: Auth, make_user, target: str) -> None:
    user = make_user("auditor")
    token = auth.csrf_token()
    response = client.post("/login", query_string={"next": target},
                           data={"login": user.login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(client: FlaskClient, auth: Auth, make_user) -> None:
    user = make_user("auditor")
    token = auth.csrf_token()
    response = client.post("/login?next=%2Fcontainers%3Fpage%3D2",
                           data={"login": user.login, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/containers?page=2"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_the_language_switch_never_redirects_to_another_site(client: FlaskClient, auth: Auth, target: str) -> None:
    response = auth.post_form("/preferences/language", {"language": "ru", "next": target}, form_page="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_language_switch_returns_to_the_page(client: FlaskClient, auth: Auth) -> None:
    response = auth.post_form("/preferences/language", {"language": "ru", "next": "/login"}, form_page="/login")
    assert response.headers["Location"] == "/login"


# ---------------------------------------------------------------- caching
def test_signed_in_pages_and_every_api_answer_are_not_stored(client: FlaskClient, auth: Auth, make_user) -> None:
    assert client.get("/api/v1/health").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"
    auth.sign_in_as(make_user("auditor"))
    for path in ("/", "/containers", "/preferences", "/api/v1/me", "/api/v1/declarations"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_static_files_keep_their_caching(client: FlaskClient, auth: Auth, make_user) -> None:
    auth.sign_in_as(make_user("auditor"))
    response = client.get("/static/admin.css")
    assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")
