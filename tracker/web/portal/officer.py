"""Customs officer pages: the checkpoint's day, scanning a container's label, confirming custody.

Built for a phone first: the officer photographs a label (or types its SSCC), sees the
container, its declaration and whether it is expected here, and confirms the custody
event with one tap. The photo is decoded by the same domain function as ``POST /api/v1/scans``
and the event recorded by the same one as ``POST /api/v1/custody-events``.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext as _l

from tracker.domain.access import Action
from tracker.domain.checkpoint_day import arriving, by_declaration, departing, recorded_since
from tracker.domain.custody import record_custody_event
from tracker.domain.custody_check import CustodyRefused, Verdict
from tracker.domain.errors import Conflict, Forbidden, ValidationFailed
from tracker.domain.loading import loading_of
from tracker.domain.gs1 import InvalidIdentifier, SSCC_LENGTH, gs1_check_digit, validate_sscc
from tracker.domain.lapses import lapse_alerts_ahead, lapse_due
from tracker.domain.scans import MAX_PHOTO_BYTES, ScannedContainer, describe, examine_photo
from tracker.domain.text import Text
from tracker.models import Checkpoint, CustodyEvent, CustodyKind
from tracker.web.api.custody import window_tolerance
from tracker.web.api.scans import photo_dir
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.domain_text import translate
from tracker.web.i18n import time_zone_name
from tracker.web.labels import label, place
from tracker.web.portal.blueprint import bp
from tracker.web.portal.mass_fields import read_kg_field
from tracker.web.portal.pages import page_number, paginate

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
#: Most containers one photo's form records at once.
MAX_LABELS = 50
#: What the confirm button says for each kind of event.
CONFIRM = {
    CustodyKind.DEPARTURE: _l("Confirm departure"),
    CustodyKind.ARRIVAL: _l("Confirm arrival"),
    CustodyKind.INSPECTION: _l("Confirm inspection"),
    CustodyKind.HANDOVER: _l("Confirm handover"),
}
RECORDED = {
    CustodyKind.DEPARTURE: _l("Departure of %(sscc)s recorded at %(post)s."),
    CustodyKind.ARRIVAL: _l("Arrival of %(sscc)s recorded at %(post)s."),
    CustodyKind.INSPECTION: _l("Inspection of %(sscc)s recorded at %(post)s."),
    CustodyKind.HANDOVER: _l("Handover of %(sscc)s recorded at %(post)s."),
}


# ---------------------------------------------------------------- the checkpoint's day
#: Custody events on one page of the checkpoint's day (declarations on one page: PAGE_SIZE).
EVENTS_PER_PAGE = 50


def _start_of_today() -> datetime:
    """Midnight of today in the user's time zone, in UTC."""
    local = datetime.now(ZoneInfo(time_zone_name()))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


@bp.get("/checkpoint")
@requires(Action.RECORD_CUSTODY)
def checkpoint():  # type: ignore[no-untyped-def]
    """Show the officer's posts: what departs, what arrives or passes, and today's custody events by declaration.

    Each list is paged on its own (``departing``, ``arriving``, ``events`` in the query string).
    """
    user, db = acting_user(), get_session()
    posts = [c.id for c in user.checkpoints]
    _expire_lazily(db)
    events = paginate(db, recorded_since(posts, _start_of_today()), page_number("events"), EVENTS_PER_PAGE)
    leaving = paginate(db, departing(posts), page_number("departing"))
    return render_template(
        "officer/checkpoint.html", posts=user.checkpoints,
        departing=leaving, loading=loading_of(db, [d.id for d in leaving.rows]),
        arriving=paginate(db, arriving(posts), page_number("arriving")),
        events=events, groups=by_declaration(events.rows), ahead=lapse_alerts_ahead(db, posts))


def _expire_lazily(db: Any) -> None:
    """Expire what ran out since the daily command last ran, so the page never shows a lapsed licence as valid."""
    expired, consents = lapse_due(db, datetime.now(timezone.utc).date())
    if expired or consents:
        db.commit()


