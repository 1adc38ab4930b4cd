"""The customs officer's pages: the checkpoint's day, scanning a label photo or a typed SSCC, confirming custody."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scanner_app.labels import Label, render_image
from tracker.domain.gs1 import make_sscc
from tracker.models import Alert, CustodyEvent, DeclarationStatus, ExpectedCheckpoint

pytestmark = pytest.mark.usefixtures("fast_passwords")


# ---------------------------------------------------------------- helpers
class FormReader(HTMLParser):
    """Read the values a browser would send from one form of a page (by the form's id)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, {}
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "name" not in a:
            return
        if tag == "input" and (a.get("type") not in ("checkbox", "radio") or "checked" in a):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if tag == "form":
            self.inside = False


def leaving_now() -> dict[str, datetime]:
    """A planned window that opened an hour ago: a departure now needs no override."""
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    return {"planned_departure": start, "planned_arrival": start + timedelta(days=1)}


def form_values(page: str, form_id: str) -> dict[str, str]:
    reader = FormReader(form_id)
    reader.feed(page)
    assert reader.values, f"no form {form_id!r} on the page"
    return reader.values


def label_photo(sscc: str, net_g: int = 34_500) -> bytes:
    """A JPEG of a printed label, the size a phone would send after the browser scaled it."""
    image = render_image(Label(sscc=sscc, net_g=net_g)).resize((886, 590)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def post_photo(client: FlaskClient, token: str, data: bytes) -> Any:
    """Send a photo through the scan page's form as a browser without JavaScript does."""
    return client.post("/checkpoint/scan", data={"csrf_token": token, "photo": (io.BytesIO(data), "IMG_0042.jpg")},
                       content_type="multipart/form-data")


def field_error(page: str, field: str) -> str:
    """The message shown beside a field (the field's wrapper has has-error and the message)."""
    match = re.search(rf'<div class="field has-error">\s*<label for="{field}".*?<p class="field-error"[^>]*>(.*?)</p>',
                      page, re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


def photos(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "photos"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def officer(make_user):  # type: ignore[no-untyped-def]
    return make_user("customs_officer")


@pytest.fixture
def signed_in(auth, officer):  # type: ignore[no-untyped-def]
    auth.sign_in_as(officer)
    return officer


def confirm(auth, client: FlaskClient, sscc: str, changes: dict[str, str] | None = None,
            photo: str = "") -> Any:
    """Open the container's page, say the seal is intact and tap Confirm (with ``changes`` made to the form first)."""
    path = f"/checkpoint/containers/{sscc}" + (f"?photo={photo}" if photo else "")
    page = client.get(path).get_data(as_text=True)
    values = {**form_values(page, "custody-form"), "seal_intact": "yes", **(changes or {})}
    return client.post("/checkpoint/custody", data=values)


# ---------------------------------------------------------------- who may
@pytest.mark.parametrize("role", ["trader", "auditor", "licensing_admin"])
@pytest.mark.parametrize("path", ["/checkpoint", "/checkpoint/scan",
                                  f"/checkpoint/containers/{make_sscc(0, '4700001', 7)}"])
def test_only_officers_open_the_checkpoint_pages(client: FlaskClient, auth, make_user, role: str, path: str) -> None:
    auth.sign_in_as(make_user(role))
    assert client.get(path).status_code == 403


def test_a_trader_cannot_record_custody(client: FlaskClient, auth, make_user, make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved")
    auth.sign_in_as(make_user("trader", dealer=declaration.declarant))
    response = auth.post_form("/checkpoint/custody", {"sscc": declaration.items[0].container.sscc, "kind": "departure",
                                                      "seal_intact": "yes"}, form_page="/")
    assert response.status_code == 403
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


# ---------------------------------------------------------------- the checkpoint's day
def test_checkpoint_lists_what_departs_arrives_or_passes_here(client: FlaskClient, signed_in, make_declaration,
                                                              make_checkpoint, db: Session) -> None:
    post = signed_in.checkpoints[0]
    departing = make_declaration(status="approved", origin=post)
    arriving = make_declaration(status="in_transit", destination=post)
    passing = make_declaration(status="in_transit")
    passing.expected_checkpoints = [ExpectedCheckpoint(checkpoint=post, seq=1)]
    elsewhere = make_declaration(status="approved")
    not_yet = make_declaration(status="submitted", origin=post)
    db.flush()
    page = client.get("/checkpoint").get_data(as_text=True)
    leaving, coming = page.split('id="arriving"')[0].split('id="departing"')[1], page.split('id="arriving"')[1]
    assert departing.reference in leaving and departing.items[0].container.sscc in leaving
    assert departing.consignor.legal_name in leaving and "34.500 kg" in leaving
    assert f'/declarations/{departing.id}"' in leaving
    assert arriving.reference in coming and passing.reference in coming and departing.reference not in coming
    assert elsewhere.reference not in page and f"/declarations/{not_yet.id}\"" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_the_arriving_list_folds_each_declaration_under_a_one_line_summary(
        client: FlaskClient, signed_in, make_declaration, db: Session) -> None:
    post = signed_in.checkpoints[0]
    sooner = make_declaration(status="in_transit", destination=post)
    later = make_declaration(status="in_transit", destination=post)
    later.planned_arrival = sooner.planned_arrival + timedelta(hours=3)
    db.flush()
    coming = client.get("/checkpoint").get_data(as_text=True).split('id="arriving"')[1].split('id="today"')[0]
    folds = re.findall(r'<details class="declaration-movement" data-fold="[^"]+"( open)?>\s*<summary>(.*?)</summary>(.*?)</details>',
                       coming, re.S)
    assert [(opened, f'/declarations/{d.id}"' in summary) for (opened, summary, _), d in zip(folds, (sooner, later))] \
        == [(" open", True), ("", True)], "soonest first and open, the others folded"
    for (_, summary, inside), declaration in zip(folds, (sooner, later)):
        assert declaration.reference in summary and "Planned arrival" in summary
        assert f"{declaration.origin.code} → {declaration.destination.code}" in summary
        assert declaration.items[0].container.sscc in inside and declaration.consignor.legal_name in inside
        assert "34.500 kg" in inside and declaration.items[0].container.sscc not in summary


def test_checkpoint_without_shipments_says_what_will_appear(client: FlaskClient, signed_in) -> None:
    page = client.get("/checkpoint").get_data(as_text=True)
    assert "No approved declaration starts at your post" in page and "Nothing recorded here today" in page


def test_checkpoint_page_speaks_russian(client: FlaskClient, auth, signed_in, make_declaration) -> None:
    make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    auth.post_form("/preferences/language", {"language": "ru", "next": "/checkpoint"}, form_page="/checkpoint")
    page = client.get("/checkpoint").get_data(as_text=True)
    assert '<html lang="ru">' in page
    for words in ("Отправление с поста", "Прибытие или проследование", "34,500", "Сканировать контейнер"):
        assert words in page
    scan = client.get("/checkpoint/scan").get_data(as_text=True)
    assert "Фотография этикетки" in scan and "Найти контейнер" in scan


# ---------------------------------------------------------------- scanning a photo (no JavaScript)
def test_scan_page_offers_the_camera_and_a_typed_sscc(client: FlaskClient, signed_in) -> None:
    page = client.get("/checkpoint/scan").get_data(as_text=True)
    assert re.search(r'<label for="photo">Photo of the label</label>', page)
    assert re.search(r'<input type="file" id="photo" name="photo" accept="image/\*" capture="environment"', page)
    assert 'id="sscc"' in page and 'enctype="multipart/form-data"' in page
    assert 'data-api="/api/v1/scans"' in page and "scan.js" in page


def test_label_photo_opens_the_container_expected_here(app: Flask, client: FlaskClient, auth, signed_in,
                                                       make_declaration) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    response = post_photo(client, auth.csrf_token("/checkpoint/scan"), label_photo(sscc))
    assert response.status_code == 302
    (kept,) = photos(app)
    assert response.headers["Location"] == f"/checkpoint/containers/{sscc}?photo={kept.stem}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="expected">Expected here: yes' in page
    assert f'href="/declarations/{declaration.id}" id="declaration-link">{declaration.reference}' in page
    assert '<dd id="declared-mass">34.500 kg</dd>' in page
    values = form_values(page, "custody-form")
    assert values["photo_digest"] == kept.stem and values["kind"] == "departure" and "seal_intact" not in values
    assert re.fullmatch(r"[0-9a-f]{32}", values["client_event_id"])
    assert re.search(r'<button type="submit" class="big" id="confirm">Confirm departure</button>', page)
    form = page.split('id="custody-form"')[1].split("</form>")[0]
    assert form.count("<button") == 1


def test_container_of_a_shipment_not_passing_here_is_not_expected(client: FlaskClient, auth, signed_in,
                                                                  make_declaration) -> None:
    declaration = make_declaration(status="in_transit")
    sscc = declaration.items[0].container.sscc
    page = client.get(post_photo(client, auth.csrf_token("/checkpoint/scan"), label_photo(sscc))
                      .headers["Location"]).get_data(as_text=True)
    assert 'id="expected">Expected here, with alerts' in page
    assert f"is not on the route of {declaration.reference}" in page
    assert form_values(page, "custody-form")["kind"] == "inspection" and "Confirm inspection" in page


def test_arrival_is_proposed_at_the_destination(client: FlaskClient, signed_in, make_declaration) -> None:
    declaration = make_declaration(status="in_transit", destination=signed_in.checkpoints[0])
    page = client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}").get_data(as_text=True)
    assert form_values(page, "custody-form")["kind"] == "arrival" and "Confirm arrival" in page


@pytest.mark.parametrize("photo,reason", [
    (b"", "Take or choose a photo"),
    (label_photo(make_sscc(0, "4700009", 44))[:3000], "not a readable image"),
    (b"%PDF-1.4 not a photo", "not a readable image"),
])
def test_unusable_photo_is_refused_beside_the_photo_field(app: Flask, client: FlaskClient, auth, signed_in,
                                                          photo: bytes, reason: str) -> None:
    response = post_photo(client, auth.csrf_token("/checkpoint/scan"), photo)
    assert response.status_code == 400
    message = re.search(r'<p class="field-error" id="photo-error" role="alert">(.*?)</p>',
                        response.get_data(as_text=True), re.S).group(1)
    assert reason in message
    assert photos(app) == []


def test_photo_without_a_barcode_says_so(client: FlaskClient, auth, signed_in) -> None:
    blank = io.BytesIO()
    Image.fromarray(np.full((300, 400), 255, np.uint8)).save(blank, "PNG")
    response = post_photo(client, auth.csrf_token("/checkpoint/scan"), blank.getvalue())
    assert response.status_code == 400 and "no barcode found on the photo" in response.get_data(as_text=True)


def test_photo_of_two_labels_opens_one_form_for_both(client: FlaskClient, auth, signed_in) -> None:
    first, second = make_sscc(0, "4700009", 51), make_sscc(0, "4700009", 52)
    sheet = np.vstack([np.array(render_image(Label(sscc=s, net_g=34_500)).resize((886, 590))) for s in (first, second)])
    out = io.BytesIO()
    Image.fromarray(sheet).save(out, "PNG")
    response = post_photo(client, auth.csrf_token("/checkpoint/scan"), out.getvalue())
    assert response.status_code == 302 and response.headers["Location"].startswith("/checkpoint/photos/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    form = page.split('id="custody-form"')[1].split("</form>")[0]
    assert f'name="sscc" value="{first}"' in form and f'name="sscc" value="{second}"' in form
    assert "One confirmation records the event for each of the 2 containers above." in page


# ---------------------------------------------------------------- typing the SSCC
@pytest.mark.parametrize("typed", ["{s}", "(00){s}", "(00) {a} {b} {c}", " 00{s} "])
def test_typed_sscc_with_prefix_and_spaces_opens_the_container(client: FlaskClient, auth, signed_in,
                                                               typed: str) -> None:
    sscc = make_sscc(3, "4700001", 20457)
    text = typed.format(s=sscc, a=sscc[:1], b=sscc[1:8], c=sscc[8:])
    response = auth.post_form("/checkpoint/scan", {"sscc": text})
    assert response.status_code == 302 and response.headers["Location"] == f"/checkpoint/containers/{sscc}"


def test_typed_sscc_with_a_wrong_check_digit_is_refused_beside_the_field(client: FlaskClient, auth, signed_in) -> None:
    good = make_sscc(3, "4700001", 20457)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    response = auth.post_form("/checkpoint/scan", {"sscc": wrong})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"the last one must be {good[-1]}" in field_error(page, "sscc")
    assert f'value="{wrong}"' in page


def test_typed_sscc_of_the_wrong_length_is_refused(client: FlaskClient, auth, signed_in) -> None:
    response = auth.post_form("/checkpoint/scan", {"sscc": "12345"})
    assert response.status_code == 400 and "18 digits" in field_error(response.get_data(as_text=True), "sscc")


def test_typed_sscc_of_an_unregistered_container_can_still_be_recorded(client: FlaskClient, auth, signed_in,
                                                                       db: Session) -> None:
    sscc = make_sscc(0, "4700009", 77)
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    assert "No registered container has this SSCC" in page
    response = confirm(auth, client, sscc)
    assert response.status_code == 302
    assert db.scalar(select(CustodyEvent.unregistered_sscc)) == sscc
    assert db.scalar(select(Alert.kind)) == "custody_unregistered_container"


# ---------------------------------------------------------------- confirming custody
def test_departure_then_arrival_move_the_declaration(app: Flask, client: FlaskClient, auth, signed_in, make_user,
                                                     make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    location = post_photo(client, auth.csrf_token("/checkpoint/scan"), label_photo(sscc)).headers["Location"]
    digest = location.rsplit("=", 1)[1]
    departed = confirm(auth, client, sscc, {"measured_kg": "34.500"}, photo=digest)
    assert departed.status_code == 302 and departed.headers["Location"] == "/checkpoint"
    page = client.get("/checkpoint").get_data(as_text=True)
    assert f"Departure of {sscc} recorded at {signed_in.checkpoints[0].name}." in page
    assert f"Declaration {declaration.reference}: in transit." in page and 'id="today"' in page and "departure" in page.split('id="today"')[1]
    db.expire_all()
    assert declaration.status == DeclarationStatus.IN_TRANSIT
    event = db.scalars(select(CustodyEvent)).one()
    assert (event.kind, event.measured_net_g, event.seal_intact, event.photo_digest, event.officer_id) == (
        "departure", 34_500, True, digest, signed_in.id)

    auth.logout()
    auth.sign_in_as(make_user("customs_officer", checkpoints=[declaration.destination]))
    arrived = confirm(auth, client, sscc, {"measured_kg": "34.5"})
    assert arrived.status_code == 302
    assert "Arrival of" in client.get("/checkpoint").get_data(as_text=True)
    db.expire_all()
    assert declaration.status == DeclarationStatus.ARRIVED


def test_a_double_tap_records_once(client: FlaskClient, auth, signed_in, make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    page = client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}").get_data(as_text=True)
    values = {**form_values(page, "custody-form"), "seal_intact": "yes"}
    first = client.post("/checkpoint/custody", data=values)
    second = client.post("/checkpoint/custody", data=values)
    assert first.status_code == second.status_code == 302
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 1
    assert "already been recorded" in client.get("/checkpoint").get_data(as_text=True)


def test_confirming_without_looking_at_the_seal_is_refused_beside_it(client: FlaskClient, signed_in,
                                                                      make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    page = client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}").get_data(as_text=True)
    assert 'name="seal_intact" value="yes" required\n        >' in page  # neither answer is pre-ticked
    response = client.post("/checkpoint/custody", data=form_values(page, "custody-form"))
    assert response.status_code == 400
    assert "Say whether the seal is intact or broken." in response.get_data(as_text=True).split('id="seal-error"')[1]
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_broken_seal_and_short_mass_open_alerts_shown_in_the_message(client: FlaskClient, auth, signed_in,
                                                                     make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    values = form_values(page, "custody-form")
    response = client.post("/checkpoint/custody", data={**values, "seal_intact": "no", "measured_kg": "30.000",
                                                        "remarks": "drum dented"})
    assert response.status_code == 302
    shown = client.get("/checkpoint").get_data(as_text=True)
    assert "Alerts opened:" in shown and "seal broken at checkpoint" in shown and "mass differs at checkpoint" in shown
    event = db.scalars(select(CustodyEvent)).one()
    assert event.seal_intact is False and event.remarks == "drum dented"


def test_the_officers_remarks_are_shown_on_the_alerts_the_event_opened(client: FlaskClient, auth, signed_in,
                                                                       make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    values = form_values(client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}")
                         .get_data(as_text=True), "custody-form")
    client.post("/checkpoint/custody", data={**values, "seal_intact": "no", "measured_kg": "30.000",
                                             "remarks": "drum dented"})
    alerts = db.scalars(select(Alert).where(Alert.declaration_id == declaration.id)).all()
    assert sorted(a.kind for a in alerts) == ["custody_mass_discrepancy", "custody_seal_broken"]
    assert [a.details["remarks"] for a in alerts] == ["drum dented"] * 2
    shown = client.get(f"/alerts/{alerts[0].id}").get_data(as_text=True)
    assert "<dt>Remarks</dt><dd>drum dented</dd>" in shown and "Remarks on receipt" not in shown
    auth.post_form("/preferences/language", {"language": "ru", "next": "/"}, form_page="/")
    assert "<dt>Примечания</dt><dd>drum dented</dd>" in client.get(f"/alerts/{alerts[0].id}").get_data(as_text=True)


@pytest.mark.parametrize("typed,message", [("34.5001", "three decimals"), ("heavy", "kilograms"),
                                           ("-1", "cannot be negative"), ("0", "more than zero"),
                                           ("34,500", "Type 34500 or 34.5"), ("34.501", "capacity")])
def test_a_bad_mass_is_refused_beside_its_field_and_nothing_is_recorded(client: FlaskClient, auth, signed_in,
                                                                        make_declaration, db: Session,
                                                                        typed: str, message: str) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    values = form_values(page, "custody-form")
    response = confirm(auth, client, sscc, {**values, "measured_kg": typed, "remarks": "kept"})
    again = response.get_data(as_text=True)
    assert response.status_code == 400 and message in field_error(again, "measured_kg")
    assert "kept</textarea>" in again and f'value="{typed}"' in again
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_confirm_form_names_the_kind_chosen(client: FlaskClient, auth, signed_in, make_declaration,
                                            db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    response = confirm(auth, client, declaration.items[0].container.sscc, {"kind": "inspection"})
    assert response.status_code == 302
    assert "Inspection of" in client.get("/checkpoint").get_data(as_text=True)
    assert db.scalars(select(CustodyEvent.kind)).one() == "inspection"


def test_label_with_a_wrong_check_digit_is_not_trusted(app: Flask, client: FlaskClient, auth, signed_in) -> None:
    good = make_sscc(0, "4700009", 53)
    forged = good[:-1] + str((int(good[-1]) + 3) % 10)
    response = post_photo(client, auth.csrf_token("/checkpoint/scan"), label_photo(forged))
    assert response.status_code == 400
    assert "the label must not be trusted" in response.get_data(as_text=True)
    assert photos(app) == []


def test_a_refused_photo_is_explained_in_russian(client: FlaskClient, auth, signed_in) -> None:
    auth.post_form("/preferences/language", {"language": "ru", "next": "/checkpoint/scan"},
                   form_page="/checkpoint/scan")
    blank = io.BytesIO()
    Image.fromarray(np.full((300, 400), 255, np.uint8)).save(blank, "PNG")
    page = post_photo(client, auth.csrf_token("/checkpoint/scan"), blank.getvalue()).get_data(as_text=True)
    message = re.search(r'id="photo-error" role="alert">(.*?)</p>', page, re.S).group(1)
    assert message.startswith("Фотографию не удалось использовать:") and "barcode" not in message
    corrupt = post_photo(client, auth.csrf_token("/checkpoint/scan"), b"GIF89a broken").get_data(as_text=True)
    assert "не является читаемым изображением" in corrupt


# ---------------------------------------------------------------- the custody check on the scan page
def suspend_consignor(db: Session, declaration: Any, make_user: Any) -> Any:
    from tracker.domain.licensing import suspend_licence
    from tracker.models import License

    licence = db.scalars(select(License).where(License.dealer_id == declaration.consignor_id)).one()
    return suspend_licence(db, make_user("licensing_admin", login="licensing.osh"), licence.id, "unpaid fees")


def test_a_suspended_dealer_is_not_expected_here_and_departure_is_not_preselected(
        client: FlaskClient, auth, signed_in, make_declaration, make_user, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    licence = suspend_consignor(db, declaration, make_user)
    sscc = declaration.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    assert 'id="expected">Expected here: no' in page and "Departure at" in page and "is refused:" in page
    reasons = page.split('id="reasons"')[1].split("</ul>")[0]
    assert licence.number in reasons and "by licensing.osh: unpaid fees" in reasons
    values = {**form_values(page, "custody-form"), "seal_intact": "yes"}
    assert "kind" not in values and 'id="confirm">Record custody</button>' in page
    refused = client.post("/checkpoint/custody", data={**values, "kind": "departure"})
    assert refused.status_code == 409
    shown = refused.get_data(as_text=True).split('id="form-error"')[1].split("</div>")[0]
    assert "Not recorded:" in shown and licence.number in shown
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_the_refusal_is_shown_in_russian(client: FlaskClient, auth, signed_in, make_declaration, make_user,
                                         db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    licence = suspend_consignor(db, declaration, make_user)
    auth.post_form("/preferences/language", {"language": "ru", "next": "/checkpoint"}, form_page="/checkpoint")
    page = client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}").get_data(as_text=True)
    assert 'id="expected">Ожидается на посту: нет' in page
    reasons = page.split('id="reasons"')[1].split("</ul>")[0]
    assert f"лицензия {licence.number}" in reasons and "причина: unpaid fees" in reasons
    assert "since" not in reasons and "licence" not in reasons


def test_a_departure_outside_the_window_is_recorded_with_the_officers_override(
        client: FlaskClient, auth, signed_in, make_declaration, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0])  # planned in two days
    sscc = declaration.items[0].container.sscc
    page = client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True)
    assert "outside the planned window" in page.split('id="reasons"')[1]
    values = {**form_values(page, "custody-form"), "kind": "departure", "seal_intact": "yes"}
    assert client.post("/checkpoint/custody", data=values).status_code == 409
    no_reason = client.post("/checkpoint/custody", data={**values, "override_window": "yes"})
    assert no_reason.status_code == 400 and "say why" in field_error(no_reason.get_data(as_text=True),
                                                                      "override_reason")
    taken = client.post("/checkpoint/custody", data={**values, "override_window": "yes",
                                                     "override_reason": "the convoy leaves early"})
    assert taken.status_code == 302
    assert "departure outside the planned window" in client.get("/checkpoint").get_data(as_text=True)
    db.expire_all()
    assert declaration.status == DeclarationStatus.IN_TRANSIT


def two_label_photo(first: str, second: str) -> bytes:
    sheet = np.vstack([np.array(render_image(Label(sscc=s, net_g=34_500)).resize((886, 590))) for s in (first, second)])
    out = io.BytesIO()
    Image.fromarray(sheet).save(out, "PNG")
    return out.getvalue()


def test_one_confirmation_records_every_flask_on_the_photo_and_the_declaration_departs(
        client: FlaskClient, auth, signed_in, make_declaration, make_container, db: Session) -> None:
    from tracker.models import DeclarationItem

    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    declaration.items.append(DeclarationItem(container=make_container(owner=declaration.declarant),
                                             declared_net_g=34_500))
    db.flush()
    first, second = (item.container.sscc for item in declaration.items)
    checkpoint_page = client.get("/checkpoint").get_data(as_text=True)
    assert "0 of 2 containers scanned" in checkpoint_page.split('id="departing"')[1]
    location = post_photo(client, auth.csrf_token("/checkpoint/scan"), two_label_photo(first, second)).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert page.count("Expected here: yes") == 2 and "0 of 2 containers scanned" in page
    values = {**form_values(page, "custody-form"), "sscc": [first, second], "seal_intact": "yes"}
    assert values["kind"] == "departure"
    assert client.post("/checkpoint/custody", data=values).status_code == 302
    shown = client.get("/checkpoint").get_data(as_text=True)
    assert f"Departure of {first} recorded" in shown and f"Departure of {second} recorded" in shown
    db.expire_all()
    assert declaration.status == DeclarationStatus.IN_TRANSIT
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 2
    assert client.post("/checkpoint/custody", data=values).status_code == 302  # a second tap finds both
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 2


def test_a_partial_departure_is_confirmed_with_a_reason(
        client: FlaskClient, auth, signed_in, make_declaration, make_container, db: Session) -> None:
    from tracker.models import DeclarationItem

    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    left = make_container(owner=declaration.declarant)
    declaration.items.append(DeclarationItem(container=left, declared_net_g=34_500))
    db.flush()
    sscc = declaration.items[0].container.sscc
    if sscc == left.sscc:
        sscc = declaration.items[1].container.sscc
    response = confirm(auth, client, sscc, {"partial_departure": "yes", "partial_reason": "leak test failed"})
    assert response.status_code == 302
    assert "departed with containers missing" in client.get("/checkpoint").get_data(as_text=True)
    db.expire_all()
    assert declaration.status == DeclarationStatus.IN_TRANSIT
    alert = db.scalars(select(Alert).where(Alert.kind == "custody_partial_departure")).one()
    assert alert.details["missing"] == [left.sscc]


def test_an_officer_may_not_record_at_a_post_of_someone_else(
        client: FlaskClient, auth, signed_in, make_declaration, make_checkpoint, db: Session) -> None:
    declaration = make_declaration(status="in_transit")
    page = client.get(f"/checkpoint/containers/{declaration.items[0].container.sscc}").get_data(as_text=True)
    values = {**form_values(page, "custody-form"), "checkpoint": declaration.destination.code, "kind": "arrival",
              "seal_intact": "yes"}
    response = client.post("/checkpoint/custody", data=values)
    assert response.status_code == 403
    assert f"not posted at {declaration.destination.name}" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0


# ---------------------------------------------------------------- the phone's position
def test_the_phones_position_goes_with_the_event_and_is_compared_with_the_beacon(
        client: FlaskClient, auth, signed_in, make_declaration, make_beacon, db: Session) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], beacon=make_beacon(),
                                   **leaving_now())
    sscc = declaration.items[0].container.sscc
    values = form_values(client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True), "custody-form")
    assert values["lat"] == values["lon"] == ""  # filled by the page's script where the phone allows it
    response = client.post("/checkpoint/custody", data={**values, "seal_intact": "yes", "lat": "42.874621",
                                                        "lon": "74.569762"})
    assert response.status_code == 302
    event = db.scalars(select(CustodyEvent)).one()
    assert (event.lat, event.lon) == (42.874621, 74.569762)
    alert = db.scalars(select(Alert).where(Alert.kind == "no_beacon_position_at_custody")).one()
    assert alert.details["measured_from"] == "reported_position" and (alert.lat, alert.lon) == (event.lat, event.lon)


@pytest.mark.parametrize("lat, lon", [("NaN", "74.5"), ("inf", "74.5"), ("91", "74.5"), ("42.8", "x"),
                                      ("1e400", "74.5"), ("4" * 40, "74.5")])
def test_a_forged_phone_position_is_refused_and_nothing_is_recorded(client: FlaskClient, auth, signed_in,
                                                                   make_declaration, db: Session,
                                                                   lat: str, lon: str) -> None:
    declaration = make_declaration(status="approved", origin=signed_in.checkpoints[0], **leaving_now())
    sscc = declaration.items[0].container.sscc
    values = form_values(client.get(f"/checkpoint/containers/{sscc}").get_data(as_text=True), "custody-form")
    response = client.post("/checkpoint/custody", data={**values, "seal_intact": "yes", "lat": lat, "lon": lon})
    assert response.status_code == 400
    assert db.scalar(select(func.count()).select_from(CustodyEvent)) == 0
