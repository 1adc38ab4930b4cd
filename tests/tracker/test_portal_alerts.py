"""Alert pages: the list for every role, one alert with its history, and answering it by role."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tracker.domain.alerts import open_alert
from tracker.models import AlertStatus

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def shortage(db: Session, make_user, make_declaration):  # type: ignore[no-untyped-def]
    """A trader and a shortage alert on its declaration (at the destination's position)."""
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status="closed")
    alert = open_alert(db, kind="receipt_shortage", severity="critical", declaration=declaration,
                       details={"sscc": declaration.items[0].container.sscc, "shortage_g": 1_200},
                       lat=42.875, lon=74.59)
    return trader, alert


def field_error(page: str, field: str) -> str:
    match = re.search(rf'<label for="{field}".*?<p class="field-error"[^>]*>(.*?)</p>', page, re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


def test_trader_explains_a_shortage_and_it_enters_the_history(client: FlaskClient, auth, shortage, db: Session) -> None:
    trader, alert = shortage
    auth.sign_in_as(trader)
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "shortage on receipt" in page and 'id="explanation"' in page
    assert 'id="acknowledge"' not in page and 'id="close"' not in page
    assert f'href="/declarations/{alert.declaration_id}" id="declaration-link"' in page
    assert '<dd class="mono" id="position">42.87500, 74.59000</dd>' in page
    response = auth.post_form(f"/alerts/{alert.id}/explain", {"explanation": "Evaporation loss on a hot day"},
                              form_page=f"/alerts/{alert.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/alerts/{alert.id}"
    shown = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "Your explanation was filed." in shown and "Evaporation loss on a hot day" in shown
    assert trader.name in shown.split("History")[1]
    db.refresh(alert)
    assert alert.status == AlertStatus.EXPLAINED
    assert [(s.action, s.actor_id, s.note) for s in alert.history][-1] == (
        "explained", trader.id, "Evaporation loss on a hot day")


def test_an_empty_explanation_is_refused_beside_its_field(client: FlaskClient, auth, shortage, db: Session) -> None:
    trader, alert = shortage
    auth.sign_in_as(trader)
    response = auth.post_form(f"/alerts/{alert.id}/explain", {"explanation": "  "}, form_page=f"/alerts/{alert.id}")
    assert response.status_code == 400
    assert "say what happened" in field_error(response.get_data(as_text=True), "explanation")
    db.refresh(alert)
    assert alert.status == AlertStatus.OPEN and len(alert.history) == 1


@pytest.mark.parametrize("role", ["customs_officer", "licensing_admin"])
def test_officer_or_admin_acknowledges_then_closes_with_remarks(client: FlaskClient, auth, shortage, make_user,
                                                                db: Session, role: str) -> None:
    _trader, alert = shortage
    handler = make_user(role)
    auth.sign_in_as(handler)
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert 'id="acknowledge"' in page and 'id="close"' in page and 'id="explanation"' not in page
    path = f"/alerts/{alert.id}"
    assert auth.post_form(f"{path}/acknowledge", {"note": "calling the consignee"}, form_page=path).status_code == 302
    assert "Alert acknowledged." in client.get(path).get_data(as_text=True)
    refused = auth.post_form(f"{path}/close", {"resolution": ""}, form_page=path)
    assert refused.status_code == 400
    assert "say how the alert was resolved" in field_error(refused.get_data(as_text=True), "resolution")
    closing = auth.post_form(f"{path}/close", {"resolution": "Weighed again: scale fault"}, form_page=path)
    assert closing.status_code == 302
    closed = client.get(path).get_data(as_text=True)
    assert "Weighed again: scale fault" in closed and 'id="close"' not in closed and 'id="acknowledge"' not in closed
    db.refresh(alert)
    assert alert.status == AlertStatus.CLOSED and alert.resolved_by_id == handler.id
    assert [s.action for s in alert.history] == ["opened", "acknowledged", "closed"]


def test_a_closed_alert_takes_no_more_answers(client: FlaskClient, auth, shortage, make_user, db: Session) -> None:
    trader, alert = shortage
    officer = make_user("customs_officer")
    auth.sign_in_as(officer)
    path = f"/alerts/{alert.id}"
    auth.post_form(f"{path}/close", {"resolution": "done"}, form_page=path)
    auth.logout()
    auth.sign_in_as(trader)
    assert 'id="explanation"' not in client.get(path).get_data(as_text=True)
    late = auth.post_form(f"{path}/explain", {"explanation": "too late"}, form_page="/alerts")
    assert late.status_code == 409 and "is closed" in late.get_data(as_text=True)


@pytest.mark.parametrize("role,answers", [
    ("trader", ["acknowledge", "close"]),
    ("customs_officer", ["explain"]),
    ("licensing_admin", ["explain"]),
    ("auditor", ["explain", "acknowledge", "close"]),
])
def test_roles_may_give_only_their_answers(client: FlaskClient, auth, shortage, make_user, db: Session,
                                           role: str, answers: list[str]) -> None:
    owner, alert = shortage
    user = owner if role == "trader" else make_user(role)
    auth.sign_in_as(user)
    for answer in answers:
        field = {"explain": "explanation", "acknowledge": "note", "close": "resolution"}[answer]
        response = auth.post_form(f"/alerts/{alert.id}/{answer}", {field: "x"}, form_page="/alerts")
        assert response.status_code == 403, answer
    db.refresh(alert)
    assert alert.status == AlertStatus.OPEN and len(alert.history) == 1


def test_auditor_reads_the_alert_without_any_form(client: FlaskClient, auth, shortage, make_user) -> None:
    _trader, alert = shortage
    auth.sign_in_as(make_user("auditor"))
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "shortage on receipt" in page and "History" in page
    assert not re.search(r'id="(explain|acknowledge|close)-form"', page)


def test_another_dealers_alert_does_not_exist_for_a_trader(client: FlaskClient, auth, shortage, make_user) -> None:
    _owner, alert = shortage
    auth.sign_in_as(make_user("trader"))
    assert client.get(f"/alerts/{alert.id}").status_code == 404
    assert "shortage on receipt" not in client.get("/alerts").get_data(as_text=True)


def test_list_puts_open_alerts_first_and_filters(client: FlaskClient, auth, db: Session, make_user,
                                                make_declaration) -> None:
    declaration = make_declaration(status="in_transit")
    now = datetime.now(timezone.utc)
    late = open_alert(db, kind="late", severity="warning", declaration=declaration, at=now - timedelta(hours=1))
    stop = open_alert(db, kind="unscheduled_stop", severity="critical", declaration=declaration,
                      at=now - timedelta(hours=3))
    closed = open_alert(db, kind="off_route", severity="critical", declaration=declaration, at=now)
    closed.status, closed.closed_at = AlertStatus.CLOSED, now
    db.flush()
    auth.sign_in_as(make_user("customs_officer"))
    page = client.get("/alerts").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'href="/alerts/(\d+)"', page)][::2]
    assert order == [late.id, stop.id, closed.id]
    critical = client.get("/alerts?severity=critical").get_data(as_text=True)
    assert f"/alerts/{stop.id}\"" in critical and f"/alerts/{late.id}\"" not in critical
    assert f"/alerts/{closed.id}\"" not in client.get("/alerts?status=open").get_data(as_text=True)
    only_late = client.get("/alerts?kind=late").get_data(as_text=True)
    assert f"/alerts/{late.id}\"" in only_late and f"/alerts/{stop.id}\"" not in only_late
    assert '<option value="late" selected>' in only_late
    assert "No alert matches these filters" in client.get("/alerts?kind=late&status=closed").get_data(as_text=True)
    assert client.get("/alerts?severity=bogus").status_code == 200


