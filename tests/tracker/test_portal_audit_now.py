"""The auditor's Now page: every declaration in transit with its last fix and open alerts, and open alerts by age."""
from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tracker.domain.alerts import close_alert, open_alert
from tracker.models import Declaration, DeclarationStatus, ExpectedCheckpoint, Position, utcnow

pytestmark = pytest.mark.usefixtures("fast_passwords")


def add_fix(db: Session, declaration: Declaration, age: timedelta, lat: float, lon: float) -> None:
    db.execute(insert(Position), [{"beacon_id": declaration.beacon_id, "declaration_id": declaration.id,
                                   "fix_time": utcnow() - age, "lat": lat, "lon": lon, "flags": [],
                                   "protocol": "json", "raw": b"{}"}])


@pytest.fixture
def moving(db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
           make_dealer: Callable[..., Any]) -> dict[str, Any]:
    """Three declarations in transit and one arrived, by hand:

    fresh: last fix 10 min ago at (41.10, 73.10), an open warning (off route, 2 h old) and a closed alert
    stale: last fix 3 h ago at (42.00, 74.00), an open critical (signal lost, 2 days old)
    silent: no fix yet
    arrived: a fix 1 min ago, but no longer in transit (not listed)
    """
    dealer = make_dealer(legal_name="Khaidarkan Mercury JSC")
    fresh, stale, silent, arrived = (
        make_declaration(declarant=dealer, status=status, beacon=make_beacon())
        for status in (DeclarationStatus.IN_TRANSIT,) * 3 + (DeclarationStatus.ARRIVED,))
    add_fix(db, fresh, timedelta(minutes=20), 41.00, 73.00)
    add_fix(db, fresh, timedelta(minutes=10), 41.10, 73.10)
    add_fix(db, stale, timedelta(hours=3), 42.00, 74.00)
    add_fix(db, arrived, timedelta(minutes=1), 42.87, 74.59)
    now = utcnow()
    warning = open_alert(db, kind="off_route", severity="warning", declaration=fresh, at=now - timedelta(hours=2))
    done = open_alert(db, kind="late", severity="warning", declaration=fresh, at=now - timedelta(hours=3))
    close_alert(db, done, None, "checked", at=now)
    critical = open_alert(db, kind="signal_lost", severity="critical", declaration=stale, at=now - timedelta(days=2))
    db.flush()
    return dict(fresh=fresh, stale=stale, silent=silent, arrived=arrived, warning=warning, critical=critical,
                done=done)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))).strip()


