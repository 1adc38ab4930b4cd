"""English and Russian: complete catalogs, Russian pages, the domain's messages in Russian, saved preferences."""
from __future__ import annotations

import re
import string
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from tests.conftest import Auth
from tracker.domain.containers import register_container
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.domain.gs1 import make_sscc
from tracker.domain.lifecycle import require_move
from tracker.domain.route_files import RouteFileError, parse_gpx
from tracker.domain.submission import check_submission
from tracker.domain.text import Text, joined, text
from tracker.models import DeclarationStatus
from tracker.web.catalogs import TRANSLATED, extract, po_path, read_catalog, untranslated
from tracker.web.i18n import DOMAINS

#: 4:30 UTC is 10:30 in Bishkek (UTC+6) and 9:30 in Tashkent (UTC+5).
DEPARTURE = datetime(2026, 12, 1, 4, 30, tzinfo=timezone.utc)


def _page(client: FlaskClient, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _switch_language(auth: Auth, language: str) -> Any:
    return auth.post_form("/preferences/language", {"language": language, "next": "/"}, form_page="/preferences")


def _in_russian(app: Flask, message: str) -> str:
    """Show ``message`` through the ``tr`` filter as a Russian page would."""
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        return render_template_string("{{ message|tr }}", message=message)


# ---------------------------------------------------------------- the catalogs


def test_every_catalog_translates_all_its_text() -> None:
    gaps = untranslated(list(DOMAINS))
    listing = "\n".join(f"{where}: {msgid}" for where, texts in gaps.items() for msgid in texts)
    assert not gaps, f"untranslated (python -m tracker.web.catalogs update, then translate):\n{listing}"


def _fields(template: str) -> list[str]:
    """Name every replacement field of a str.format template with its conversion and format spec."""
    return sorted(f"{name}!{conversion or ''}:{spec or ''}"
                  for _, name, spec, conversion in string.Formatter().parse(template) if name is not None)


def test_every_domain_message_keeps_its_values_in_translation() -> None:
    dropped = []
    for message in extract("domain"):
        if not message.id:
            continue
        for language in TRANSLATED:
            found = read_catalog(po_path(language, "domain"), language, "domain").get(message.id)
            if found is not None and found.string and _fields(found.string) != _fields(message.id):
                dropped.append(f"{language}: {message.id!r} -> {found.string!r}")
    assert not dropped, "\n".join(dropped)


def test_every_translation_keeps_its_percent_placeholders() -> None:
    def names(s: str) -> set[str]:
        return set(re.findall(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]", s))

    dropped = []
    for domain in DOMAINS:
        for language in TRANSLATED:
            for message in read_catalog(po_path(language, domain), language, domain):
                if not message.id:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                wanted = set().union(*(names(i) for i in ids))
                # A plural form may leave its count out ("одна запись"); no other value may go.
                needed = wanted - {"num", "count"} if message.pluralizable else wanted
                for translated in filter(None, strings):
                    if names(translated) - wanted or needed - names(translated):
                        dropped.append(f"{language}/{domain}: {ids[0]!r} -> {translated!r}")
    assert not dropped, "\n".join(dropped)


# ---------------------------------------------------------------- pages in Russian


def test_russian_page_shows_russian_words_masses_and_local_times(client: FlaskClient, auth, make_user,
                                                                  make_declaration) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, planned_departure=DEPARTURE,
                                   planned_arrival=DEPARTURE + timedelta(days=1))
    auth.sign_in_as(trader)
    english = _page(client)
    assert "34.500 kg" in english and "2026-12-01 10:30" in english

    switched = _switch_language(auth, "ru")
    assert switched.status_code == 302

    page = _page(client)
    assert '<html lang="ru">' in page
    assert "Декларации" in page and "Масса нетто" in page and "черновик" in page
    assert "34,500 кг" in page
    assert "01.12.2026 10:30" in page  # 4:30 UTC shown in Asia/Bishkek
    container = _page(client, f"/containers/{declaration.items[0].container.sscc}")
    assert "Ртуть нетто" in container and "34,500 кг" in container and "баллон, 34,5 кг" in container


def test_saved_language_survives_signing_out_and_in(app: Flask, client: FlaskClient, auth, make_user, db) -> None:
    trader = make_user("trader")
    auth.sign_in_as(trader)
    _switch_language(auth, "ru")
    db.refresh(trader)
    assert trader.language == "ru"
    auth.logout()

    elsewhere = app.test_client()  # another browser: nothing of the first session remains
    assert '<html lang="en">' in _page(elsewhere, "/login")
    Auth(elsewhere).sign_in_as(trader)
    page = _page(elsewhere)
    assert '<html lang="ru">' in page and "Обзор" in page


def test_users_time_zone_changes_the_times_shown(client: FlaskClient, auth, make_user, make_declaration,
                                                 db) -> None:
    trader = make_user("trader")
    make_declaration(declarant=trader.dealer, planned_departure=DEPARTURE,
                     planned_arrival=DEPARTURE + timedelta(days=1))
    auth.sign_in_as(trader)
    assert "2026-12-01 10:30" in _page(client)
    saved = auth.post_form("/preferences/time-zone", {"time_zone": "Asia/Tashkent", "next": "/"},
                           form_page="/preferences")
    assert saved.status_code == 302
    page = _page(client)
    assert "2026-12-01 09:30" in page and "2026-12-01 10:30" not in page
    assert "Asia/Tashkent" in page


def test_unknown_language_is_refused_and_changes_nothing(client: FlaskClient, auth, make_user, db) -> None:
    trader = make_user("trader")
    auth.sign_in_as(trader)
    _switch_language(auth, "ru")

    refused = _switch_language(auth, "de")
    assert refused.status_code == 400
    db.refresh(trader)
    assert trader.language == "ru"
    assert '<html lang="ru">' in _page(client)


# ---------------------------------------------------------------- the domain's messages in Russian


def test_validation_failure_in_russian_keeps_the_sscc(app: Flask, db, make_user) -> None:
    trader = make_user("trader")
    good = make_sscc(0, "470000001", 4242)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as refused:
        register_container(db, trader, sscc=wrong, container_type="flask_34_5kg", tare_g=2_700,
                           capacity_g=34_500, net_g=34_500)
    message = refused.value.errors["sscc"]
    assert message == f"SSCC {wrong} check digit should be {good[-1]}"  # the API's English is unchanged
    assert _in_russian(app, message) == f"контрольная цифра SSCC {wrong} должна быть {good[-1]}"


def test_submission_failure_in_russian_names_the_container_and_its_holder(app: Flask, db, make_dealer,
                                                                           make_declaration) -> None:
    declaration = make_declaration()
    container = declaration.items[0].container
    elsewhere = make_dealer(legal_name="Ортоскан ОсОО")
    container.custodian_id = elsewhere.id
    db.flush()
    errors = check_submission(db, declaration, datetime.now(timezone.utc))
    shown = _in_russian(app, errors["items[0].sscc"])
    assert shown == f"контейнер {container.sscc} не находится у {declaration.consignor.legal_name}"


def test_refusal_in_russian_names_statuses_in_russian(app: Flask, make_declaration) -> None:
    closed = make_declaration(status="closed")
    with pytest.raises(Conflict) as refused:
        require_move(closed, DeclarationStatus.ARRIVED)
    assert str(refused.value) == (f"declaration {closed.label} is closed; it cannot become arrived "
                                  "(allowed: nothing (final))")
    assert _in_russian(app, refused.value.message) == (
        f"декларация {closed.label} имеет статус «закрыта»; перевести её в статус «прибыла» нельзя "
        "(допустимо: нет (окончательный статус))")


def test_refusal_in_russian_lists_the_allowed_statuses_in_russian(app: Flask, make_declaration) -> None:
    draft = make_declaration()
    with pytest.raises(Conflict) as refused:
        require_move(draft, DeclarationStatus.APPROVED)
    assert str(refused.value).endswith("(allowed: cancelled, submitted)")
    assert _in_russian(app, refused.value.message).endswith("(допустимо: аннулирована, подана)")


def test_joined_messages_are_each_translated(app: Flask) -> None:
    both = joined([text("required"), text("no container {sscc}", sscc="147000000100000017")])
    assert both == "required; no container 147000000100000017"
    assert _in_russian(app, both) == "обязательное поле; контейнер 147000000100000017 не найден"


def test_a_message_without_template_is_shown_as_it_is(app: Flask) -> None:
    assert _in_russian(app, "the scanner said: blurred") == "the scanner said: blurred"
    assert isinstance(text("say why"), Text) and _in_russian(app, text("say why")) == "укажите причину"


def test_an_error_read_with_str_stays_translatable(app: Flask) -> None:
    with pytest.raises(RouteFileError) as refused:
        parse_gpx(b"  ")
    assert str(refused.value) == "the GPX file is empty"
    assert _in_russian(app, str(refused.value)) == "файл GPX пуст"  # as a view shows it: errors["route"] = str(exc)
