"""Sessions end when they should, for every copy of the cookie (issue 12, item 4).

A session is a row on the server: sign-out (portal or API), a password reset and a
deactivation end every session of the user at once, whoever holds a copy of the cookie;
a session also ends after the idle timeout and, however busy, after its absolute lifetime.
"""
from __future__ import annotations

import secrets
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import tracker.web.auth as auth_module
from tests.conftest import PASSWORD, Auth
from tracker import create_app
from tracker.models import Role, UserSession
from tracker.web.database import EXTENSION_KEY

pytestmark = pytest.mark.usefixtures("fast_passwords")
START = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The sessions' clock, frozen at START until a test moves it."""
    now = {"now": START}
    monkeypatch.setattr(auth_module, "clock", lambda: now["now"])
    return now


def copy_of_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def api_sign_in(client: FlaskClient, login: str) -> None:
    assert client.post("/api/v1/session", json={"login": login, "password": PASSWORD}).status_code == 200


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: Flask, client: FlaskClient, auth: Auth,
                                                              make_user) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    thief = copy_of_cookie(app, client)
    assert thief.get("/api/v1/me").status_code == 200
    auth.logout()
    assert thief.get("/api/v1/me").status_code == 401
    assert thief.get("/").status_code == 302


def test_api_sign_out_ends_the_session_for_every_copy(app: Flask, client: FlaskClient, make_user) -> None:
    user = make_user(Role.TRADER)
    api_sign_in(client, user.login)
    thief = copy_of_cookie(app, client)
    assert client.delete("/api/v1/session").status_code == 204
    refused = thief.get("/api/v1/me")
    assert refused.status_code == 401 and "ended" in refused.json["message"]


def test_sign_out_ends_the_users_sessions_on_other_devices_too(app: Flask, make_user) -> None:
    user = make_user(Role.AUDITOR)
    phone, desk = app.test_client(), app.test_client()
    api_sign_in(phone, user.login)
    api_sign_in(desk, user.login)
    assert phone.delete("/api/v1/session").status_code == 204
    assert desk.get("/api/v1/me").status_code == 401


def test_a_password_reset_by_the_admin_ends_the_users_sessions(app: Flask, auth: Auth, make_user) -> None:
    trader = make_user(Role.TRADER)
    victim = app.test_client()
    api_sign_in(victim, trader.login)
    thief = copy_of_cookie(app, victim)
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    assert auth.post_form(f"/users/{trader.id}/password", {}, form_page="/users").status_code == 200
    assert victim.get("/api/v1/me").status_code == 401
    assert thief.get("/api/v1/me").status_code == 401


def test_deactivation_ends_the_users_sessions(app: Flask, db: Session, auth: Auth, make_user) -> None:
    officer = make_user(Role.CUSTOMS_OFFICER)
    phone = app.test_client()
    api_sign_in(phone, officer.login)
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    assert auth.post_form(f"/users/{officer.id}/active", {"active": "no"}, form_page="/users").status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == officer.id)) == 0


def test_signing_out_leaves_other_users_signed_in(app: Flask, client: FlaskClient, auth: Auth, make_user) -> None:
    other = app.test_client()
    api_sign_in(other, make_user(Role.AUDITOR).login)
    auth.sign_in_as(make_user(Role.AUDITOR))
    auth.logout()
    assert other.get("/api/v1/me").status_code == 200


def test_the_cookie_holds_no_user_data_but_a_secret_the_database_keeps_only_hashed(
        client: FlaskClient, db: Session, make_user) -> None:
    user = make_user(Role.AUDITOR)
    api_sign_in(client, user.login)
    row = db.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    with client.session_transaction() as cookie:
        assert row.secret_hash != cookie["sid"] and len(row.secret_hash) == 64


@pytest.fixture
def short_lived_app(engine: Engine, sessions: sessionmaker[Session], tmp_path: Any) -> Iterator[Flask]:
    """The app with sessions of one hour at most (SESSION_LIFETIME_HOURS=1), idle timeout as configured."""
    app = create_app({"TESTING": True, "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": secrets.token_hex(16),
                      "SESSION_LIFETIME_HOURS": 1})
    app.extensions[EXTENSION_KEY] = sessions
    yield app
    app.extensions["tracker.engine"].dispose()


def test_a_cookie_used_every_20_s_ends_at_the_absolute_lifetime(short_lived_app: Flask, clock: dict[str, float],
                                                                make_user) -> None:
    user = make_user(Role.AUDITOR)
    thief = short_lived_app.test_client()
    api_sign_in(thief, user.login)
    lifetime_s = 3600
    while clock["now"] + 20 <= START + lifetime_s:
        clock["now"] += 20
        assert thief.get("/api/v1/me").status_code == 200, clock["now"] - START
    clock["now"] += 20
    refused = thief.get("/api/v1/me")
    assert refused.status_code == 401 and "timed out" in refused.json["message"]


def test_an_expired_session_sends_the_browser_to_sign_in_again(short_lived_app: Flask, clock: dict[str, float],
                                                               make_user) -> None:
    user = make_user(Role.AUDITOR)
    browser = short_lived_app.test_client()
    Auth(browser).sign_in_as(user)
    for _ in range(3):
        clock["now"] += 25 * 60  # within the idle timeout each time, 75 minutes in all
        response = browser.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "timed out" in browser.get("/login").get_data(as_text=True)


def test_the_absolute_lifetime_is_configurable_and_defaults_to_12_hours(app: Flask, tmp_path: Any) -> None:
    assert app.config["SETTINGS"].session_lifetime_hours == 12
    other = create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32,
                        "SESSION_LIFETIME_HOURS": "2"})
    assert other.config["SETTINGS"].session_lifetime_hours == 2


def test_a_new_sign_in_clears_away_the_users_ended_sessions(app: Flask, db: Session, clock: dict[str, float],
                                                            make_user) -> None:
    user = make_user(Role.AUDITOR)
    for _ in range(3):  # three browsers closed without signing out
        api_sign_in(app.test_client(), user.login)
    clock["now"] += app.permanent_session_lifetime.total_seconds() + 1
    api_sign_in(app.test_client(), user.login)
    assert db.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) == 1


def test_the_account_history_counts_only_open_sessions(app: Flask, client: FlaskClient, auth: Auth,
                                                       clock: dict[str, float], make_user) -> None:
    user = make_user(Role.TRADER)
    api_sign_in(app.test_client(), user.login)
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    assert 'id="open-sessions">1<' in client.get(f"/users/{user.id}/history").get_data(as_text=True)
    clock["now"] += 25 * 60
    client.get("/")  # the administrator stays active; the trader's session goes idle
    clock["now"] += 25 * 60
    assert 'id="open-sessions">0<' in client.get(f"/users/{user.id}/history").get_data(as_text=True)
