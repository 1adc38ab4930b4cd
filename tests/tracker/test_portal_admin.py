"""The licensing authority's pages: licences, approvals, decisions, users, devices, checkpoints and zones.

Each form records what it should and the page shows it; a refused form shows the message
beside its field and stores nothing; auditors read every page without a form and get 403
on every POST; traders see only their own licences and no other admin page.
"""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from tracker.domain.passwords import verify_password
from tracker.domain.tokens import hash_token
from tracker.models import (
    Alert,
    Beacon,
    BeaconProtocol,
    DeclarationStatus,
    DeviceToken,
    ExportConsent,
    ImportApproval,
    License,
    LicenseStatus,
    Role,
    User,
    Zone,
    ZoneKind,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

ADMIN_PAGES = ["/licences", "/approvals", "/users", "/devices", "/checkpoints"]
#: A polygon around the Too-Ashuu tunnel, in GeoJSON's [longitude, latitude] order.
TOO_ASHUU = {"type": "Polygon", "coordinates": [[[73.68, 42.25], [73.86, 42.25], [73.86, 42.43],
                                                 [73.68, 42.43], [73.68, 42.25]]]}


@pytest.fixture
def admin(make_user, auth):  # type: ignore[no-untyped-def]
    """The licensing authority, signed in."""
    user = make_user(Role.LICENSING_ADMIN)
    auth.sign_in_as(user)
    return user


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def field_error(page: str, field_id: str) -> str:
    """Return the message shown beside the field ``field_id`` ('' when none)."""
    match = re.search(rf'<p class="field-error" id="{field_id}-error"[^>]*>([^<]*)</p>', page)
    return match.group(1) if match else ""


# ---------------------------------------------------------------- licences
def test_admin_issues_a_licence_and_its_page_shows_it(db, client, auth, admin, make_dealer) -> None:
    dealer = make_dealer(licensed=False, legal_name="Chauvai Mercury LLC")
    response = auth.post_form("/licences", {
        "dealer_id": dealer.id, "number": "KG-HG-2027-014", "valid_from": "2027-01-01",
        "valid_to": "2027-12-31", "annual_quota_kg": "1 035.5", "activities": ["production", "storage"],
        "reason": "application 2026/88"})
    assert response.status_code == 302
    licence = db.scalars(select(License).where(License.number == "KG-HG-2027-014")).one()
    assert licence.annual_quota_g == 1_035_500 and licence.dealer_id == dealer.id
    assert {a.value for a in licence.activities} == {"production", "storage"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Licence KG-HG-2027-014 issued to Chauvai Mercury LLC." in page
    assert "1,035.500 kg" in page and "application 2026/88" in page and admin.name in page


def test_a_bad_quota_is_shown_beside_its_field_and_nothing_is_issued(db, auth, admin, make_dealer) -> None:
    dealer = make_dealer(licensed=False)
    before = count(db, License)
    response = auth.post_form("/licences", {
        "dealer_id": dealer.id, "number": "KG-HG-BAD", "valid_from": "2027-01-01", "valid_to": "2027-12-31",
        "annual_quota_kg": "12.3456", "activities": ["storage"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "at most three decimals" in field_error(page, "licence-quota")
    assert 'value="KG-HG-BAD"' in page  # what was typed stays in the form
    assert count(db, License) == before


def test_the_domain_refusal_is_shown_beside_its_field(db, auth, admin, make_dealer) -> None:
    dealer = make_dealer(licensed=False)
    response = auth.post_form("/licences", {
        "dealer_id": dealer.id, "number": "KG-HG-X", "valid_from": "2027-01-01", "valid_to": "2026-12-31",
        "annual_quota_kg": "10", "activities": []})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(page, "licence-valid-to") and "at least one of" in page
    assert db.scalar(select(License).where(License.number == "KG-HG-X")) is None


def test_licence_list_filters_by_status_and_dealer(client, admin, make_dealer, db) -> None:
    first, second = make_dealer(legal_name="First LLC"), make_dealer(legal_name="Second LLC")
    second.licenses[0].status = LicenseStatus.SUSPENDED
    db.flush()
    page = client.get("/licences?status=suspended").get_data(as_text=True)
    assert second.licenses[0].number in page and first.licenses[0].number not in page
    page = client.get(f"/licences?dealer={first.id}").get_data(as_text=True)
    assert first.licenses[0].number in page and second.licenses[0].number not in page


def test_suspend_reinstate_revoke_each_record_who_when_why(db, client, auth, admin, make_dealer,
                                                           make_declaration) -> None:
    dealer = make_dealer()
    licence = dealer.licenses[0]
    moving = make_declaration(declarant=dealer, status="in_transit")
    url = f"/licences/{licence.id}"
    assert auth.post_form(f"{url}/suspend", {"reason": "inspection found unrecorded stock"},
                          form_page=url).status_code == 302
    db.expire_all()
    assert licence.status == LicenseStatus.SUSPENDED
    assert db.scalar(select(Alert).where(Alert.declaration_id == moving.id)).kind == "licence_suspended"
    assert auth.post_form(f"{url}/reinstate", {"reason": "stock reconciled"}, form_page=url).status_code == 302
    assert auth.post_form(f"{url}/revoke", {"reason": "sold to an unlicensed buyer"},
                          form_page=url).status_code == 302
    db.expire_all()
    assert [e.action for e in licence.history] == ["suspended", "reinstated", "revoked"]
    page = client.get(url).get_data(as_text=True)
    for reason in ("inspection found unrecorded stock", "stock reconciled", "sold to an unlicensed buyer"):
        assert reason in page
    assert 'id="suspend"' not in page and 'id="revoke"' not in page  # nothing left to change


def test_a_change_without_a_reason_is_refused_beside_the_field(db, client, auth, admin, make_dealer) -> None:
    licence = make_dealer().licenses[0]
    url = f"/licences/{licence.id}"
    response = auth.post_form(f"{url}/suspend", {"reason": "  "}, form_page=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and field_error(page, "reason-suspend") == "Say why."
    db.expire_all()
    assert licence.status == LicenseStatus.ACTIVE and licence.history == []


def test_an_unknown_licence_action_is_not_found(auth, admin, make_dealer) -> None:
    licence = make_dealer().licenses[0]
    url = f"/licences/{licence.id}"
    assert auth.post_form(f"{url}/delete", {"reason": "x"}, form_page=url).status_code == 404


def test_trader_sees_only_own_licences_and_no_forms(client, auth, make_user, make_dealer) -> None:
    trader, other = make_user(Role.TRADER), make_dealer()
    auth.sign_in_as(trader)
    page = client.get("/licences").get_data(as_text=True)
    assert trader.dealer.licenses[0].number in page and other.licenses[0].number not in page
    assert 'id="issue-licence"' not in page
    assert client.get(f"/licences/{other.licenses[0].id}").status_code == 404
    assert client.get(f"/licences/{trader.dealer.licenses[0].id}").status_code == 200


@pytest.mark.parametrize("path", ["/approvals", "/users", "/users/1/history", "/devices", "/checkpoints"])
def test_trader_gets_403_on_admin_pages(client, auth, make_user, path) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert client.get(path).status_code == 403


# ---------------------------------------------------------------- auditor: read-only
def test_auditor_sees_every_page_without_a_form(client, auth, make_user, make_dealer, make_checkpoint,
                                               make_declaration) -> None:
    licence, _checkpoint = make_dealer().licenses[0], make_checkpoint()
    submitted = make_declaration(status="submitted")
    auth.sign_in_as(make_user(Role.AUDITOR))
    for path in ADMIN_PAGES + [f"/licences/{licence.id}", f"/declarations/{submitted.id}"]:
        response = client.get(path)
        page = response.get_data(as_text=True)
        forms = re.findall(r'<form method="post" action="([^"]+)"', page)
        assert response.status_code == 200, path
        # Only the header's language switch and sign-out remain.
        assert set(forms) <= {"/preferences/language", "/logout"}, (path, forms)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.TRADER, Role.CUSTOMS_OFFICER])
def test_every_admin_post_is_refused_to_other_roles(db, client, auth, make_user, make_dealer, make_declaration,
                                                     role) -> None:
    user = make_user(role)
    licence = make_dealer().licenses[0]
    declaration = make_declaration(status="submitted")
    auth.sign_in_as(user)
    token = auth.csrf_token("/")
    posts = ["/licences", f"/licences/{licence.id}/suspend", "/approvals/import", "/approvals/export",
             "/users", f"/users/{user.id}/active", f"/users/{user.id}/password", f"/users/{user.id}/role",
             "/devices/beacons",
             "/devices/stations", "/devices/tokens/1/revoke", "/devices/beacons/1/token", "/devices/beacons/1/networks",
             "/checkpoints", "/checkpoints/1", "/zones", "/zones/1/delete"]
    if role != Role.CUSTOMS_OFFICER:  # customs decides on declarations too
        posts.append(f"/declarations/{declaration.id}/decision")
    for path in posts:
        assert client.post(path, data={"csrf_token": token, "reason": "x", "decision": "approve"}
                           ).status_code == 403, path
    db.expire_all()
    assert licence.status == LicenseStatus.ACTIVE and declaration.status == DeclarationStatus.SUBMITTED


# ---------------------------------------------------------------- approvals and consents
def test_admin_records_an_import_approval_and_an_export_consent(db, client, auth, admin, make_dealer) -> None:
    importer = make_dealer(legal_name="Importer LLC")
    valid = (date.today() + timedelta(days=200)).isoformat()
    response = auth.post_form("/approvals/import", {
        "number": "IA-2027-001", "importer_id": importer.id, "exporter_name": "Recycling GmbH",
        "exporter_country": "de", "quantity_kg": "69", "intended_use": "dental amalgam production",
        "source_not_primary_mining": "yes", "source_statement": "recovered from decommissioned lamps",
        "valid_until": valid}, form_page="/approvals")
    assert response.status_code == 302
    approval = db.scalars(select(ImportApproval).where(ImportApproval.number == "IA-2027-001")).one()
    assert approval.quantity_g == 69_000 and approval.exporter_country == "DE"
    response = auth.post_form("/approvals/export", {
        "number": "EC-2027-007", "exporter_id": importer.id, "importer_name": "Almaty Instruments",
        "importer_country": "KZ", "quantity_kg": "34.5", "intended_use": "measuring instruments",
        "valid_until": valid}, form_page="/approvals")
    assert response.status_code == 302
    assert db.scalars(select(ExportConsent).where(ExportConsent.number == "EC-2027-007")).one().quantity_g == 34_500
    page = client.get("/approvals").get_data(as_text=True)
    assert "IA-2027-001" in page and "Recycling GmbH" in page and "EC-2027-007" in page and "69.000 kg" in page


def test_an_import_approval_without_the_source_statement_is_refused(db, auth, admin, make_dealer) -> None:
    importer = make_dealer()
    response = auth.post_form("/approvals/import", {
        "number": "IA-2027-002", "importer_id": importer.id, "exporter_name": "Recycling GmbH",
        "exporter_country": "KG", "quantity_kg": "1", "intended_use": "x", "source_statement": "",
        "valid_until": "2027-06-30"}, form_page="/approvals")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "not from primary mining" in page and field_error(page, "import-country")
    assert field_error(page, "import-statement")
    assert count(db, ImportApproval) == 0


# ---------------------------------------------------------------- decisions
def test_admin_approves_a_submitted_declaration(db, client, auth, admin, make_submittable) -> None:
    _trader, declaration = make_submittable()
    declaration.status = DeclarationStatus.SUBMITTED
    db.flush()
    response = auth.post_form(f"/declarations/{declaration.id}/decision", {"decision": "approve"},
                              form_page="/licences")
    db.expire_all()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/declarations/{declaration.id}")
    assert declaration.status == DeclarationStatus.APPROVED and declaration.decided_by_id == admin.id
    assert declaration.reference in client.get(response.headers["Location"]).get_data(as_text=True)


def test_rejecting_needs_a_reason_shown_beside_the_field(db, auth, admin, make_submittable) -> None:
    _trader, declaration = make_submittable()
    declaration.status = DeclarationStatus.SUBMITTED
    db.flush()
    url = f"/declarations/{declaration.id}/decision"
    response = auth.post_form(url, {"decision": "reject", "reason": ""}, form_page="/licences")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and field_error(page, "decision-reason")
    assert 'id="approve"' in page and 'id="reject"' in page
    db.expire_all()
    assert declaration.status == DeclarationStatus.SUBMITTED
    response = auth.post_form(url, {"decision": "reject", "reason": "route crosses a prohibited zone"},
                              form_page="/licences")
    assert response.status_code == 302
    db.expire_all()
    assert declaration.status == DeclarationStatus.REJECTED
    assert declaration.decision_reason == "route crosses a prohibited zone"


def test_approval_refused_by_the_rules_shows_why(db, auth, admin, make_submittable) -> None:
    _trader, declaration = make_submittable()
    declaration.status = DeclarationStatus.SUBMITTED
    for licence in declaration.declarant.licenses:
        licence.status = LicenseStatus.SUSPENDED  # suspended since submission
    db.flush()
    response = auth.post_form(f"/declarations/{declaration.id}/decision", {"decision": "approve"},
                              form_page="/licences")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="decision-errors"' in page
    db.expire_all()
    assert declaration.status == DeclarationStatus.SUBMITTED and declaration.reference is None


def test_decision_partial_has_both_buttons_and_the_reason(app, make_declaration) -> None:
    declaration = make_declaration(status="submitted")
    with app.test_request_context():
        html = app.jinja_env.get_template("admin/_decision.html").render(d=declaration, csrf_token=lambda: "t")
    assert 'id="approve"' in html and 'id="reject"' in html and 'for="decision-reason"' in html


# ---------------------------------------------------------------- users
def test_admin_opens_an_account_with_a_password_shown_once(db, client, auth, admin, make_dealer) -> None:
    dealer = make_dealer()
    response = auth.post_form("/users", {"login": "aigul.t", "name": "Aigul Toktosunova", "role": "trader",
                                         "dealer_id": dealer.id, "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    secret = re.search(r'id="password-value">([^<]+)<', page).group(1)
    user = db.scalars(select(User).where(User.login == "aigul.t")).one()
    assert user.dealer_id == dealer.id and verify_password(user.password_hash, secret)
    assert secret not in client.get("/users").get_data(as_text=True)
    auth.logout()
    assert auth.login("aigul.t", secret).status_code == 302


def test_an_officer_needs_a_checkpoint_and_nothing_is_stored(db, auth, admin) -> None:
    before = count(db, User)
    response = auth.post_form("/users", {"login": "officer.new", "name": "New Officer", "role": "customs_officer",
                                         "password": "long enough password"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and field_error(page, "user-checkpoints")
    assert count(db, User) == before


def test_admin_deactivates_and_reactivates_but_not_themselves(db, client, auth, admin, make_user) -> None:
    trader = make_user(Role.TRADER)
    assert auth.post_form(f"/users/{trader.id}/active", {"active": "no"}, form_page="/users").status_code == 302
    db.expire_all()
    assert trader.active is False
    assert auth.post_form(f"/users/{trader.id}/active", {"active": "yes"}, form_page="/users").status_code == 302
    db.expire_all()
    assert trader.active is True
    page = client.get("/users").get_data(as_text=True)
    assert f'id="deactivate-{admin.id}"' not in page
    response = auth.post_form(f"/users/{admin.id}/active", {"active": "no"}, form_page="/users")
    db.expire_all()
    assert response.status_code == 409 and admin.active is True
    assert "cannot deactivate your own account" in response.get_data(as_text=True)


def test_admin_resets_a_password(db, auth, admin, make_user) -> None:
    trader = make_user(Role.TRADER)
    old_hash = trader.password_hash
    response = auth.post_form(f"/users/{trader.id}/password", {}, form_page="/users")
    secret = re.search(r'id="password-value">([^<]+)<', response.get_data(as_text=True)).group(1)
    db.expire_all()
    assert trader.password_hash != old_hash and verify_password(trader.password_hash, secret)


# ---------------------------------------------------------------- devices
def test_station_token_is_shown_once_and_only_its_hash_is_stored(db, client, auth, admin, make_checkpoint) -> None:
    checkpoint = make_checkpoint(code="AKJOL-T", name="Ak-Jol border crossing")
    response = auth.post_form("/devices/stations", {"checkpoint": "AKJOL-T", "name": "Ak-Jol lane 2 scanner"},
                              form_page="/devices")
    page = response.get_data(as_text=True)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-value">([^<]+)<', page).group(1)
    row = db.scalars(select(DeviceToken).where(DeviceToken.checkpoint_id == checkpoint.id)).one()
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    again = client.get("/devices").get_data(as_text=True)
    assert secret not in again and "Ak-Jol lane 2 scanner" in again
    assert client.get("/api/v1/device", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_admin_registers_a_beacon_and_revokes_its_token(db, client, auth, admin, make_dealer) -> None:
    owner = make_dealer()
    response = auth.post_form("/devices/beacons", {
        "device_id": "864454012345678", "protocol": "teltonika", "owner": owner.taxpayer_number,
        "reporting_period_s": "60", "description": "flask crate 7"}, form_page="/devices")
    assert response.status_code == 201
    secret = re.search(r'id="token-value">([^<]+)<', response.get_data(as_text=True)).group(1)
    beacon = db.scalars(select(Beacon).where(Beacon.device_id == "864454012345678")).one()
    assert beacon.owner_id == owner.id and beacon.reporting_period_s == 60
    token = beacon.tokens[0]
    assert auth.post_form(f"/devices/tokens/{token.id}/revoke", {}, form_page="/devices").status_code == 302
    db.expire_all()
    assert token.revoked_at is not None
    assert client.get("/api/v1/device", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    response = auth.post_form(f"/devices/beacons/{beacon.id}/token", {}, form_page="/devices")
    renewed = re.search(r'id="token-value">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert response.status_code == 201 and renewed != secret
    assert client.get("/api/v1/device", headers={"Authorization": f"Bearer {renewed}"}).json["beacon"] == \
        "864454012345678"


def test_a_refused_beacon_shows_the_message_and_stores_nothing(db, auth, admin) -> None:
    response = auth.post_form("/devices/beacons", {"device_id": "", "protocol": "pigeon", "reporting_period_s": "60"},
                              form_page="/devices")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(page, "beacon-device-id") and field_error(page, "beacon-protocol")
    assert count(db, Beacon) == 0 and 'id="token-value"' not in page


# ---------------------------------------------------------------- checkpoints and zones
def test_admin_adds_and_edits_a_checkpoint(db, client, auth, admin) -> None:
    response = auth.post_form("/checkpoints", {
        "code": "torugart-2", "name": "Torugart border crossing", "kind": "border_crossing", "country": "KG",
        "neighbour_country": "cn", "lat": "40,56", "lon": "75.39", "radius_m": "1000"})
    assert response.status_code == 302
    page = client.get("/checkpoints").get_data(as_text=True)
    assert "TORUGART-2" in page and "Torugart border crossing" in page
    from tracker.models import Checkpoint

    checkpoint = db.scalars(select(Checkpoint).where(Checkpoint.code == "TORUGART-2")).one()
    assert (checkpoint.lat, checkpoint.lon, checkpoint.neighbour_country) == (40.56, 75.39, "CN")
    edit = f"/checkpoints?edit={checkpoint.id}"
    assert 'value="Torugart border crossing"' in client.get(edit).get_data(as_text=True)
    response = auth.post_form(f"/checkpoints/{checkpoint.id}", {
        "code": "TORUGART-2", "name": "Torugart (China)", "kind": "border_crossing", "country": "KG",
        "lat": "40.56", "lon": "75.39", "radius_m": "1500"}, form_page=edit)
    db.expire_all()
    assert response.status_code == 302 and checkpoint.name == "Torugart (China)" and checkpoint.radius_m == 1500


def test_a_checkpoint_off_the_globe_is_refused(db, auth, admin) -> None:
    from tracker.models import Checkpoint

    response = auth.post_form("/checkpoints", {"code": "X1", "name": "Nowhere", "kind": "customs_post",
                                               "country": "KG", "lat": "95", "lon": "abc", "radius_m": "500"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(page, "checkpoint-lon") and count(db, Checkpoint) == 0


def test_admin_adds_a_zone_by_pasting_geojson_and_deletes_it(db, client, auth, admin) -> None:
    response = auth.post_form("/zones", {"name": "Too-Ashuu tunnel", "kind": "dead_zone",
                                         "geojson": json.dumps({"type": "Feature", "geometry": TOO_ASHUU})},
                              form_page="/checkpoints")
    assert response.status_code == 302
    zone = db.scalars(select(Zone).where(Zone.name == "Too-Ashuu tunnel")).one()
    assert zone.kind == ZoneKind.DEAD_ZONE and zone.polygon.bounds == (73.68, 42.25, 73.86, 42.43)
    features = client.get("/checkpoints.geojson").json["features"]
    tunnel = next(f for f in features if f["properties"]["layer"] == "zone")
    assert tunnel["properties"]["name"] == "Too-Ashuu tunnel" and tunnel["properties"]["kind"] == "dead_zone"
    assert tunnel["geometry"]["type"] == "Polygon" and tunnel["properties"]["label"] == "Too-Ashuu tunnel"
    assert auth.post_form(f"/zones/{zone.id}/delete", {}, form_page="/checkpoints").status_code == 302
    assert count(db, Zone) == 0


def test_admin_uploads_a_zone_file(db, auth, admin) -> None:
    data = {"name": "Sokh border zone", "kind": "prohibited", "geojson": "",
            "geojson_file": (BytesIO(json.dumps(TOO_ASHUU).encode()), "sokh.geojson")}
    response = auth.post_form("/zones", data, form_page="/checkpoints", content_type="multipart/form-data")
    assert response.status_code == 302
    assert db.scalars(select(Zone)).one().kind == ZoneKind.PROHIBITED


@pytest.mark.parametrize(("geojson", "message"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"type": "Point", "coordinates": [74.5, 42.8]}), "must be a GeoJSON Polygon"),
    (json.dumps({"type": "Polygon", "coordinates": [[[42.25, 173.68], [42.25, 173.86], [42.43, 173.86],
                                                      [42.25, 173.68]]]}), "on the globe"),
    (json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}), "not valid"),
    ("[" * 5000 + "]" * 5000, "nests too deeply"),
    (json.dumps({"type": "Polygon", "coordinates": [[[0.123456789, 0.1]] * 20_000]}), "at most"),
])
def test_a_malformed_zone_is_refused_beside_the_field(db, auth, admin, geojson, message) -> None:
    response = auth.post_form("/zones", {"name": "Bad zone", "kind": "prohibited", "geojson": geojson},
                              form_page="/checkpoints")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in field_error(page, "zone-geojson")
    assert count(db, Zone) == 0


def test_places_geojson_lists_checkpoints_for_any_signed_in_user(client, auth, make_user, make_checkpoint) -> None:
    make_checkpoint(code="OSH-T", name="Osh customs post", lat=40.528, lon=72.799)
    auth.sign_in_as(make_user(Role.TRADER))
    features = client.get("/checkpoints.geojson").json["features"]
    osh = next(f for f in features if f["properties"].get("code") == "OSH-T")
    assert osh["geometry"] == {"type": "Point", "coordinates": [72.799, 40.528]}
    assert osh["properties"]["layer"] == "checkpoint" and osh["properties"]["name"] == "Osh customs post"


def test_checkpoints_page_has_the_map(client, admin) -> None:
    page = client.get("/checkpoints").get_data(as_text=True)
    div = re.search(r'<div class="map" id="places-map"[^>]*>', page).group(0)
    assert " data-map " in div and 'data-geojson-url="/checkpoints.geojson"' in div


# ---------------------------------------------------------------- Russian
@pytest.mark.parametrize(("path", "words"), [
    ("/licences", ["Лицензии", "Выдать лицензию"]),
    ("/approvals", ["Разрешения на ввоз"]),
    ("/users", ["Пользователи", "Открыть учётную запись"]),
    ("/devices", ["Устройства", "Маяки"]),
    ("/checkpoints", ["Контрольные пункты", "Зоны"]),
])
def test_pages_in_russian(db, client, admin, path, words) -> None:
    admin.language = "ru"
    db.flush()
    page = client.get(path).get_data(as_text=True)
    for word in words:
        assert word in page, (path, word)


def test_a_refused_form_speaks_russian(db, auth, admin, make_dealer) -> None:
    admin.language = "ru"
    db.flush()
    licence = make_dealer().licenses[0]
    url = f"/licences/{licence.id}"
    page = auth.post_form(f"{url}/suspend", {"reason": ""}, form_page=url).get_data(as_text=True)
    assert field_error(page, "reason-suspend") == "Укажите причину."
    assert "Основание приостановления" in page


def test_admin_holds_a_tcp_beacon_to_its_networks_and_a_bad_entry_changes_nothing(db, client, auth, admin,
                                                                                  make_beacon) -> None:
    beacon = make_beacon(protocol=BeaconProtocol.GT06, allowed_networks=["192.0.2.0/24"])
    keyed = make_beacon(protocol=BeaconProtocol.OSMAND)
    page = client.get("/devices").get_data(as_text=True)
    assert f'id="save-networks-{beacon.device_id}"' in page and f'id="save-networks-{keyed.device_id}"' not in page
    response = auth.post_form(f"/devices/beacons/{beacon.id}/networks",
                              {"allowed_networks": "203.0.113.0/24, 2001:db8::/32"}, form_page="/devices")
    assert response.status_code == 302
    db.expire_all()
    assert beacon.allowed_networks == ["203.0.113.0/24", "2001:db8::/32"]
    response = auth.post_form(f"/devices/beacons/{beacon.id}/networks",
                              {"allowed_networks": "10.0.0.0/8 office"}, form_page="/devices")
    assert response.status_code == 400
    assert field_error(response.get_data(as_text=True), f"beacon-networks-{beacon.id}")
    assert auth.post_form(f"/devices/beacons/{beacon.id}/networks", {"allowed_networks": "10.0.0.0/8\x00"},
                          form_page="/devices").status_code == 400   # refused at the door, before the form
    db.expire_all()
    assert beacon.allowed_networks == ["203.0.113.0/24", "2001:db8::/32"]
    assert auth.post_form(f"/devices/beacons/{beacon.id}/networks", {"allowed_networks": " "},
                          form_page="/devices").status_code == 302
    db.expire_all()
    assert beacon.allowed_networks == []


def test_a_new_beacon_token_is_shown_with_the_traccar_client_url(db, auth, admin) -> None:
    response = auth.post_form("/devices/beacons", {"device_id": "356938035643809", "protocol": "osmand",
                                                   "reporting_period_s": "60"}, form_page="/devices")
    page = response.get_data(as_text=True)
    secret = re.search(r'id="token-value">([^<]+)<', page).group(1)
    assert f'id="token-url">http://GATEWAY-HOST:5055/?key={secret}<' in page


# ---------------------------------------------------------------- account audit trail
def test_every_change_to_an_account_is_in_its_history(db, client, auth, admin, make_dealer, make_checkpoint) -> None:
    dealer, post = make_dealer(), make_checkpoint()
    auth.post_form("/users", {"login": "aigul.t", "name": "Aigul Toktosunova", "role": "trader",
                              "dealer_id": dealer.id, "password": ""})
    user = db.scalars(select(User).where(User.login == "aigul.t")).one()
    history = f"/users/{user.id}/history"
    assert auth.post_form(f"/users/{user.id}/role", {"role": "customs_officer", "checkpoint_ids": [post.id]},
                          form_page=history).status_code == 302
    auth.post_form(f"/users/{user.id}/active", {"active": "no"}, form_page="/users")
    auth.post_form(f"/users/{user.id}/active", {"active": "yes"}, form_page="/users")
    auth.post_form(f"/users/{user.id}/password", {}, form_page="/users")
    client.post("/api/v1/session", json={"login": "aigul.t", "password": "not her password"})
    page = client.get(history).get_data(as_text=True)
    kinds = re.findall(r'<tr class="event-([a-z_]+)">', page)
    assert kinds == ["sign_in_failed", "password_reset", "reactivated", "deactivated", "role_changed", "created"]
    assert "Trader → Customs officer" in page and page.count(f">{admin.login}<") == 5
    assert page.count('id="change-role"') == 1 and "<section" not in page.split("<body", 1)[0]  # one form, none in <head>
    db.expire_all()
    assert user.role == Role.CUSTOMS_OFFICER and user.dealer_id is None and [c.id for c in user.checkpoints] == [post.id]


def test_the_admin_sees_failed_sign_ins_also_for_logins_that_do_not_exist(client, auth, admin, make_user) -> None:
    trader = make_user(Role.TRADER)
    for _ in range(2):
        client.post("/api/v1/session", json={"login": trader.login, "password": "wrong guess here"},
                    environ_overrides={"REMOTE_ADDR": "203.0.113.5"})
    client.post("/api/v1/session", json={"login": "root", "password": "toor toor toor"},
                environ_overrides={"REMOTE_ADDR": "203.0.113.6"})
    auth.sign_in_as(admin)
    page = client.get("/users").get_data(as_text=True)
    row = re.search(rf'<tr id="user-{trader.id}".*?</tr>', page, re.S).group(0)
    assert re.search(r'class="failed-sign-ins">2<', row)
    latest = re.search(r'<section class="card" id="failed-sign-ins">.*?</section>', page, re.S).group(0)
    assert "203.0.113.6" in latest and ">root <" in latest and latest.count("203.0.113.5") == 2


def test_a_role_change_that_does_not_fit_is_refused_and_nothing_changes(db, client, auth, admin, make_user) -> None:
    auditor = make_user(Role.AUDITOR)
    response = auth.post_form(f"/users/{auditor.id}/role", {"role": "trader"}, form_page=f"/users/{auditor.id}/history")
    assert response.status_code == 400 and field_error(response.get_data(as_text=True), "role-dealer")
    own = auth.post_form(f"/users/{admin.id}/role", {"role": "auditor"}, form_page=f"/users/{auditor.id}/history")
    assert own.status_code == 409 and "cannot change your own role" in own.get_data(as_text=True)
    db.expire_all()
    assert auditor.role == Role.AUDITOR and admin.role == Role.LICENSING_ADMIN


def test_an_auditor_reads_an_account_history_without_a_form(client, auth, make_user) -> None:
    trader = make_user(Role.TRADER)
    auth.sign_in_as(make_user(Role.AUDITOR))
    page = client.get(f"/users/{trader.id}/history")
    assert page.status_code == 200 and 'id="change-role"' not in page.get_data(as_text=True)
    assert client.get("/users/999999/history").status_code == 404
