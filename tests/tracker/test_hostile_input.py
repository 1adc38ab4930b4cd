"""Hostile input on every route: a clear 4xx (never a 500 or a hang), and nothing stored.

Each attack is sent to every route of the app (API and portal, every method), as the
roles that can reach the most code: a trader, a customs officer and the licensing
authority. Path ids are real rows, so the requests get past "not found" into the views.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from tests.conftest import PASSWORD
from tracker.domain.customs_import import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS
from tracker.models import Base
from tracker.web.api.openapi import DOCUMENT
from tracker.web.guards import body_limit

NUL, SURROGATE, HUGE = "mer\x00cury", "mer\ud800cury", 2**63
#: Routes left out: static files, the document, and signing out (which would end the sweep's session).
LEFT_OUT = ("static", "api.openapi_document", "api.close_session", "auth.logout")
#: Query parameters the portal reads (the API's come from the OpenAPI document).
PORTAL_QUERY = ("q", "page", "per_page", "status", "dealer", "dealer_id", "declaration_id", "group", "key",
                "from", "to", "kind", "step", "edit", "figure", "sscc", "checkpoint", "next", "photo", "topic",
                "declaration", "since")
#: Form fields the portal reads.
PORTAL_FORM = ("sscc", "kind", "reason", "remarks", "mass", "measured_kg", "origin", "destination", "vehicle",
               "planned_departure", "planned_arrival", "waypoints", "corridor_m", "counterparty", "direction",
               "transaction_date", "entry_date", "event_time", "checkpoint", "client_event_id", "seal_intact",
               "geojson", "place", "language", "time_zone", "beacon_id", "login", "name", "password", "code",
               "number", "quantity_g", "quota_g", "lat", "lon", "radius_m", "dealer_id", "role", "next")


@dataclass(frozen=True)
class Attack:
    """One hostile request: how to send it, and the statuses that count as refusing it."""

    name: str
    send: Callable[[FlaskClient, str, Rule, "Ids"], Any]
    refused: frozenset[int] = frozenset(range(400, 500))


@dataclass
class Ids:
    """Real rows for path parameters, and the CSRF token of the signed-in session."""

    values: dict[str, Any]
    csrf: str = ""

    def path(self, rule: Rule, override: Callable[[str, str], str] | None = None) -> str:
        """Fill ``rule``'s parameters with real values (or ``override(name, converter)``)."""
        url = rule.rule
        for match in re.finditer(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
            converter, name = match.group(1) or "default", match.group(2)
            value = override(name, converter) if override else str(self.values.get(name, 1))
            url = url.replace(match.group(0), value)
        return url


def _api_operation(rule: Rule, method: str) -> dict[str, Any]:
    path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
    return DOCUMENT["paths"].get(path, {}).get(method.lower(), {})


def _query_names(rule: Rule, method: str) -> list[str]:
    if rule.rule.startswith("/api/"):
        return [p["name"] for p in _api_operation(rule, method).get("parameters", []) if p["in"] == "query"]
    return list(PORTAL_QUERY)


def _hostile_json(rule: Rule, method: str, text: Any, number: Any) -> dict[str, Any]:
    """A body whose every documented field is hostile (text fields ``text``, numbers ``number``)."""
    body = _api_operation(rule, method).get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = _resolve(body.get("schema", {}))
    fields = {name: number if _resolve(spec).get("type") in ("integer", "number") else text
              for name, spec in schema.get("properties", {}).items()}
    return fields | {"remarks": text, "count": number}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _send(client: FlaskClient, method: str, url: str, **kw: Any) -> Any:
    return client.open(url, method=method, **kw)


def _form(client: FlaskClient, method: str, rule: Rule, ids: Ids, value: str) -> Any:
    data = {name: value for name in PORTAL_FORM} | {"csrf_token": ids.csrf}
    return _send(client, method, ids.path(rule), data=data)


def _raw_json(client: FlaskClient, method: str, rule: Rule, ids: Ids, raw: str) -> Any:
    return _send(client, method, ids.path(rule), data=raw.encode(), content_type="application/json")


DEEP = "[" * 100_000 + "]" * 100_000
ATTACKS = [
    Attack("nul-in-path", lambda c, m, r, i: _send(c, m, i.path(r, lambda n, conv: "1%00" if conv == "int"
                                                                else "mer%00cury"))),
    Attack("id-beyond-column", lambda c, m, r, i: _send(c, m, i.path(r, lambda n, conv: "99999999999"
                                                                     if conv == "int" else str(i.values.get(n, 1))))),
    Attack("nul-in-query", lambda c, m, r, i: _send(c, m, i.path(r), query_string={
        n: NUL for n in _query_names(r, m)} | {NUL: "1"})),
    Attack("huge-number-in-query", lambda c, m, r, i: _send(c, m, i.path(r), query_string={
        n: str(10**30) for n in _query_names(r, m)})),
    Attack("page-zero-size", lambda c, m, r, i: _send(c, m, i.path(r), query_string={"page": "1", "per_page": "0"})),
    Attack("nul-in-form", lambda c, m, r, i: _form(c, m, r, i, NUL)),
    Attack("huge-number-in-form", lambda c, m, r, i: _form(c, m, r, i, "9" * 40)),
    Attack("nul-in-json", lambda c, m, r, i: _send(c, m, i.path(r), json=_hostile_json(r, m, NUL, 1))),
    Attack("surrogate-in-json", lambda c, m, r, i: _send(c, m, i.path(r), json=_hostile_json(r, m, SURROGATE, 1))),
    Attack("surrogate-in-json-key", lambda c, m, r, i: _raw_json(c, m, r, i, '{"\\udfff": 1}')),
    Attack("huge-integer-in-json", lambda c, m, r, i: _send(c, m, i.path(r), json=_hostile_json(r, m, "x", HUGE))),
    Attack("not-a-number-in-json", lambda c, m, r, i: _raw_json(c, m, r, i, json.dumps(
        _hostile_json(r, m, "x", 1)).replace(" 1", " NaN"))),
    Attack("json-nested-100000-deep", lambda c, m, r, i: _raw_json(c, m, r, i, DEEP)),
    Attack("body-over-every-limit", lambda c, m, r, i: _send(
        c, m, i.path(r), data=b"[" + b"0," * (9 * 2**20) + b"0]", content_type="application/json"),
        refused=frozenset({413})),
    Attack("body-over-its-endpoint-limit", lambda c, m, r, i: _send(
        c, m, i.path(r), data=b" " * (body_limit(r.endpoint) + 1), content_type="application/json"),
        refused=frozenset({413})),
    Attack("nul-in-header", lambda c, m, r, i: _send(c, m, i.path(r), headers={"Idempotency-Key": NUL,
                                                                               "X-Anything": NUL})),
]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: Attacks on a body or form only mean something for writes.
BODY_ATTACKS = {"nul-in-form", "huge-number-in-form", "nul-in-json", "surrogate-in-json", "surrogate-in-json-key",
                "huge-integer-in-json", "not-a-number-in-json", "json-nested-100000-deep", "body-over-every-limit",
                "body-over-its-endpoint-limit"}
#: Attacks that must be refused wherever they are sent (the others may be ignored, e.g. an unread parameter).
ALWAYS_REFUSED = {"nul-in-path", "id-beyond-column", "nul-in-query", "nul-in-header", "nul-in-json",
                  "surrogate-in-json", "surrogate-in-json-key", "huge-integer-in-json", "not-a-number-in-json",
                  "json-nested-100000-deep", "body-over-every-limit", "body-over-its-endpoint-limit",
                  "nul-in-form"}


def _routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in LEFT_OUT:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def _applies(attack: Attack, rule: Rule, method: str) -> bool:
    if attack.name in BODY_ATTACKS:
        return method in WRITES
    if attack.name in ("nul-in-path", "id-beyond-column"):
        return "<" in rule.rule and (attack.name == "nul-in-path" or "<int:" in rule.rule)
    if attack.name == "page-zero-size":
        return "per_page" in _query_names(rule, method) and rule.rule.startswith("/api/")
    return True


#: What signing the attacking roles in writes (their sessions and sign-in records), not what an attack stores.
SIGN_IN_RECORDS = {"user_sessions", "account_events"}


def _row_counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {name: db.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items() if name not in SIGN_IN_RECORDS}


@pytest.fixture
def ids(db: Session, make_user, make_declaration, make_checkpoint) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Real rows for every kind of path parameter, and users of the roles that write the most."""
    officer = make_user("customs_officer")
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status="in_transit", origin=officer.checkpoints[0])
    return {"users": [trader, officer, make_user("licensing_admin")], "values": {
        "declaration_id": declaration.id, "sscc": declaration.items[0].container.sscc,
        "checkpoint_id": officer.checkpoints[0].id, "user_id": trader.id, "table": "declarations",
        "action": "suspend", "filename": "style.css"}}


def _sign_in(client: FlaskClient, user: Any) -> str:
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return match.group(1) if match else ""


def run_attack(app: Flask, db: Session, ids: dict[str, Any], attack: Attack) -> tuple[int, list[str], list[str]]:
    """Send ``attack`` to every route as every user; return (tried, server errors, not refused)."""
    tried, errors, accepted = 0, [], []
    for user in ids["users"]:
        client = app.test_client()
        path_ids = Ids(ids["values"], _sign_in(client, user))
        for rule, method in _routes(app):
            if not _applies(attack, rule, method):
                continue
            tried += 1
            response = attack.send(client, method, rule, path_ids)
            where = f"{user.role.value} {method} {rule.rule}: {response.status_code}"
            if response.status_code >= 500:
                errors.append(where)
            elif attack.name in ALWAYS_REFUSED and response.status_code not in attack.refused:
                accepted.append(where)
    return tried, errors, accepted


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_hostile_input_is_refused_with_4xx_and_stores_nothing(
        app: Flask, db: Session, ids: dict[str, Any], fast_passwords: None, attack: Attack) -> None:
    before = _row_counts(db)
    tried, errors, accepted = run_attack(app, db, ids, attack)
    print(f"{attack.name}: {tried} tried, {len(errors)} server errors, {len(accepted)} not refused")
    assert not errors, f"{attack.name}: server errors on\n" + "\n".join(errors)
    assert not accepted, f"{attack.name}: not refused on\n" + "\n".join(accepted)
    if attack.name in ALWAYS_REFUSED:
        assert _row_counts(db) == before


def test_refusal_names_what_is_wrong(client: FlaskClient) -> None:
    response = client.get("/api/v1/declarations", query_string={"reference": NUL})
    assert response.status_code == 400 and "NUL" in response.json["message"]
    response = client.post("/api/v1/session", data=DEEP, content_type="application/json")
    assert response.status_code == 400 and "nested" in response.json["message"]


def test_an_id_beyond_its_column_is_not_found(client: FlaskClient, ids: dict[str, Any]) -> None:
    _sign_in(client, ids["users"][2])
    assert client.get("/declarations/99999999999").status_code == 404
    assert client.get("/api/v1/declarations/99999999999").status_code == 404


def test_a_page_beyond_reason_is_refused(client: FlaskClient, ids: dict[str, Any]) -> None:
    _sign_in(client, ids["users"][2])
    for query in ({"page": str(10**30)}, {"per_page": "0"}, {"per_page": "201"}, {"page": "0"}):
        response = client.get("/api/v1/declarations", query_string=query)
        assert response.status_code == 400 and set(response.json["fields"]) <= {"page", "per_page"}, query


def test_method_not_allowed_names_the_allowed_ones(client: FlaskClient) -> None:
    response = client.put("/api/v1/declarations")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert client.delete("/login").headers["Allow"]


def test_customs_upload_over_its_limits_is_refused_whole(client: FlaskClient, db: Session, ids: dict[str, Any]) -> None:
    _sign_in(client, ids["users"][2])
    header = "date,reference,direction,mass_g\n"
    rows = "".join(f"2026-11-20,26KGHG{n:010d}0,export,34500\n" for n in range(MAX_UPLOAD_ROWS + 1))
    before = _row_counts(db)
    response = client.post("/api/v1/customs-records", data=header + rows, content_type="text/csv")
    assert response.status_code == 422 and str(MAX_UPLOAD_ROWS) in response.json["fields"]["file"]
    response = client.post("/api/v1/customs-records", data=header + "x" * MAX_UPLOAD_BYTES,
                           content_type="text/csv")
    assert response.status_code == 413 and "KiB" in response.json["message"]
    assert _row_counts(db) == before