def rows(page: str, table: str, attribute: str) -> dict[str, list[str]]:
    match = re.search(rf'<table class="stack" id="{table}">(.*?)</table>', page, re.S)
    assert match, f"no table {table}"
    return {key: [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for key, row in re.findall(rf'<tr {attribute}="([^"]+)"[^>]*>(.*?)</tr>', match.group(1), re.S)}


def geojson(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="now-geojson">(.*?)</script>', page, re.S)
    assert found, "no map data"
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


@pytest.fixture
def auditor(make_user: Callable[..., Any], auth: Any) -> Any:
    user = make_user("auditor")
    auth.sign_in_as(user)
    return user


def now_page(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/audit/now{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_table_lists_what_is_in_transit_stalest_first(client: FlaskClient, moving: dict[str, Any],
                                                      auditor: Any) -> None:
    m = moving
    table = rows(now_page(client), "in-transit", "data-declaration")

    assert list(table) == [str(m[k].id) for k in ("silent", "stale", "fresh")]     # no fix first, then oldest
    reference, kind, dealer, mass, _fix, age, alerts = table[str(m["fresh"].id)]
    assert reference == m["fresh"].label and dealer == "Khaidarkan Mercury JSC" and mass == "34.500 kg"
    assert age == "10 minutes" and alerts == "off route"
    assert table[str(m["stale"].id)][5] == "3 hours"
    assert table[str(m["silent"].id)][4:6] == ["no position yet", "—"]
    assert str(m["arrived"].id) not in table


def test_map_marks_each_last_position_by_age_and_alerts_with_a_popup(client: FlaskClient, moving: dict[str, Any],
                                                                     auditor: Any) -> None:
    m = moving
    page = now_page(client)
    collection = geojson(page)["features"]
    features = {f["properties"]["id"]: f for f in collection if f["properties"]["layer"] == "in_transit"}

    assert set(features) == {m["fresh"].id, m["stale"].id}                        # the silent one has no place yet
    fresh, stale = features[m["fresh"].id], features[m["stale"].id]
    assert fresh["geometry"]["coordinates"] == [73.10, 41.10]
    assert (fresh["properties"]["age"], fresh["properties"]["severity"]) == ("fresh", "warning")
    assert (stale["properties"]["age"], stale["properties"]["severity"]) == ("stale", "critical")
    assert fresh["properties"]["label"] == m["fresh"].label
    assert fresh["properties"]["url"] == f"/declarations/{m['fresh'].id}"
    lines = fresh["properties"]["text"]
    assert lines[:2] == ["Khaidarkan Mercury JSC", "34.500 kg"]
    assert lines[2].startswith("Last fix ") and lines[2].endswith(", 10 minutes ago")
    assert lines[3:] == ["1 open alert", "Warning: off route (2 hours)"]
    assert 'id="now-map"' in page and 'src="/static/map.js"' in page
    routes = [f for f in collection if f["properties"]["layer"] == "route"]
    assert {f["properties"]["declaration_id"] for f in routes} <= {d.id for d in m.values()}
    assert all(f["properties"]["url"] == f"/declarations/{f['properties']['declaration_id']}" for f in routes)


def test_open_alerts_by_severity_and_age_oldest_critical_first(client: FlaskClient, moving: dict[str, Any],
                                                              auditor: Any) -> None:
    m = moving
    page = now_page(client)
    summary = rows(page, "open-alert-summary", "data-severity")
    # severity, open, under 1 h, 1–24 h, 1–7 days, over 7 days, oldest
    assert summary["critical"][1:6] == ["1", "0", "0", "1", "0"]
    assert summary["warning"][1:6] == ["1", "0", "1", "0", "0"]
    assert summary["info"][1:6] == ["0", "0", "0", "0", "0"]
    assert 'href="/alerts?severity=critical">1</a>' in page

    listed = rows(page, "open-alerts", "data-alert")
    assert list(listed) == [str(m["critical"].id), str(m["warning"].id)]           # the closed one is gone
    assert listed[str(m["critical"].id)][1] == "signal lost" and listed[str(m["critical"].id)][3] == "2 days"
    assert f'href="/alerts/{m["critical"].id}"' in page


def test_as_of_time_and_csv_download(client: FlaskClient, moving: dict[str, Any], auditor: Any) -> None:
    page = now_page(client)
    assert re.search(r'id="now-as-of"><span data-live-as-of>As of ', page)
    link = re.search(r'id="now-csv" href="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert link == "/api/v1/exports/in-transit.csv"
    csv = client.get(link).get_data(as_text=True)
    assert moving["fresh"].label in csv and moving["arrived"].label not in csv


def test_table_is_paginated(client: FlaskClient, make_declaration: Callable[..., Declaration], auditor: Any) -> None:
    ids = [make_declaration(status=DeclarationStatus.IN_TRANSIT).id for _ in range(27)]
    first, second = now_page(client), now_page(client, "?page=2")
    shown = list(rows(first, "in-transit", "data-declaration")) + list(rows(second, "in-transit", "data-declaration"))
    assert sorted(int(i) for i in shown) == ids
    assert "1–25 of 27" in first and 'rel="next"' in first


def test_the_map_reads_the_same_few_queries_for_any_number_of_declarations(
        db: Session, client: FlaskClient, make_declaration: Callable[..., Declaration],
        make_checkpoint: Callable[..., Any], statements: list[str], auditor: Any) -> None:
    def count() -> int:
        routes = {f"route-{d.id}" for d in made}
        db.expire_all()                  # nothing already loaded: every route read counts
        statements.clear()
        page = now_page(client)
        sent = len(statements)
        assert {f["id"] for f in geojson(page)["features"] if f["id"].startswith("route-")} == routes
        return sent

    def add(n: int) -> None:
        for _ in range(n):
            d = make_declaration(status=DeclarationStatus.IN_TRANSIT)
            d.expected_checkpoints = [ExpectedCheckpoint(checkpoint=make_checkpoint(), seq=1)]
            made.append(d)
        db.flush()

    made: list[Declaration] = []
    add(2)
    few = count()
    add(8)
    assert count() == few


def test_empty_states_say_what_will_appear(client: FlaskClient, auditor: Any) -> None:
    page = now_page(client)
    assert "Nothing is in transit now" in page and "No open alerts" in page


def test_the_auditor_sees_no_form_that_writes(client: FlaskClient, moving: dict[str, Any], auditor: Any) -> None:
    page = now_page(client)
    assert set(re.findall(r'<form method="post" action="([^"]+)"', page)) <= {"/preferences/language", "/logout"}


@pytest.mark.parametrize("role", ["trader", "customs_officer"])
def test_other_roles_get_403(client: FlaskClient, auth: Any, moving: dict[str, Any], make_user: Callable[..., Any],
                             role: str) -> None:
    kw = {"dealer": moving["fresh"].declarant} if role == "trader" else {}
    auth.sign_in_as(make_user(role, **kw))
    response = client.get("/audit/now")
    assert response.status_code == 403
    assert moving["fresh"].label not in response.get_data(as_text=True)


def test_an_admin_reads_it_too(client: FlaskClient, auth: Any, moving: dict[str, Any],
                               make_user: Callable[..., Any]) -> None:
    auth.sign_in_as(make_user("licensing_admin"))
    assert len(rows(now_page(client), "in-transit", "data-declaration")) == 3


def test_the_now_page_speaks_russian(client: FlaskClient, auth: Any, moving: dict[str, Any], auditor: Any) -> None:
    auth.post_form("/preferences/language", {"language": "ru", "next": "/"}, form_page="/")
    page = now_page(client)
    assert "ртуть в пути" in page and "Открытые оповещения по важности и давности" in page
    table = rows(page, "in-transit", "data-declaration")
    assert table[str(moving["fresh"].id)][5] == "10 минут"
    assert table[str(moving["silent"].id)][4] == "позиций ещё нет"
