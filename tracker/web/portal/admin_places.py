"""Checkpoints and zones: the lists, the map, adding and changing checkpoints, adding and deleting zones."""
from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from tracker.domain import places
from tracker.domain.access import Action, may
from tracker.domain.errors import ValidationFailed
from tracker.models import Checkpoint, CheckpointKind
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.guards import row_id
from tracker.web.i18n import LANGUAGES
from tracker.web.labels import label, place
from tracker.web.portal.admin_forms import float_field, int_field, readers_only, text_field
from tracker.web.portal.blueprint import bp

#: Words for the kinds of zone (route evaluation's enum has no entry in the shared labels).
ZONE_KINDS: dict[str, Any] = {"dead_zone": _l("dead zone (no signal expected)"),
                              "prohibited": _l("prohibited area")}


def _places_page(errors: dict[str, str] | None = None, failed: str = "",
                 editing: Checkpoint | None = None):  # type: ignore[no-untyped-def]
    db = get_session()
    if editing is None and (edit_id := request.args.get("edit", type=row_id)) is not None:
        editing = db.get(Checkpoint, edit_id)
    return render_template(
        "admin/checkpoints.html", checkpoints=list(db.scalars(select(Checkpoint).order_by(Checkpoint.code))),
        zones=places.general_zones(db), kind_options=[(k.value, label(k)) for k in CheckpointKind],
        zone_kinds=ZONE_KINDS,
        errors=errors or {}, failed=failed, editing=editing, max_kib=places.MAX_GEOJSON_BYTES // 1024,
        can_manage=may(acting_user(), Action.MANAGE_DEVICES))


@bp.get("/checkpoints")
@readers_only
def checkpoints():  # type: ignore[no-untyped-def]
    """List checkpoints and zones on a map; ``?edit=<id>`` fills the form with one checkpoint."""
    return _places_page()


@bp.get("/checkpoints.geojson")
@login_required
def places_geojson():  # type: ignore[no-untyped-def]
    """Every checkpoint and general zone as GeoJSON (properties.layer: checkpoint | zone) for maps.

    Each feature also carries its popup's words in the user's language (properties.label, text).
    """
    collection = places.places_geojson(get_session())
    for feature in collection["features"]:
        properties = feature["properties"]
        if properties["layer"] == "checkpoint":
            properties["label"] = f"{properties['code']} — {place(properties)}"
            properties["text"] = [label(CheckpointKind(properties["kind"]))]
        else:
            properties["label"] = properties["name"]
            properties["text"] = [str(ZONE_KINDS.get(properties["kind"], properties["kind"]))]
    return jsonify(collection)


def _checkpoint_input() -> tuple[places.CheckpointInput, dict[str, str]]:
    errors: dict[str, str] = {}
    data = places.CheckpointInput(
        code=text_field("code"), name=text_field("name"), kind=text_field("kind"),
        country=text_field("country") or "KG", neighbour_country=text_field("neighbour_country"),
        lat=float_field("lat", errors), lon=float_field("lon", errors),
        radius_m=int_field("radius_m", errors) or 0,
        names={code: text_field(f"name_{code}") for code in LANGUAGES if code != "en"})
    return data, errors


def _save(checkpoint_id: int | None):  # type: ignore[no-untyped-def]
    db = get_session()
    data, errors = _checkpoint_input()
    try:
        if errors:
            raise ValidationFailed(errors)
        checkpoint = places.save_checkpoint(db, acting_user(), data, checkpoint_id)
    except ValidationFailed as exc:
        db.rollback()
        editing = places.find_checkpoint(db, checkpoint_id) if checkpoint_id is not None else None
        return _places_page(exc.errors, "checkpoint", editing), 400
    db.commit()
    flash(gettext("Checkpoint %(code)s saved.", code=checkpoint.code), "success")
    return redirect(url_for("portal.checkpoints"))


@bp.post("/checkpoints")
@requires(Action.MANAGE_DEVICES)
def add_checkpoint():  # type: ignore[no-untyped-def]
    """Add a checkpoint."""
    return _save(None)


@bp.post("/checkpoints/<int:checkpoint_id>")
@requires(Action.MANAGE_DEVICES)
def edit_checkpoint(checkpoint_id: int):  # type: ignore[no-untyped-def]
    """Change a checkpoint's code, name, kind, country or position."""
    return _save(checkpoint_id)


def _posted_geojson() -> str | bytes:
    """The polygon pasted in the text box, else the uploaded file (read no further than the limit)."""
    pasted = request.form.get("geojson", "")
    upload = request.files.get("geojson_file")
    if pasted.strip() or upload is None or not upload.filename:
        return pasted
    return upload.stream.read(places.MAX_GEOJSON_BYTES + 1)


@bp.post("/zones")
@requires(Action.MANAGE_DEVICES)
def add_zone():  # type: ignore[no-untyped-def]
    """Add a dead zone or prohibited area from a pasted or uploaded GeoJSON polygon."""
    db = get_session()
    try:
        zone = places.add_zone(db, acting_user(), text_field("name"), text_field("kind"), _posted_geojson())
    except ValidationFailed as exc:
        db.rollback()
        return _places_page(exc.errors, "zone"), 400
    db.commit()
    flash(gettext("Zone %(name)s added.", name=zone.name), "success")
    return redirect(url_for("portal.checkpoints"))


@bp.post("/zones/<int:zone_id>/delete")
@requires(Action.MANAGE_DEVICES)
def delete_zone(zone_id: int):  # type: ignore[no-untyped-def]
    """Delete a general zone; route evaluation stops using it."""
    db = get_session()
    zone = places.delete_zone(db, acting_user(), zone_id)
    db.commit()
    flash(gettext("Zone %(name)s deleted.", name=zone.name), "success")
    return redirect(url_for("portal.checkpoints"))
