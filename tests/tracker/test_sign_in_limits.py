"""Password guessing is limited, logged and shown to the administrator (issue 12, item 6).

Failed sign-ins are counted per account in the database (five within 15 minutes, then
the account waits, whatever the password) and per address by Flask-Limiter; a refused
attempt gets 429 with Retry-After and the same words whether or not the account exists.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import tracker.web.auth as auth_module
from tests.conftest import PASSWORD, Auth
from tracker import create_app, migrate
from tracker.models import AccountEvent, AccountEventKind, Role

pytestmark = pytest.mark.usefixtures("fast_passwords")
START = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The sign-in clock, frozen at START until a test moves it."""
    now = {"now": START}
    monkeypatch.setattr(auth_module, "clock", lambda: now["now"])
    return now


def api_login(client: FlaskClient, login: str, password: str, address: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/session", json={"login": login, "password": password},
                       environ_overrides={"REMOTE_ADDR": address})


def test_forty_wrong_passwords_then_the_right_one_is_refused(client: FlaskClient, clock, make_user) -> None:
    user = make_user(Role.TRADER)
    answers = [api_login(client, user.login, f"guess number {n}").status_code for n in range(40)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    refused = api_login(client, user.login, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me").status_code == 401


def test_the_account_may_try_again_once_the_lock_has_passed(client: FlaskClient, clock, make_user) -> None:
    user = make_user(Role.TRADER)
    for n in range(5):
        api_login(client, user.login, f"guess number {n}", address=f"198.51.100.{n}")
    locked = api_login(client, user.login, PASSWORD, address="198.51.100.99")
    assert locked.status_code == 429  # another address changes nothing: the count is the account's
    clock["now"] += int(locked.headers["Retry-After"])
    assert api_login(client, user.login, PASSWORD, address="198.51.100.99").status_code == 200


def test_a_correct_sign_in_starts_the_count_afresh(client: FlaskClient, clock, make_user) -> None:
    user = make_user(Role.AUDITOR)
    for n in range(4):
        assert api_login(client, user.login, f"guess number {n}").status_code == 401
    assert api_login(client, user.login, PASSWORD).status_code == 200
    clock["now"] += 1
    assert api_login(client, user.login, "one more wrong guess").status_code == 401
    assert api_login(client, user.login, PASSWORD).status_code == 200


def test_an_unknown_login_is_limited_in_the_same_words(client: FlaskClient, clock, make_user) -> None:
    known = make_user(Role.TRADER)
    answers = {}
    for login in (known.login, "nobody.at.all"):
        for n in range(6):
            response = api_login(client, login, f"guess number {n}", address=f"192.0.2.{len(answers)}")
        answers[login] = (response.status_code, response.json["message"])
    assert answers[known.login] == answers["nobody.at.all"]
    assert answers[known.login][0] == 429


def test_the_sign_in_page_shows_the_wait_and_sends_retry_after(client: FlaskClient, auth: Auth, clock,
                                                                make_user) -> None:
    user = make_user(Role.AUDITOR)
    for n in range(5):
        assert auth.login(user.login, f"guess number {n}").status_code == 401
    refused = auth.login(user.login)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 15 * 60
    assert "Too many failed sign-ins. Try again in 15 minutes." in page


def test_one_address_guessing_many_logins_is_stopped(client: FlaskClient, clock, make_user) -> None:
    logins = [make_user(Role.TRADER).login for _ in range(7)]
    answers = [api_login(client, login, f"guess number {n}", address="203.0.113.66").status_code
               for n in range(3) for login in logins]
    assert answers[:20] == [401] * 20 and answers[20] == 429  # SIGN_IN_ADDRESS_LIMIT: 20 per 10 minutes
    refused = api_login(client, make_user(Role.TRADER).login, PASSWORD, address="203.0.113.66")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"] == "too_many_requests"
    assert api_login(client, logins[0], PASSWORD, address="203.0.113.67").status_code == 200


def test_successful_sign_ins_do_not_count_against_the_address(client: FlaskClient, make_user) -> None:
    user = make_user(Role.AUDITOR)
    for _ in range(25):
        assert api_login(client, user.login, PASSWORD, address="203.0.113.80").status_code == 200


def test_failed_sign_ins_are_logged_and_recorded(client: FlaskClient, db: Session, clock, make_user,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    user = make_user(Role.TRADER)
    with caplog.at_level(logging.WARNING, logger="tracker.sign_in"):
        api_login(client, user.login, "a wrong guess", address="203.0.113.9")
        api_login(client, "nobody.at.all", "a wrong guess", address="203.0.113.9")
    assert any("sign-in failed" in r.getMessage() and user.login in r.getMessage() for r in caplog.records)
    rows = db.execute(select(AccountEvent.login, AccountEvent.user_id, AccountEvent.address).where(
        AccountEvent.kind == AccountEventKind.SIGN_IN_FAILED).order_by(AccountEvent.id)).all()
    assert [tuple(r) for r in rows] == [(user.login, user.id, "203.0.113.9"), ("nobody.at.all", None, "203.0.113.9")]


def test_a_100000_character_password_is_a_quick_failed_attempt(client: FlaskClient, auth: Auth, make_user) -> None:
    user = make_user(Role.AUDITOR)
    assert api_login(client, user.login, "x" * 100_000).status_code == 401
    assert auth.login(user.login, "x" * 100_000).status_code == 401


def test_an_empty_sign_in_form_is_refused_with_a_clear_message(client: FlaskClient, auth: Auth) -> None:
    response = auth.login("", "")
    assert response.status_code == 400 and "Enter your login and password." in response.get_data(as_text=True)


def test_the_api_contract_documents_the_refusal(client: FlaskClient, clock, make_user) -> None:
    from jsonschema import validate

    document = client.get("/api/v1/openapi.json").json
    documented = document["paths"]["/session"]["post"]["responses"]["429"]
    user = make_user(Role.TRADER)
    for n in range(6):
        refused = api_login(client, user.login, f"guess number {n}")
    assert refused.status_code == 429 and "Retry-After" in documented["headers"]
    validate(refused.json, document["components"]["schemas"]["Error"])


def test_behind_a_trusted_proxy_each_client_is_limited_on_its_own_address(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'proxy.sqlite3'}", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x" * 32, "TRUSTED_PROXIES": "1", "SIGN_IN_ADDRESS_LIMIT": "2 per minute"})
    migrate.upgrade(app.config["DATABASE_URL"])
    client = app.test_client()

    def attempt(client_address: str) -> int:
        return client.post("/api/v1/session", json={"login": "nobody", "password": "a wrong guess"},
                           headers={"X-Forwarded-For": client_address}).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2") == 401  # another client behind the same proxy is not blocked


def test_the_account_audit_trail_cannot_be_rewritten_on_postgresql(db: Session, make_user) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    if db.bind.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    make_user(Role.AUDITOR)  # its 'created' entry
    for statement in ("UPDATE account_events SET login = 'someone.else'", "DELETE FROM account_events",
                      "TRUNCATE account_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(text(statement))
