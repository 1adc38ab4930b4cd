"""Checkpoints named in the reader's language: the administrator types the names, every page, map popup,
refusal and the compliance report use them, and a language without a name shows the English one."""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Auth
from tracker.domain.place_names import PlaceName, named, place_name
from tracker.domain.text import text
from tracker.models import Checkpoint, Declaration, DeclarationStatus, Role

OSH = {"ru": "Ошский таможенный пост", "ky": "Ош бажы посту"}

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _as(auth: Auth, db: Session, user: Any, language: str) -> None:
    user.language = language
    db.flush()
    auth.sign_in_as(user)


@pytest.fixture
def osh_to_bishkek(make_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Checkpoint]
                   ) -> Declaration:
    """An approved declaration from an Osh post named in Russian and Kyrgyz to a post named only in English."""
    origin = make_checkpoint(code="OSH-N", name="Osh customs post", names=dict(OSH))
    destination = make_checkpoint(code="BISH-N", name="Bishkek customs terminal", lat=42.875, lon=74.590)
    return make_declaration(origin=origin, destination=destination, status=DeclarationStatus.APPROVED)


def test_a_place_is_named_in_the_language_asked_else_in_english() -> None:
    place = SimpleNamespace(name="Osh customs post", names=dict(OSH))
    assert place_name(place, "ky") == "Ош бажы посту" and place_name(place, "ru") == "Ошский таможенный пост"
    assert place_name(place, "en") == "Osh customs post" and place_name(place, "de") == "Osh customs post"
    assert place_name(SimpleNamespace(name="Naryn post", names={}), "ky") == "Naryn post"
    assert place_name({"name": "Naryn post", "names": {"ky": "Нарын посту"}}, "ky") == "Нарын посту"
    assert place_name(None, "ru") == "—"


def test_a_message_names_the_place_in_english_for_the_api_and_keeps_its_other_names() -> None:
    message = text("you are not posted at {post}; the receipt is filed there",
                   post=named(SimpleNamespace(name="Osh customs post", names=dict(OSH))))
    assert message == "you are not posted at Osh customs post; the receipt is filed there"
    assert isinstance(message.params["post"], PlaceName) and message.params["post"].names == OSH


@pytest.mark.parametrize(("language", "origin", "words"), [
    ("en", "Osh customs post", "Origin → destination"),
    ("ru", "Ошский таможенный пост", "Пункт"),
    ("ky", "Ош бажы посту", "Декларация"),
])
def test_the_declaration_page_names_its_places_in_the_readers_language(
        client: FlaskClient, auth: Auth, db: Session, make_user: Callable[..., Any], osh_to_bishkek: Declaration,
        language: str, origin: str, words: str) -> None:
    _as(auth, db, make_user(Role.AUDITOR), language)
    page = _page(client, f"/declarations/{osh_to_bishkek.id}")
    assert f"{origin} → Bishkek customs terminal" in page
    assert language == "en" or "Osh customs post" not in page


def test_the_map_popup_names_the_checkpoint_in_the_readers_language(
        client: FlaskClient, auth: Auth, db: Session, make_user: Callable[..., Any],
        osh_to_bishkek: Declaration) -> None:
    _as(auth, db, make_user(Role.AUDITOR), "ky")
    response = client.get(f"/declarations/{osh_to_bishkek.id}/map.geojson")
    labels = {f["properties"]["code"]: f["properties"]["label"] for f in response.get_json()["features"]
              if f["properties"]["layer"] == "checkpoint"}
    assert labels == {"OSH-N": "Ош бажы посту", "BISH-N": "Bishkek customs terminal"}


def test_the_officers_refusal_names_the_post_in_kyrgyz(client: FlaskClient, auth: Auth, db: Session,
                                                       make_user: Callable[..., Any],
                                                       osh_to_bishkek: Declaration) -> None:
    from tracker.domain.errors import Forbidden
    from tracker.domain.receipts import ReceiptInput, report_receipt

    officer = make_user(Role.CUSTOMS_OFFICER)
    osh_to_bishkek.destination.names = {"ky": "Бишкек бажы терминалы"}
    osh_to_bishkek.status = DeclarationStatus.ARRIVED
    db.flush()
    with pytest.raises(Forbidden) as refused:
        report_receipt(db, officer, osh_to_bishkek.id, ReceiptInput())
    assert str(refused.value).startswith("you are not posted at Bishkek customs terminal;")
    with client.application.test_request_context("/", headers={"Accept-Language": "ky"}):
        from tracker.web.domain_text import translate

        assert translate(refused.value.message).startswith("сиз «Бишкек бажы терминалы» пунктуна бекитилген эмессиз")


# ---------------------------------------------------------------- the administrator types the names
@pytest.fixture
def admin(make_user: Callable[..., Any], auth: Auth) -> Any:
    user = make_user(Role.LICENSING_ADMIN)
    auth.sign_in_as(user)
    return user


def _checkpoint_form(**names: str) -> dict[str, str]:
    return {"code": "naryn-2", "name": "Naryn customs post", "kind": "customs_post", "country": "KG",
            "lat": "41.429", "lon": "75.991", "radius_m": "500", **{f"name_{k}": v for k, v in names.items()}}


def test_the_administrator_names_a_checkpoint_in_each_language(client: FlaskClient, auth: Auth, db: Session,
                                                               admin: Any) -> None:
    form = _page(client, "/checkpoints")
    assert 'name="name_ru"' in form and 'name="name_ky"' in form and 'name="name_en"' not in form
    response = auth.post_form("/checkpoints", _checkpoint_form(ru="  Нарынский  таможенный пост ", ky="Нарын бажы посту"))
    assert response.status_code == 302
    checkpoint = db.scalars(select(Checkpoint).where(Checkpoint.code == "NARYN-2")).one()
    assert checkpoint.names == {"ru": "Нарынский таможенный пост", "ky": "Нарын бажы посту"}
    edit = f"/checkpoints?edit={checkpoint.id}"
    assert 'value="Нарын бажы посту"' in _page(client, edit)
    response = auth.post_form(f"/checkpoints/{checkpoint.id}", _checkpoint_form(ru="", ky="Нарын бажы посту"),
                              form_page=edit)
    db.expire_all()
    assert response.status_code == 302 and checkpoint.names == {"ky": "Нарын бажы посту"}
    admin.language = "ky"
    db.flush()
    assert re.search(r"<td[^>]*>Нарын бажы посту</td>", _page(client, "/checkpoints"))


def test_a_name_too_long_is_refused_beside_its_field_and_nothing_is_stored(auth: Auth, db: Session,
                                                                          admin: Any) -> None:
    response = auth.post_form("/checkpoints", _checkpoint_form(ky="Ж" * 121))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'<p class="field-error" id="checkpoint-name-ky-error"[^>]*>[^<]+</p>', page)
    assert db.scalar(select(func.count()).select_from(Checkpoint).where(Checkpoint.code == "NARYN-2")) == 0


def test_the_api_gives_the_checkpoints_names(client: FlaskClient, auth: Auth, db: Session, admin: Any,
                                            make_checkpoint: Callable[..., Checkpoint]) -> None:
    make_checkpoint(code="OSH-API", name="Osh customs post", names=dict(OSH))
    response = client.get("/api/v1/checkpoints?per_page=100")
    (found,) = [c for c in response.get_json()["items"] if c["code"] == "OSH-API"]
    assert found["name"] == "Osh customs post" and found["names"] == OSH
