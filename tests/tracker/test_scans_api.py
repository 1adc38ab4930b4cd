"""POST /api/v1/scans: an officer's phone photo in, the containers and their declarations out."""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.conftest import PASSWORD
from scanner_app.labels import Label, render_image
from tracker.domain.gs1 import make_sscc


def sign_in(client: FlaskClient, user) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/session", json={"login": user.login, "password": PASSWORD}).status_code == 200


def label_photo(sscc: str, net_g: int = 34_500, exif: bool = False) -> bytes:
    """A JPEG of a printed label, as a phone would send it (optionally with EXIF metadata)."""
    image = render_image(Label(sscc=sscc, net_g=net_g)).resize((886, 590)).convert("RGB")
    out = io.BytesIO()
    if exif:
        metadata = Image.Exif()
        metadata[0x010F] = "PhoneMaker"          # Make
        metadata[0x0131] = "secret-app 1.0"      # Software
        image.save(out, "JPEG", quality=85, exif=metadata.tobytes())
    else:
        image.save(out, "JPEG", quality=85)
    return out.getvalue()


def post_photo(client: FlaskClient, data: bytes, name: str = "../../etc/evil.jpg",
               content_type: str = "image/jpeg", **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/scans", data={"photo": (io.BytesIO(data), name, content_type)},
                       content_type="multipart/form-data", headers=headers)


