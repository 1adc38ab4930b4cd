"""Kyrgyz, the state language: chosen by the switch, saved on the user, picked from the browser; its
catalogs complete; its pages, the domain's messages and their dates in Kyrgyz. And what Russian got wrong:
the gender of a closed declaration, ISO ranges with "..", event kinds left in English."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from tests.conftest import Auth
from tracker.domain.gs1 import make_sscc
from tracker.domain.exports import Period
from tracker.domain.text import text
from tracker.models import AlertStatus, DeclarationStatus
from tracker.web.catalogs import untranslated
from tracker.web.i18n import LANGUAGES
from tracker.web.labels import label

#: 4:30 UTC is 10:30 in Bishkek (UTC+6).
DEPARTURE = datetime(2026, 12, 1, 4, 30, tzinfo=timezone.utc)
#: The Kyrgyz engineer's catalogs (the other four are translated on another branch).
KYRGYZ_DOMAINS = ["messages", "domain", "audit"]


def _page(client: FlaskClient, path: str = "/", **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _shown(app: Flask, language: str, message: Any) -> str:
    """Show ``message`` through the ``tr`` filter as a page in ``language`` would."""
    with app.test_request_context("/", headers={"Accept-Language": language}):
        return render_template_string("{{ message|tr }}", message=message)


def test_kyrgyz_catalogs_translate_all_their_text() -> None:
    gaps = {where: texts for where, texts in untranslated(KYRGYZ_DOMAINS).items() if where.startswith("ky/")}
    assert gaps == {}


def test_the_switch_offers_kyrgyz_in_kyrgyz(client: FlaskClient) -> None:
    assert LANGUAGES["ky"] == "Кыргызча"
    assert 'value="ky"' in _page(client, "/login") and "Кыргызча" in _page(client, "/login")


def test_a_browser_asking_for_kyrgyz_gets_kyrgyz(client: FlaskClient) -> None:
    page = _page(client, "/login", **{"Accept-Language": "ky-KG,ky;q=0.9,ru;q=0.8"})
    assert '<html lang="ky">' in page and "Кирүү" in page and "Сырсөз" in page


def test_kyrgyz_page_shows_kyrgyz_words_masses_and_local_times(client: FlaskClient, auth: Auth, make_user, db,
                                                                make_declaration) -> None:
    trader = make_user("trader")
    make_declaration(declarant=trader.dealer, planned_departure=DEPARTURE, planned_arrival=DEPARTURE + timedelta(days=1))
    auth.sign_in_as(trader)
    switched = auth.post_form("/preferences/language", {"language": "ky", "next": "/"}, form_page="/preferences")
    assert switched.status_code == 302
    db.refresh(trader)
    assert trader.language == "ky"
    page = _page(client)
    assert '<html lang="ky">' in page
    assert "Декларациялар" in page and "Нетто салмагы" in page and "долбоор" in page
    assert "34,500 кг" in page and "01.12.2026 10:30" in page


def test_a_domain_message_in_kyrgyz_keeps_its_values(app: Flask) -> None:
    good = make_sscc(0, "470000001", 4242)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    message = text("SSCC {sscc} check digit should be {expected}", sscc=wrong, expected=good[-1])
    assert _shown(app, "ky", message) == f"SSCC {wrong} текшерүү саны {good[-1]} болушу керек"


def test_a_period_is_written_with_the_languages_dates_and_an_en_dash(app: Flask) -> None:
    message = text("licence {number} of {dealer} is valid {period}, not on {day}", number="L-1", dealer="Ортоскан",
                   period=Period(date(2026, 1, 1), date(2026, 12, 31)), day=date(2027, 1, 5))
    assert message == "licence L-1 of Ортоскан is valid 2026-01-01 – 2026-12-31, not on 2027-01-05"  # the API's
    russian = _shown(app, "ru", message).replace("\u202f", " ")  # Babel: "2026\u202fг."
    assert russian == ("лицензия L-1 (Ортоскан) действует в период 1 янв. 2026 г. – 31 дек. 2026 г., "
                       "но не 5 янв. 2027 г.")
    kyrgyz = _shown(app, "ky", message)
    assert kyrgyz == "L-1 лицензиясы (Ортоскан) 2026-ж., 1-янв. – 2026-ж., 31-дек. аралыгында күчүндө, 2027-ж., 5-янв. күнү эмес"


def test_no_message_writes_a_range_with_two_dots(app: Flask) -> None:
    from tracker.web.catalogs import extract

    with_dots = [m.id for domain in ("domain", "messages", "audit") for m in extract(domain)
                 if m.id and ".." in (m.id if isinstance(m.id, str) else m.id[0]).replace("...", "")]
    assert with_dots == []


@pytest.mark.parametrize(("language", "declaration", "alert"), [("ru", "закрыта", "закрыто"),
                                                                 ("ky", "жабылган", "жабылган")])
def test_a_closed_declaration_and_a_closed_alert_each_agree_with_their_noun(app: Flask, language: str,
                                                                            declaration: str, alert: str) -> None:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert label(DeclarationStatus.CLOSED) == declaration and label(AlertStatus.CLOSED) == alert


def test_the_refusal_of_a_closed_declaration_reads_right_in_russian(app: Flask, make_declaration) -> None:
    from tracker.domain.errors import Conflict
    from tracker.domain.lifecycle import require_move

    closed = make_declaration(status="closed")
    with pytest.raises(Conflict) as refused:
        require_move(closed, DeclarationStatus.ARRIVED)
    assert _shown(app, "ru", refused.value.message).startswith(f"декларация {closed.label} имеет статус «закрыта»")
    assert _shown(app, "ky", refused.value.message).startswith(
        f"{closed.label} декларациясынын статусу — «жабылган»; аны «келген» статусуна өткөрүүгө болбойт")


def test_a_kyrgyz_form_reads_and_writes_kilograms_with_a_decimal_comma() -> None:
    from tracker.domain.kilograms import kg_value, read_kg

    assert read_kg("34,5", "ky") == 34_500 and read_kg("1 000,25", "ky") == 1_000_250
    assert kg_value(34_500, "ky") == "34,5"
