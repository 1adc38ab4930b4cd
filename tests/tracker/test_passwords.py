"""New passwords must be hard to guess (issue 12, item 6), and old ones keep working.

The policy applies wherever a password is set: the administrator's forms, the CLI,
generated passwords. Each weak password of the finding is refused with a clear message.
"""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD, Auth
from tracker.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    WeakPassword,
    generate_password,
    hash_password,
    password_problem,
)
from tracker.domain.users import create_user
from tracker.models import Role, User

pytestmark = pytest.mark.usefixtures("fast_passwords")
NAMES = ["aigul.t", "Aigul Toktosunova"]


@pytest.mark.parametrize("password, message", [
    ("aaaaaaaaaa", "too common or too easy to guess"),
    ("1234567890", "too common or too easy to guess"),
    ("qwertyuiop", "too common or too easy to guess"),
    ("password123", "too common or too easy to guess"),
    ("aigul.t", "10 to 256 characters"),
    ("aigul.t-2026", "must not contain your login or name"),
    ("TOKTOSUNOVA!!", "must not contain your login or name"),
    (" " * 10, "cannot be only spaces"),
    ("x" * 100_000, "10 to 256 characters"),
    ("short", "10 to 256 characters"),
])
def test_each_weak_password_of_the_finding_is_refused_with_its_reason(password: str, message: str) -> None:
    problem = password_problem(password, NAMES)
    assert problem is not None and message in problem


@pytest.mark.parametrize("password", [PASSWORD, "a long enough secret", "Osh to Bishkek by night 7"])
def test_passphrases_and_long_random_passwords_are_accepted(password: str) -> None:
    assert password_problem(password, NAMES) is None


def test_the_longest_password_accepted_is_256_characters() -> None:
    words = "mercury flasks cross the Too-Ashuu pass at night "
    long_one = (words * 6)[:MAX_PASSWORD_LENGTH]
    assert password_problem(long_one, NAMES) is None
    assert password_problem(long_one + "x", NAMES) is not None


def test_generated_passwords_meet_the_policy() -> None:
    assert all(password_problem(generate_password(NAMES), NAMES) is None for _ in range(50))


def test_an_account_cannot_be_created_with_a_weak_password(db: Session, make_dealer) -> None:
    with pytest.raises(WeakPassword, match="must not contain your login or name"):
        create_user(db, login="aigul.t", name="Aigul Toktosunova", role=Role.AUDITOR, password="aigul.t.password")
    assert db.scalar(select(User).where(User.login == "aigul.t")) is None


def test_the_admin_sees_why_a_password_was_refused_and_nothing_is_stored(
        db: Session, client: FlaskClient, auth: Auth, make_user) -> None:
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    response = auth.post_form("/users", {"login": "aigul.t", "name": "Aigul Toktosunova", "role": "auditor",
                                         "password": "1234567890"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="user-password-error"[^>]*>[^<]*too common or too easy to guess', page)
    assert db.scalar(select(User).where(User.login == "aigul.t")) is None


def test_the_admin_cannot_reset_to_a_weak_password(db: Session, auth: Auth, make_user) -> None:
    trader = make_user(Role.TRADER)
    old_hash = trader.password_hash
    auth.sign_in_as(make_user(Role.LICENSING_ADMIN))
    response = auth.post_form(f"/users/{trader.id}/password", {"password": " " * 10}, form_page="/users")
    assert response.status_code == 400 and "cannot be only spaces" in response.get_data(as_text=True)
    db.expire_all()
    assert trader.password_hash == old_hash


def test_a_password_set_before_the_policy_still_signs_in(db: Session, client: FlaskClient, make_user) -> None:
    user = make_user(Role.AUDITOR)
    user.password_hash = hash_password("1234567890")  # what the old policy accepted
    db.commit()
    response = client.post("/api/v1/session", json={"login": user.login, "password": "1234567890"})
    assert response.status_code == 200


def test_the_russian_portal_explains_a_refused_password_in_russian(db: Session, client: FlaskClient, auth: Auth,
                                                                   make_user) -> None:
    admin = make_user(Role.LICENSING_ADMIN)
    admin.language = "ru"
    db.commit()
    auth.sign_in_as(admin)
    response = auth.post_form("/users", {"login": "aigul.t", "name": "Aigul Toktosunova", "role": "auditor",
                                         "password": "aaaaaaaaaa"})
    error = re.search(r'id="user-password-error"[^>]*>([^<]*)<', response.get_data(as_text=True)).group(1)
    assert error and "too common" not in error