def photos(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "photos"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def officer(make_user):  # type: ignore[no-untyped-def]
    return make_user("customs_officer")


def test_officer_photo_names_container_declaration_and_expectation(
        app: Flask, client: FlaskClient, officer, make_declaration) -> None:
    declaration = make_declaration(status="in_transit", origin=officer.checkpoints[0])
    sscc = declaration.items[0].container.sscc
    sign_in(client, officer)
    response = post_photo(client, label_photo(sscc))
    assert response.status_code == 200, response.json
    (found,) = response.json["containers"]
    assert found["sscc"] == sscc and set(found["formats"]) == {"Code128", "QRCode"}
    assert found["declaration"]["reference"] == declaration.reference
    assert found["declaration"]["status"] == "in_transit"
    assert found["expected_here"] is True and found["declared_net_g"] == 34_500
    assert found["container"]["net_g"] == 34_500


def test_container_not_expected_at_the_officers_checkpoint_says_so(
        client: FlaskClient, officer, make_declaration) -> None:
    declaration = make_declaration(status="approved")
    sign_in(client, officer)
    (found,) = post_photo(client, label_photo(declaration.items[0].container.sscc)).json["containers"]
    assert found["declaration"]["id"] == declaration.id and found["expected_here"] is False


def test_unregistered_container_is_reported_without_declaration(client: FlaskClient, officer) -> None:
    sscc = make_sscc(0, "4700009", 42)
    sign_in(client, officer)
    response = post_photo(client, label_photo(sscc))
    assert response.status_code == 200
    assert response.json["containers"] == [{"sscc": sscc, "formats": response.json["containers"][0]["formats"],
                                            "container": None, "declaration": None, "expected_here": None,
                                            "declared_net_g": None, "custody_check": None}]


def test_kept_photo_is_re_encoded_without_metadata_and_named_by_its_digest(
        app: Flask, client: FlaskClient, officer) -> None:
    upload = label_photo(make_sscc(0, "4700009", 43), exif=True)
    assert b"secret-app" in upload
    sign_in(client, officer)
    digest = post_photo(client, upload).json["photo_digest"]
    (kept,) = photos(app)
    assert kept.name == f"{digest}.jpg" and hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    assert kept.read_bytes() != upload and b"secret-app" not in kept.read_bytes()
    assert not Image.open(kept).getexif()


def _blank_png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((300, 400), 255, np.uint8)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("photo,message", [
    (_blank_png(), "no barcode found"),
    (b"%PDF-1.4 not a photo at all", "not an image"),
    (label_photo(make_sscc(0, "4700009", 44))[:3000], "corrupt or truncated"),
    (b"", "empty"),
])
def test_unusable_photo_is_422_with_a_precise_message_and_nothing_kept(
        app: Flask, client: FlaskClient, officer, photo: bytes, message: str) -> None:
    sign_in(client, officer)
    response = post_photo(client, photo)
    assert response.status_code == 422 and response.json["error"] == "validation_failed"
    assert message in response.json["fields"]["photo"]
    assert photos(app) == []


def test_label_with_a_wrong_check_digit_is_rejected(app: Flask, client: FlaskClient, officer) -> None:
    good = make_sscc(0, "4700009", 45)
    forged = good[:-1] + str((int(good[-1]) + 3) % 10)
    sign_in(client, officer)
    response = post_photo(client, label_photo(forged))
    assert response.status_code == 422
    assert "rejected" in response.json["fields"]["photo"] and "check digit" in response.json["fields"]["photo"]
    assert photos(app) == []


def test_photo_over_the_size_limit_is_413(app: Flask, client: FlaskClient, officer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tracker.web.api.scans.MAX_PHOTO_BYTES", 10_000)
    sign_in(client, officer)
    response = post_photo(client, label_photo(make_sscc(0, "4700009", 46)))
    assert response.status_code == 413 and "10000 bytes" in response.json["message"]
    assert photos(app) == []


@pytest.mark.parametrize("role", ["trader", "auditor", "licensing_admin"])
def test_only_officers_may_scan(app: Flask, client: FlaskClient, make_user, role: str) -> None:
    sign_in(client, make_user(role))
    response = post_photo(client, label_photo(make_sscc(0, "4700009", 47)))
    assert response.status_code == 403 and photos(app) == []


def test_scan_needs_a_session(client: FlaskClient) -> None:
    assert post_photo(client, label_photo(make_sscc(0, "4700009", 48))).status_code == 401


def test_missing_photo_field_is_reported(client: FlaskClient, officer) -> None:
    sign_in(client, officer)
    response = client.post("/api/v1/scans", data={"picture": (io.BytesIO(b"x"), "a.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "'photo'" in response.json["fields"]["photo"]


def test_upload_from_another_site_is_refused(app: Flask, client: FlaskClient, officer) -> None:
    sign_in(client, officer)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = post_photo(client, label_photo(make_sscc(0, "4700009", 49)), **headers)
        assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert photos(app) == []
    assert post_photo(client, label_photo(make_sscc(0, "4700009", 49)),
                      Origin="http://localhost").status_code == 200


def test_other_api_writes_still_refuse_multipart(client: FlaskClient, make_user) -> None:
    sign_in(client, make_user("trader"))
    response = client.post("/api/v1/containers", data={"sscc": "1"}, content_type="multipart/form-data")
    assert response.status_code == 415


def test_photo_of_two_labels_names_both_containers(client: FlaskClient, officer, make_declaration) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    declaration = make_declaration(status="approved", origin=officer.checkpoints[0], planned_departure=start,
                                   planned_arrival=start + timedelta(days=1))
    first, second = declaration.items[0].container.sscc, make_sscc(0, "4700009", 50)
    sheet = np.vstack([np.array(render_image(Label(sscc=s, net_g=34_500)).resize((886, 590))) for s in (first, second)])
    out = io.BytesIO()
    Image.fromarray(sheet).save(out, "PNG")
    sign_in(client, officer)
    found = {c["sscc"]: c for c in post_photo(client, out.getvalue(), content_type="image/png").json["containers"]}
    assert set(found) == {first, second}
    assert found[first]["expected_here"] is True and found[second]["container"] is None
    assert found[first]["custody_check"] == {"kind": "departure", "checkpoint": officer.checkpoints[0].code,
                                             "verdict": "allowed", "reasons": [], "alerts": []}


def test_photo_of_a_departure_outside_the_window_is_not_expected_and_says_why(
        client: FlaskClient, officer, make_declaration) -> None:
    declaration = make_declaration(status="approved", origin=officer.checkpoints[0])  # departs in two days
    sscc = declaration.items[0].container.sscc
    sign_in(client, officer)
    (found,) = post_photo(client, label_photo(sscc)).json["containers"]
    assert found["expected_here"] is False
    check = found["custody_check"]
    assert check["kind"] == "departure" and check["verdict"] == "refused"
    assert "outside the planned window" in check["reasons"][0]