def test_list_is_paginated(client: FlaskClient, auth, db: Session, make_user, make_declaration) -> None:
    declaration = make_declaration(status="in_transit")
    for _ in range(27):
        open_alert(db, kind="signal_lost", severity="warning", declaration=declaration)
    auth.sign_in_as(make_user("auditor"))
    first = client.get("/alerts").get_data(as_text=True)
    assert first.count('class="alert-row') == 25 and "1–25 of 27" in first and 'rel="next"' in first
    assert client.get("/alerts?page=2").get_data(as_text=True).count('class="alert-row') == 2


def test_empty_list_says_what_will_appear(client: FlaskClient, auth, make_user) -> None:
    auth.sign_in_as(make_user("trader"))
    assert "The tracker opens one when a shipment leaves its corridor" in client.get("/alerts").get_data(as_text=True)


def test_alert_page_speaks_russian(client: FlaskClient, auth, shortage) -> None:
    trader, alert = shortage
    auth.sign_in_as(trader)
    auth.post_form("/preferences/language", {"language": "ru", "next": "/"}, form_page="/")
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "История" in page and "Причина задержки или недостачи" in page


def test_a_rule_opened_step_names_the_tracker(client: FlaskClient, auth, shortage) -> None:
    trader, alert = shortage
    auth.sign_in_as(trader)
    history = client.get(f"/alerts/{alert.id}").get_data(as_text=True).split("History")[1]
    assert "the tracker (automatic rule)" in history and "opened" in history




def test_details_are_shown_in_words_and_units(client: FlaskClient, auth, db: Session, make_user,
                                              make_declaration) -> None:
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status="in_transit")
    alert = open_alert(db, kind="off_route", severity="critical", declaration=declaration,
                       details={"max_distance_m": 1520, "duration_s": 3_780, "difference_g": -850,
                                "missed_reports": 4})
    auth.sign_in_as(trader)
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "Largest distance from the route</dt><dd>1,520 m" in page
    assert "Duration</dt><dd>1 h 03 min" in page
    assert "Difference</dt><dd>-0.850 kg" in page
    assert "Missed reports</dt><dd>4" in page
    assert "max distance m" not in page and "difference g" not in page
    auth.post_form("/preferences/language", {"language": "ru", "next": f"/alerts/{alert.id}"},
                   form_page=f"/alerts/{alert.id}")
    russian = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "Наибольшее удаление от маршрута</dt><dd>1\xa0520 м" in russian
    assert "1 ч 03 мин" in russian and "-0,850 кг" in russian
