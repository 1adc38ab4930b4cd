"""EPCIS 2.0 export of custody events, validated offline against GS1's EPCIS 2.0 JSON schema."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlalchemy.orm import Session

from tests.conftest import DATA, post_at
from tests.tracker.test_exports import API, Journey, auditor_client, custody, journey, make_journey, sign_in  # noqa: F401
from tracker.domain.custody import record_custody_event
from tracker.domain.gs1 import make_sscc
from tracker.models import Declaration, User

pytestmark = pytest.mark.usefixtures("fast_passwords")

EPCIS = f"{API}/custody-events.epcis.jsonld"
SCHEMA = json.loads((DATA / "epcis" / "EPCIS-JSON-Schema.json").read_text())


def _offline(uri: str) -> Resource[Any]:
    raise LookupError(f"the schema refers to {uri}: nothing is fetched, every reference must be local")


#: The schema registered under its own $id; any other (remote) reference fails instead of being fetched.
REGISTRY: Registry[Any] = Registry(retrieve=_offline).with_resource(  # type: ignore[call-arg]
    SCHEMA["$id"], Resource.from_contents(SCHEMA, default_specification=DRAFT7))
VALIDATOR = Draft7Validator(SCHEMA, registry=REGISTRY, format_checker=FormatChecker())


def problems(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def export(client: FlaskClient, query: str = "") -> dict[str, Any]:
    response = client.get(EPCIS + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/ld+json" and response.is_streamed
    return json.loads(response.get_data(as_text=True))


def events_by_step(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {event["bizStep"]: event for event in document["epcisBody"]["eventList"]}


# ---------------------------------------------------------------- the validator itself
def test_validator_accepts_gs1_example_and_refuses_broken_events() -> None:
    example = json.loads((DATA / "epcis" / "example-ObjectEvent.json").read_text())
    assert problems(example) == []
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-02T04:00:00Z",
                "epcisBody": {"eventList": [{k: v for k, v in example.items() if k != "@context"}]}}
    assert problems(document) == []
    urn_step = copy.deepcopy(document)
    urn_step["epcisBody"]["eventList"][0]["bizStep"] = "urn:epcglobal:cbv:bizstep:departing"
    assert problems(urn_step), "CBV 2.0 words are bare in JSON; the CBV URN namespace is refused"
    no_offset = copy.deepcopy(document)
    del no_offset["epcisBody"]["eventList"][0]["eventTimeZoneOffset"]
    assert problems(no_offset)


def test_uri_formats_are_checked() -> None:
    pytest.importorskip("rfc3986_validator", reason="jsonschema checks format 'uri' only with rfc3986-validator")
    assert not FormatChecker().conforms("not a uri", "uri")


# ---------------------------------------------------------------- the export
def test_custody_events_export_is_a_valid_epcis_2_document(auditor_client: FlaskClient, journey: Journey) -> None:
    document = export(auditor_client, "?from=2026-03-02&to=2026-03-02")
    assert problems(document) == []
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    assert document["creationDate"].endswith("Z")
    assert document["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    events = document["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["departing", "inspecting", "accepting"]
    assert all(e["type"] == "ObjectEvent" and e["action"] == "OBSERVE" for e in events)


def test_events_carry_cbv_vocabulary_gs1_identifiers_and_the_declaration(
        auditor_client: FlaskClient, journey: Journey) -> None:
    declaration, container = journey.declaration, journey.declaration.items[0].container
    document = export(auditor_client)
    steps = events_by_step(document)
    departing, inspecting, accepting = steps["departing"], steps["inspecting"], steps["accepting"]
    assert departing["epcList"] == [f"https://id.gs1.org/00/{container.sscc}"]
    assert departing["eventTime"] == "2026-03-02T10:00:00.000+06:00" and departing["eventTimeZoneOffset"] == "+06:00"
    assert departing["eventID"] == f"urn:uuid:{journey.events[0].client_event_id}"
    assert (departing["disposition"], inspecting["disposition"]) == ("in_transit", "in_transit")
    assert "bizLocation" not in departing, "a departing container is on the road"
    origin = f"http://localhost/id/checkpoints/{declaration.origin.code}"
    assert departing["readPoint"] == {"id": origin} and inspecting["bizLocation"] == {"id": origin}
    assert departing["bizTransactionList"] == [{"type": "http://localhost/id/voc/TransportDeclaration",
                                                "bizTransaction": f"http://localhost/id/declarations/"
                                                                  f"{declaration.reference}"}]
    consignor = f"http://localhost/id/dealers/KG/{declaration.consignor.taxpayer_number}"
    consignee = f"http://localhost/id/dealers/KG/{declaration.consignee.taxpayer_number}"
    assert {"type": "owning_party", "source": consignor} in departing["sourceList"]
    assert {"type": "owning_party", "destination": consignee} in departing["destinationList"]
    assert {"type": "possessing_party", "destination": consignee} in accepting["destinationList"]
    assert {"type": "possessing_party", "source": consignor} in accepting["sourceList"]
    assert inspecting["mercury:measuredNetGrams"] == 34_480 and inspecting["mercury:sealIntact"] is True
    assert inspecting["mercury:rowHash"] == journey.events[1].row_hash
    assert document["@context"][1] == {"mercury": "http://localhost/id/voc/"}, "the extension prefix is declared"


def test_a_broken_seal_is_non_conformant_and_an_arrival_arriving(
        auditor_client: FlaskClient, db: Session, journey: Journey) -> None:
    custody(db, journey.officer, journey.declaration, "arrival", 60, seal_intact=False)
    document = export(auditor_client, f"?declaration_id={journey.declaration.id}")
    assert problems(document) == []
    arriving = events_by_step(document)["arriving"]
    assert arriving["disposition"] == "non_conformant" and arriving["mercury:sealIntact"] is False


def test_an_unregistered_sscc_is_still_exported(auditor_client: FlaskClient, db: Session, journey: Journey) -> None:
    unknown = make_sscc(3, "470000001", 987_654)
    record_custody_event(db, post_at(journey.officer, journey.declaration.origin), {
        "client_event_id": "gate-7/000123", "sscc": unknown, "checkpoint": journey.declaration.origin.code,
        "kind": "inspection", "seal_intact": True,
        "event_time": (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()})
    document = export(auditor_client)
    assert problems(document) == []
    event = next(e for e in document["epcisBody"]["eventList"] if e["epcList"] == [f"https://id.gs1.org/00/{unknown}"])
    assert "bizTransactionList" not in event and event["eventID"].startswith("http://localhost/id/custody-events/")
    rows = auditor_client.get(f"{API}/custody-events.csv").get_data(as_text=True)
    assert f"{unknown},false," in rows


def test_identifiers_use_the_configured_base(app: Flask, auditor_client: FlaskClient, journey: Journey) -> None:
    app.config["EPCIS_BASE_URI"] = "https://mercury.example.kg/id"
    event = export(auditor_client)["epcisBody"]["eventList"][0]
    assert event["readPoint"]["id"] == f"https://mercury.example.kg/id/checkpoints/{journey.declaration.origin.code}"


def test_period_limits_the_events(auditor_client: FlaskClient, journey: Journey) -> None:
    assert export(auditor_client, "?to=2026-03-01")["epcisBody"]["eventList"] == []
    assert len(export(auditor_client, "?from=2026-03-02")["epcisBody"]["eventList"]) == 3


# ---------------------------------------------------------------- access
def test_trader_exports_only_their_own_events(
        client: FlaskClient, db: Session, journey: Journey, make_user: Callable[..., User],
        make_tracked_declaration: Callable[..., Declaration]) -> None:
    other = make_journey(db, make_tracked_declaration, make_user, fixes=2)
    sign_in(client, journey.trader)
    events = export(client)["epcisBody"]["eventList"]
    mine = f"http://localhost/id/declarations/{journey.declaration.reference}"
    assert {e["bizTransactionList"][0]["bizTransaction"] for e in events} == {mine}
    assert client.get(f"{EPCIS}?dealer_id={other.declaration.declarant_id}").status_code == 404
    assert client.get(f"{EPCIS}?declaration_id={other.declaration.id}").status_code == 404
    assert len(export(client, f"?dealer_id={journey.trader.dealer_id}")["epcisBody"]["eventList"]) == 3


def test_auditor_narrows_to_one_dealer(auditor_client: FlaskClient, db: Session, journey: Journey,
                                       make_user: Callable[..., User],
                                       make_tracked_declaration: Callable[..., Declaration]) -> None:
    other = make_journey(db, make_tracked_declaration, make_user, fixes=2)
    document = export(auditor_client, f"?dealer_id={other.declaration.consignee_id}")
    assert problems(document) == []
    assert {e["eventID"] for e in document["epcisBody"]["eventList"]} == \
        {f"urn:uuid:{e.client_event_id}" for e in other.events}
