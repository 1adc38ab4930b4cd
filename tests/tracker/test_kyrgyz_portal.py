"""The admin, declaration, officer and trader parts in Kyrgyz: their own text and refusals in the user's language."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Auth
from tracker.models import Role


def _switch_language(auth: Auth, language: str) -> Any:
    return auth.post_form("/preferences/language", {"language": language, "next": "/"}, form_page="/preferences")


@pytest.mark.parametrize("language, refusal", [
    ("en", "Only auditors and the licensing authority see this page."),
    ("ru", "Эту страницу видят только аудиторы и лицензирующий орган."),
    ("ky", "Бул бетти аудиторлор жана лицензиялоочу орган гана көрө алат."),
])
def test_a_trader_refused_a_readers_page_reads_why_in_their_language(client: FlaskClient, auth: Auth, make_user,
                                                                      language: str, refusal: str) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert _switch_language(auth, language).status_code == 302
    response = client.get("/dealers")
    assert response.status_code == 403
    assert refusal in response.get_data(as_text=True)


def test_declaration_page_in_kyrgyz_names_its_parts_in_kyrgyz(client: FlaskClient, auth: Auth, make_user,
                                                              make_declaration) -> None:
    trader = make_user(Role.TRADER)
    declaration = make_declaration(declarant=trader.dealer)
    auth.sign_in_as(trader)
    assert _switch_language(auth, "ky").status_code == 302
    response = client.get(f"/declarations/{declaration.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="ky">' in page
    for kyrgyz in ("Коркунуч классы", "Пландалган мөөнөттөр", "Билдирилген нетто салмагы", "Хронология"):
        assert kyrgyz in page, kyrgyz
    for english in ("Consignor", "Transport class", "Planned window", "Declared net mass", "Timeline"):
        assert english not in page, english


# ---------------------------------------------------------------- refusals the library words in English


def test_a_missing_page_says_so_in_the_users_language(client: FlaskClient, auth: Auth, make_user) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert _switch_language(auth, "ru").status_code == 302
    response = client.get("/declarations/not-a-number")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Здесь ничего нет: адрес неверен" in page
    assert "requested URL" not in page


def test_a_role_refused_an_action_reads_why_in_their_language_on_pages_only(client: FlaskClient, auth: Auth,
                                                                             make_user) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert _switch_language(auth, "ru").status_code == 302
    page = client.get("/checkpoint/scan")  # recording custody is for customs officers
    assert page.status_code == 403
    assert "Вашей роли это действие не разрешено." in page.get_data(as_text=True)
    api = client.post("/api/v1/dealers", json={})
    assert api.status_code == 403
    assert api.get_json()["message"] == "your role may not manage licenses"  # the API's English is unchanged


def test_a_form_without_its_token_is_refused_in_the_users_language(client: FlaskClient, auth: Auth,
                                                                    make_user) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert _switch_language(auth, "ru").status_code == 302
    response = client.post("/preferences/language", data={"language": "en", "next": "/"})
    assert response.status_code == 400
    assert "Форму не удалось принять: обновите страницу" in response.get_data(as_text=True)
