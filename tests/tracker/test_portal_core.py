"""What every portal page shares: search, pagination, the menu, session timeout, security headers."""
from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from flask.testing import FlaskClient

from tracker import create_app
from tracker.web.app import content_security_policy


def test_search_by_exact_reference_opens_the_declaration(client: FlaskClient, auth, make_user,
                                                          make_declaration) -> None:
    trader = make_user("trader")
    own = make_declaration(declarant=trader.dealer, status="approved")
    auth.sign_in_as(trader)
    response = client.get("/search", query_string={"q": f"  {own.reference.lower()} "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/declarations/{own.id}")


def test_search_by_printed_sscc_opens_the_container(client: FlaskClient, auth, make_user,
                                                    make_container) -> None:
    trader = make_user("trader")
    flask = make_container(owner=trader.dealer)
    printed = f"(00) {flask.sscc[:9]} {flask.sscc[9:]}"  # as under a GS1-128 barcode
    auth.sign_in_as(trader)
    response = client.get("/search", query_string={"q": printed})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/containers/{flask.sscc}")


def test_search_never_reveals_another_dealers_records(client: FlaskClient, auth, make_user,
                                                      make_declaration, make_container) -> None:
    trader = make_user("trader")
    other = make_declaration(status="approved")
    others_flask = make_container()
    auth.sign_in_as(trader)
    for query in (other.reference, others_flask.sscc):
        page = client.get("/search", query_string={"q": query})
        assert page.status_code == 200
        assert "Nothing you may see matches" in page.get_data(as_text=True)


def test_search_lists_several_matches(client: FlaskClient, auth, make_user, make_declaration) -> None:
    auditor = make_user("auditor")
    first, second = make_declaration(status="approved"), make_declaration(status="approved")
    common = "".join(a for a, b in zip(first.reference, second.reference) if a == b)[:6]
    auth.sign_in_as(auditor)
    page = client.get("/search", query_string={"q": common}).get_data(as_text=True)
    assert first.reference in page and second.reference in page


def test_long_container_list_is_paginated(client: FlaskClient, auth, make_user, make_container) -> None:
    trader = make_user("trader")
    ssccs = sorted(make_container(owner=trader.dealer).sscc for _ in range(30))
    auth.sign_in_as(trader)
    first = client.get("/containers").get_data(as_text=True)
    second = client.get("/containers", query_string={"page": 2}).get_data(as_text=True)
    on_first = [s for s in ssccs if s in first]
    on_second = [s for s in ssccs if s in second]
    assert on_first == ssccs[:25] and on_second == ssccs[25:]
    assert "1–25 of 30" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "26–30 of 30" in second and 'rel="prev"' in second


def test_empty_container_list_says_so(client: FlaskClient, auth, make_user) -> None:
    auth.sign_in_as(make_user("trader"))
    assert "No containers registered." in client.get("/containers").get_data(as_text=True)


def _menu(page: str) -> list[str]:
    nav = page.split('<nav class="menu"')[1].split("</nav>")[0]
    return re.findall(r">([^<]+)</a>", nav)


@pytest.mark.parametrize("role, shown, hidden", [
    ("trader", {"Declarations", "New declaration", "Alerts", "Register and stock"}, {"Users", "Checkpoint"}),
    ("customs_officer", {"Checkpoint", "Scan", "Alerts"}, {"New declaration", "Users", "Register and stock"}),
    ("auditor", {"Declarations", "Licences", "Users", "Devices"}, {"New declaration", "Scan"}),
    ("licensing_admin", {"Licences", "Approvals and consents", "Users", "Devices", "Checkpoints and zones"},
     {"New declaration", "Scan"}),
])
def test_menu_shows_each_role_its_own_pages(client: FlaskClient, auth, make_user, role: str,
                                            shown: set[str], hidden: set[str]) -> None:
    auth.sign_in_as(make_user(role))
    menu = set(_menu(client.get("/").get_data(as_text=True)))
    assert shown <= menu and not hidden & menu


def test_idle_session_ends_after_the_timeout(client: FlaskClient, auth, make_user, app,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker.web.auth as auth_module

    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(auth_module, "clock", lambda: clock["now"])
    auth.sign_in_as(make_user("auditor"))
    limit = app.permanent_session_lifetime.total_seconds()
    clock["now"] += limit - 5
    assert client.get("/").status_code == 200  # still active: each request restarts the clock
    clock["now"] += limit - 5
    assert client.get("/").status_code == 200
    clock["now"] += limit + 1
    timed_out = client.get("/containers")
    assert timed_out.status_code == 302 and "/login" in timed_out.headers["Location"]
    assert "timed out" in client.get("/login").get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_a_page_updating_itself_does_not_keep_an_idle_session_alive(
        client: FlaskClient, auth, make_user, app, monkeypatch: pytest.MonkeyPatch) -> None:
    """An officer walks away from an open live page: its streams and refreshes never count as them at work."""
    import tracker.web.auth as auth_module

    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(auth_module, "clock", lambda: clock["now"])
    auth.sign_in_as(make_user("auditor"))
    limit = app.permanent_session_lifetime.total_seconds()
    clock["now"] += limit - 5
    assert client.get("/audit/now", headers={"X-Mercury-Live": "1"}).status_code == 200   # still signed in
    live = client.get("/live?topic=notifications", buffered=False)
    assert live.status_code == 200
    live.close()
    clock["now"] += 10                                     # the idle time ran on, from the last click
    timed_out = client.get("/audit/now", headers={"X-Mercury-Live": "1"})
    assert timed_out.status_code == 302 and "/login" in timed_out.headers["Location"]


def test_api_session_times_out_too(client: FlaskClient, make_user, monkeypatch: pytest.MonkeyPatch, app) -> None:
    import tracker.web.auth as auth_module
    from tests.conftest import PASSWORD

    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(auth_module, "clock", lambda: clock["now"])
    user = make_user("auditor")
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    clock["now"] += app.permanent_session_lifetime.total_seconds() + 1
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and "timed out" in refused.json["message"]


def test_session_timeout_is_configurable(tmp_path: Any) -> None:
    app = create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32,
                      "SESSION_TIMEOUT_MINUTES": 5})
    assert app.permanent_session_lifetime.total_seconds() == 300


def test_content_security_policy_admits_only_the_configured_tile_server() -> None:
    plain = content_security_policy("")
    assert "script-src 'self' 'wasm-unsafe-eval';" in plain and "img-src 'self' data: blob:;" in plain
    osm = content_security_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in osm
    sharded = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert "https://*.tile.example.org;" in sharded
    assert "tile" not in sharded.split("img-src")[0] and "tile" not in sharded.split("img-src")[1].split(";", 1)[1]


def test_pages_carry_the_policy_with_the_tile_server(tmp_path: Any) -> None:
    app = create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": secrets.token_hex(16), "MAP_TILE_URL": "https://tiles.example.kg/{z}/{x}/{y}.png"})
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "https://tiles.example.kg" in policy and "'unsafe-inline'" not in policy


def test_language_switch_without_sign_in_keeps_the_page(client: FlaskClient) -> None:
    from tests.conftest import Auth

    token = Auth(client).csrf_token("/login")
    switched = client.post("/preferences/language", data={"language": "ru", "next": "/login",
                                                         "csrf_token": token})
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ru">' in page
    refused = client.post("/preferences/language", data={"language": "ru", "next": "/login"})
    assert refused.status_code == 400  # no CSRF token


def test_preferences_page_saves_the_time_zone_and_refuses_a_made_up_one(client: FlaskClient, auth,
                                                                       make_user, db) -> None:
    officer = make_user("customs_officer")
    auth.sign_in_as(officer)
    page = client.get("/preferences").get_data(as_text=True)
    assert 'id="time_zone"' in page and "Asia/Bishkek" in page
    saved = auth.post_form("/preferences/time-zone", {"time_zone": "Asia/Tashkent", "next": "/preferences"},
                           form_page="/preferences")
    assert saved.status_code == 302
    db.refresh(officer)
    assert officer.time_zone == "Asia/Tashkent"
    assert "Asia/Tashkent" in client.get("/").get_data(as_text=True)  # the footer names the zone
    refused = auth.post_form("/preferences/time-zone", {"time_zone": "Mars/Olympus"}, form_page="/preferences")
    assert refused.status_code == 400
    db.refresh(officer)
    assert officer.time_zone == "Asia/Tashkent"