# ---------------------------------------------------------------- scanning
def typed_sscc(raw: str) -> str:
    """Read an SSCC as an officer types it: spaces and a "(00)" prefix are allowed.

    Raises :class:`InvalidIdentifier` with a message in the user's language.
    """
    digits = re.sub(r"\s+", "", raw)
    if digits.startswith("(00)"):
        digits = digits[4:]
    elif len(digits) == SSCC_LENGTH + 2 and digits.startswith("00"):
        digits = digits[2:]
    if not digits:
        raise InvalidIdentifier(gettext("Type the 18 digits under the barcode."))
    if len(digits) != SSCC_LENGTH or not digits.isdigit() or not digits.isascii():
        raise InvalidIdentifier(gettext("An SSCC is 18 digits; this is %(count)s characters.", count=len(digits)))
    try:
        return validate_sscc(digits)
    except InvalidIdentifier:
        raise InvalidIdentifier(gettext(
            "Wrong check digit: with these first 17 digits the last one must be %(digit)s. "
            "Check the number on the label.", digit=gs1_check_digit(digits[:-1]))) from None


def _scan_form(errors: dict[str, str], status: int = 200, sscc: str = ""):  # type: ignore[no-untyped-def]
    return render_template("officer/scan.html", errors=errors, sscc=sscc,
                           max_photo_mb=MAX_PHOTO_BYTES // (1024 * 1024)), status


def _photo_message(message: str) -> str:
    """Say what is wrong with a photo in the user's language.

    The domain's own reasons (no barcode, a rejected label) are translated; the image reader's
    (not an image, corrupt, too large) are technical and shown as one plain sentence.
    """
    reason = translate(message) if isinstance(message, Text) else gettext(
        "the file is not a readable image; take the photo again")
    return gettext("The photo could not be used: %(reason)s", reason=reason)


def _read_photo():  # type: ignore[no-untyped-def]
    upload = request.files.get("photo")
    data = upload.stream.read(MAX_PHOTO_BYTES + 1) if upload is not None else b""
    if not data:
        return _scan_form({"photo": gettext("Take or choose a photo of the container's label first.")}, 400)
    try:
        scan = examine_photo(get_session(), acting_user(), data, photo_dir(), window_tolerance())
    except ValidationFailed as exc:
        return _scan_form({"photo": _photo_message(exc.errors.get("photo", exc.message))}, 400)
    if len(scan.containers) == 1:
        return redirect(url_for("portal.scan_result", sscc=scan.containers[0].sscc, photo=scan.photo_digest))
    return redirect(url_for("portal.photo_result", digest=scan.photo_digest,
                            sscc=[c.sscc for c in scan.containers][:MAX_LABELS]))


@bp.route("/checkpoint/scan", methods=["GET", "POST"])
@requires(Action.RECORD_CUSTODY)
def scan():  # type: ignore[no-untyped-def]
    """Scan a container: a photo of its label (decoded here without JavaScript) or its SSCC typed in."""
    if request.method == "GET":
        return _scan_form({})
    if "sscc" not in request.form:
        return _read_photo()
    raw = request.form.get("sscc", "")
    try:
        sscc = typed_sscc(raw)
    except InvalidIdentifier as exc:
        return _scan_form({"sscc": str(exc)}, 400, sscc=raw)
    return redirect(url_for("portal.scan_result", sscc=sscc))


# ---------------------------------------------------------------- confirming custody
@dataclass(frozen=True)
class Proposal:
    """What the confirm form proposes: the post, the kind of event (None: none fits), the event's identity."""

    checkpoint: Checkpoint
    kind: CustodyKind | None
    client_event_id: str
    event_time: str


def _now_here() -> str:
    """The present moment in the user's time zone, as the station contract's ISO time."""
    return datetime.now(ZoneInfo(time_zone_name())).isoformat(timespec="seconds")


def _scanned(sscc: str) -> ScannedContainer:
    try:
        sscc = validate_sscc(sscc)
    except InvalidIdentifier:
        abort(404, description=gettext("%(sscc)s is not a valid SSCC.", sscc=sscc))
    return describe(get_session(), acting_user(), sscc, (), window_tolerance())


def _proposal(scanned: ScannedContainer, form: dict[str, Any]) -> Proposal:
    """Propose the custody check's event; a refused departure is never preselected."""
    officer = acting_user()
    if scanned.check is not None:
        kind, post, answer = scanned.check
        preselect: CustodyKind | None = None if (
            kind == CustodyKind.DEPARTURE and answer.verdict == Verdict.REFUSED) else kind
    else:
        post, preselect = officer.checkpoints[0], CustodyKind.INSPECTION
    post = next((p for p in officer.checkpoints if p.code == form.get("checkpoint")), post)
    preselect = CustodyKind(form["kind"]) if form.get("kind") in set(CustodyKind) else preselect
    return Proposal(post, preselect, form.get("client_event_id") or uuid.uuid4().hex,
                    form.get("event_time") or _now_here())


def _result_page(found: list[ScannedContainer], digest: str, form: dict[str, Any], errors: dict[str, Any],
                 status: int = 200):  # type: ignore[no-untyped-def]
    officer = acting_user()
    if not officer.checkpoints:
        abort(403, description=gettext("You are posted at no checkpoint; ask the licensing authority."))
    declarations = {s.declaration.id for s in found if s.declaration is not None}
    return render_template("officer/scan_result.html", found=found, s=found[0], digest=digest,
                           proposal=_proposal(found[0], form), form=form, errors=errors, kinds=list(CustodyKind),
                           confirm=CONFIRM, posts=officer.checkpoints,
                           loading=loading_of(get_session(), declarations)), status


@bp.get("/checkpoint/containers/<sscc>")
@requires(Action.RECORD_CUSTODY)
def scan_result(sscc: str):  # type: ignore[no-untyped-def]
    """Show a scanned container, its declaration, whether it is expected here, and the confirm form."""
    digest = request.args.get("photo", "").lower()
    return _result_page([_scanned(sscc)], digest if _DIGEST.match(digest) else "", {}, {})


@bp.get("/checkpoint/photos/<digest>")
@requires(Action.RECORD_CUSTODY)
def photo_result(digest: str):  # type: ignore[no-untyped-def]
    """Show every container of one photo (``sscc`` repeated in the query) with one confirm form for all."""
    ssccs = list(dict.fromkeys(request.args.getlist("sscc")))[:MAX_LABELS]
    if not _DIGEST.match(digest) or not ssccs:
        abort(404)
    return _result_page([_scanned(sscc) for sscc in ssccs], digest, {}, {})


@bp.get("/checkpoint/labels")
@requires(Action.RECORD_CUSTODY)
def labels_result():  # type: ignore[no-untyped-def]
    """Show the containers the live viewfinder read (``sscc`` repeated in the query) with one confirm form for all.

    Nothing read yet: back to the scan page.
    """
    ssccs = list(dict.fromkeys(request.args.getlist("sscc")))[:MAX_LABELS]
    if not ssccs:
        return redirect(url_for("portal.scan"))
    return _result_page([_scanned(sscc) for sscc in ssccs], "", {}, {})


def _event_data(form: dict[str, Any], sscc: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn the confirm form into the station contract's event, with the form's own errors."""
    errors: dict[str, str] = {}
    typed = form.get("measured_kg", "")
    mass = read_kg_field(typed, "measured_kg", errors) if typed.strip() else None  # weighing is optional
    if form.get("seal_intact") not in ("yes", "no"):  # never assumed: the officer looks at the seal
        errors["seal_intact"] = gettext("Say whether the seal is intact or broken.")
    data = {"client_event_id": form.get("client_event_id", ""), "sscc": sscc,
            "checkpoint": form.get("checkpoint", ""), "kind": form.get("kind", ""),
            "seal_intact": form.get("seal_intact") == "yes", "event_time": form.get("event_time", ""),
            "measured_net_g": mass, "remarks": form.get("remarks", "").strip(), "device": "portal",
            "override_window": form.get("override_window") == "yes", "override_reason": form.get("override_reason", ""),
            "partial_departure": form.get("partial_departure") == "yes",
            "partial_reason": form.get("partial_reason", "")}
    if _DIGEST.match(form.get("photo_digest", "")):
        data["photo_digest"] = form["photo_digest"]
    data.update(_phone_position(form))
    return data, errors


#: Fields of the confirm form; a failure of any other part of the event is shown above the form.
_FORM_FIELDS = {"kind", "checkpoint", "seal_intact", "measured_kg", "remarks", "override_reason", "partial_reason"}
_SHOWN_AS = {"measured_net_g": "measured_kg", "photo_digest": "form"}


def _phone_position(form: dict[str, Any]) -> dict[str, Any]:
    """Return the phone's reported position (the page fills ``lat``/``lon`` when the officer allows it).

    Both or neither: a value that is not a number goes to the domain as it is, which refuses it.
    """
    lat, lon = form.get("lat", "").strip(), form.get("lon", "").strip()
    if not lat or not lon:
        return {}
    def number(raw: str) -> Any:
        try:
            return float(raw) if len(raw) <= 32 else raw
        except ValueError:
            return raw
    return {"lat": number(lat), "lon": number(lon)}


def _beside_fields(failures: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in failures.items():
        field = _SHOWN_AS.get(name, name)
        errors[field if field in _FORM_FIELDS else "form"] = message
    return errors


def _record_all(found: list[ScannedContainer], form: dict[str, Any]) -> list[Any]:
    """Record the confirmed event for every container of the form in one transaction (all or none).

    Each container's event id is the form's id with its SSCC, so a second tap finds the first. A
    partial departure is confirmed with the last one: the photo's containers leave together.
    """
    db, base = get_session(), form.get("client_event_id", "")
    outcomes = []
    for n, scanned in enumerate(found):
        data, _ = _event_data(form, scanned.sscc)
        if len(found) > 1:
            data["client_event_id"] = f"{base}:{scanned.sscc}"
        if n < len(found) - 1:
            data.update(partial_departure=False, partial_reason="")
        outcomes.append(record_custody_event(db, acting_user(), data, window_tolerance=window_tolerance()))
    return outcomes


@bp.post("/checkpoint/custody")
@requires(Action.RECORD_CUSTODY)
def record_custody():  # type: ignore[no-untyped-def]
    """Record the confirmed custody event of each container on the form once, then back to the checkpoint.

    A refusal of the custody check stores nothing and shows every reason above the form.
    """
    form = request.form.to_dict()
    found = [_scanned(sscc) for sscc in list(dict.fromkeys(request.form.getlist("sscc")))[:MAX_LABELS] or [""]]
    digest = form.get("photo_digest", "")
    _, errors = _event_data(form, found[0].sscc)
    if errors:
        return _result_page(found, digest, form, errors, 400)
    db = get_session()
    db.commit()  # the chain lock must open a fresh transaction (SQLite takes the write lock there)
    try:
        outcomes = _record_all(found, form)
    except ValidationFailed as exc:
        db.rollback()
        return _result_page(found, digest, form, _beside_fields(exc.errors), 400)
    except Forbidden as exc:
        db.rollback()
        return _result_page(found, digest, form, {"form": exc.message}, 403)
    except CustodyRefused as exc:
        db.rollback()
        return _result_page(found, digest, form, {"form": gettext("Not recorded:"),
                                                  "reasons": [f.message for f in exc.answer.refusals]}, 409)
    except Conflict as exc:  # the same client event id with other details: a new id for a new event
        db.rollback()
        form.pop("client_event_id", None)
        return _result_page(found, digest, form, {"form": exc.message}, 409)
    db.commit()
    for outcome in outcomes:
        _flash_outcome(outcome.event, outcome.alerts, outcome.created)
    return redirect(url_for("portal.checkpoint"))


def _flash_outcome(event: CustodyEvent, alerts: list[Any], created: bool) -> None:
    message = str(RECORDED[CustodyKind(event.kind)] % {"sscc": event.sscc, "post": place(event.checkpoint)})
    if not created:
        message += " " + gettext("It had already been recorded; nothing was added.")
    elif event.declaration is not None:
        message += " " + gettext("Declaration %(ref)s: %(status)s.", ref=event.declaration.label,
                                 status=label(event.declaration.status))
    flash(message, "success")
    if alerts:
        flash(gettext("Alerts opened: %(kinds)s.", kinds=", ".join(label(a.kind) for a in alerts)), "warning")
