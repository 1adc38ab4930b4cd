"""Filing a declaration step by step: parties, containers, route, review; submit and cancel.

Each step saves the draft with the domain's ``update_draft`` (as PATCH /api/v1/declarations/<id>
does); a refused step re-renders with every message beside its field and stores nothing.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from shapely.geometry import LineString
from sqlalchemy import select

from tracker.domain import lifecycle
from tracker.domain.access import Action, approval_filter, consent_filter
from tracker.domain.declarations import (
    EDITABLE_STATUSES,
    DraftInput,
    create_draft,
    editable_declaration,
    find_declaration,
    set_route,
    update_draft,
)
from tracker.domain.drafting import (
    STEPS,
    assign_beacon,
    checkpoints,
    counterparties,
    dealer_beacons,
    order_along_route,
    place_failures,
    stock_containers,
    with_changes,
)
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.domain.route_files import MAX_GPX_BYTES, RouteFileError, parse_gpx, route_from_waypoints
from tracker.domain.standing import consent_lapses, licence_lapses
from tracker.domain.submission import Failure, failures
from tracker.models import (
    Declaration,
    DeclarationKind,
    ExportConsent,
    ImportApproval,
    utcnow,
)
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.labels import label
from tracker.web.portal.blueprint import bp
from tracker.web.portal.mass_fields import kg_value, read_kg_field
from tracker.web.portal.trader_forms import (
    FormValues,
    local_time_value,
    parse_local_time,
    parse_waypoints,
    parse_whole,
    waypoints_value,
)

STEP_TITLES = {"parties": _l("Parties and places"), "containers": _l("Containers"),
               "route": _l("Route and window"), "review": _l("Review and submit")}


# ---------------------------------------------------------------- step 1: parties and places
def _party_fields(form: Any, role: str, errors: dict[str, Any]) -> dict[str, Any]:
    """Read a party chosen from the list (``<role>_id``) or named abroad (``<role>_name``, ``_country``)."""
    chosen = parse_whole(form.get(f"{role}_id", ""), f"{role}_id", errors, _("Choose from the list."))
    name, country = form.get(f"{role}_name", "").strip(), form.get(f"{role}_country", "").strip().upper()
    foreign = (name, country) if chosen is None and (name or country) else None
    return {f"{role}_id": chosen, f"{role}_foreign": foreign}


def _parties_input(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the parties step's fields for a DraftInput, and the form's own errors."""
    errors: dict[str, Any] = {}
    fields: dict[str, Any] = {"kind": form.get("kind", ""), "origin_code": form.get("origin", ""),
                              "destination_code": form.get("destination", "")}
    for name, key in (("kind", "kind"), ("origin", "origin_code"), ("destination", "destination_code")):
        if not fields[key]:
            errors[name] = _("Required.")
    fields |= _party_fields(form, "consignee", errors)
    fields |= _party_fields(form, "consignor", errors)
    for name in ("import_approval_id", "export_consent_id"):
        fields[name] = parse_whole(form.get(name, ""), name, errors, _("Choose from the list."))
    if fields["kind"] not in (DeclarationKind.IMPORT, DeclarationKind.TRANSIT):
        fields["consignor_id"], fields["consignor_foreign"] = None, None
    return fields, errors


def _parties_page(declaration: Declaration | None, form: Any, errors: dict[str, Any], status: int = 200):
    """Render the parties step (new or editing), telling up front which licence or approval does not hold."""
    user, db = acting_user(), get_session()
    today = utcnow().date()
    dealers = counterparties(db, user)
    approvals = list(db.scalars(select(ImportApproval).where(approval_filter(user)).order_by(ImportApproval.number)))
    consents = list(db.scalars(select(ExportConsent).where(consent_filter(user)).order_by(ExportConsent.number)))
    return render_template(
        "trader/step_parties.html", d=declaration, step="parties", form=FormValues(form), errors=errors,
        kinds=list(DeclarationKind), own=user.dealer, dealers=dealers, places=checkpoints(db),
        approvals=approvals, consents=consents, steps=STEPS, titles=STEP_TITLES,
        lapsed=licence_lapses(db, [user.dealer, *dealers] if user.dealer else dealers, today),
        approval_lapses=consent_lapses(db, approvals, today), consent_lapses=consent_lapses(db, consents, today),
    ), status


def _parties_form(declaration: Declaration) -> dict[str, Any]:
    """Return the form values of a draft's parties step."""
    form = {"kind": declaration.kind.value, "origin": declaration.origin.code,
            "destination": declaration.destination.code,
            "import_approval_id": declaration.import_approval_id or "",
            "export_consent_id": declaration.export_consent_id or ""}
    for role in ("consignee", "consignor"):
        party = getattr(declaration, role)
        if party.is_domestic:
            form[f"{role}_id"] = party.id
        else:
            form[f"{role}_name"], form[f"{role}_country"] = party.legal_name, party.country
    return form


@bp.route("/declarations/new", methods=["GET", "POST"])
@requires(Action.DECLARE)
def new_declaration():  # type: ignore[no-untyped-def]
    """Start a declaration: its kind, parties, origin and destination make the draft."""
    if request.method == "GET":
        return _parties_page(None, {"kind": "domestic"}, {})
    fields, errors = _parties_input(request.form)
    if errors:
        return _parties_page(None, request.form, errors, 400)
    db = get_session()
    try:
        record = create_draft(db, acting_user(), DraftInput(**fields))
    except ValidationFailed as exc:
        db.rollback()
        return _parties_page(None, request.form, exc.errors, 400)
    db.commit()
    flash(_("Draft %(label)s saved. Now choose its containers.", label=record.label), "success")
    return redirect(url_for("portal.edit_declaration", declaration_id=record.id, step="containers"))


# ---------------------------------------------------------------- the steps of a draft
def _step_page(record: Declaration, step: str, form: Any = None, errors: dict[str, Any] | None = None,
               status: int = 200):
    """Render one step of a draft with its form values and errors."""
    if step == "parties":
        return _parties_page(record, form or _parties_form(record), errors or {}, status)
    user, db = acting_user(), get_session()
    context: dict[str, Any] = {"d": record, "step": step, "errors": errors or {}, "steps": STEPS,
                               "titles": STEP_TITLES}
    if step == "containers":
        stock = stock_containers(db, user, record)
        declared = {i.container.sscc: i.declared_net_g for i in record.items}
        masses = {f"mass-{c.sscc}": kg_value(declared.get(c.sscc, c.net_g)) for c in stock}
        context |= {"stock": stock, "form": FormValues(form or {"sscc": list(declared), **masses})}
    elif step == "route":
        context |= {"places": checkpoints(db), "beacons": dealer_beacons(db, user), "max_gpx": MAX_GPX_BYTES,
                    "form": FormValues(form or _route_form(record))}
    else:
        found = _precheck(record)
        context |= {"failures": found, "placed": place_failures(db, record, found, utcnow().date())}
    return render_template(f"trader/step_{step}.html", **context), status


def _route_form(record: Declaration) -> dict[str, Any]:
    return {"waypoints": waypoints_value(record.route), "corridor_m": record.corridor_m,
            "expected": [e.checkpoint.code for e in record.expected_checkpoints],
            "planned_departure": local_time_value(record.planned_departure),
            "planned_arrival": local_time_value(record.planned_arrival),
            "beacon_id": record.beacon_id or "", "vehicle": record.vehicle}


def _precheck(record: Declaration) -> list[Failure]:
    """Return what the submission rules would refuse now (nothing once it is no longer a draft).

    After a refused submission the review runs the rules again rather than reading the refusal:
    the same rules on the same draft, now with the rule behind each message (its remedy).
    """
    if record.status not in EDITABLE_STATUSES:
        return []
    return failures(get_session(), record, utcnow())


@bp.route("/declarations/<int:declaration_id>/edit", methods=["GET", "POST"])
@requires(Action.DECLARE)
def edit_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Show or save one step of the actor's draft (or rejected) declaration."""
    step = request.args.get("step", "parties")
    if step not in STEPS:
        abort(404)
    db = get_session()
    try:
        record = editable_declaration(db, acting_user(), declaration_id)
    except Conflict:
        return _no_longer_editable(declaration_id)
    if request.method == "GET" or step == "review":
        return _step_page(record, step)
    save = {"parties": _save_parties, "containers": _save_containers, "route": _save_route}[step]
    try:
        save(record, request.form)
    except ValidationFailed as exc:
        db.rollback()
        record = editable_declaration(db, acting_user(), declaration_id)
        return _step_page(record, step, request.form, _on_form(record, step, exc.errors), 400)
    db.commit()
    following = STEPS[STEPS.index(step) + 1]
    flash(_("Saved. Next: %(step)s.", step=STEP_TITLES[following]), "success")
    return redirect(url_for("portal.edit_declaration", declaration_id=record.id, step=following))


def _no_longer_editable(declaration_id: int):  # type: ignore[no-untyped-def]
    """Send the user to the declaration's page: it has been submitted (or decided) since."""
    record = find_declaration(get_session(), acting_user(), declaration_id)
    flash(_("Declaration %(label)s is %(status)s: only a draft or a rejected declaration can be edited.",
            label=record.label, status=label(record.status)), "warning")
    return redirect(url_for("portal.declaration", declaration_id=record.id))


def _on_form(record: Declaration, step: str, errors: dict[str, Any]) -> dict[str, Any]:
    """Name container errors by SSCC (the domain numbers them in the order they were sent)."""
    if step != "containers":
        return errors
    chosen = request.form.getlist("sscc")
    named: dict[str, Any] = {}
    for key, message in errors.items():
        if key.startswith("items[") and key[6:key.index("]")].isdigit():
            index = int(key[6:key.index("]")])
            key = f"mass-{chosen[index]}" if index < len(chosen) else "items"
        named[key] = f"{named[key]}; {message}" if key in named else message
    return named


def _save_parties(record: Declaration, form: Any) -> None:
    fields, errors = _parties_input(form)
    if errors:
        raise ValidationFailed(errors)
    update_draft(get_session(), acting_user(), record.id, with_changes(record, **fields))


def _save_containers(record: Declaration, form: Any) -> None:
    errors: dict[str, Any] = {}
    items = []
    for sscc in form.getlist("sscc"):
        mass = read_kg_field(form.get(f"mass-{sscc}", ""), f"mass-{sscc}", errors)
        if mass is not None:
            items.append((sscc, mass))
    if not form.getlist("sscc"):
        errors["items"] = _("Choose at least one container.")
    if errors:
        raise ValidationFailed(errors)
    update_draft(get_session(), acting_user(), record.id, with_changes(record, items=items))


def _uploaded_route(errors: dict[str, Any]) -> Any:
    """Return the route in the uploaded GPX file (None when no file was chosen)."""
    upload = request.files.get("gpx")
    if upload is None or not upload.filename:
        return None
    try:
        return parse_gpx(upload.stream.read(MAX_GPX_BYTES + 1))
    except RouteFileError as exc:
        errors["gpx"] = exc.args[0]
        return None


def _line(waypoints: list[tuple[float, float]]) -> LineString | None:
    """Return the waypoints as a route line, or None when they do not make one (the domain says why)."""
    try:
        return route_from_waypoints(waypoints)
    except RouteFileError:
        return None


def _save_route(record: Declaration, form: Any) -> None:
    errors: dict[str, Any] = {}
    route = _uploaded_route(errors)
    waypoints = parse_waypoints(form.get("waypoints", ""), "waypoints", errors) if route is None else []
    corridor = parse_whole(form.get("corridor_m", ""), "corridor_m", errors, _("Give whole metres, e.g. 500."))
    departure = parse_local_time(form.get("planned_departure", ""), "planned_departure", errors)
    arrival = parse_local_time(form.get("planned_arrival", ""), "planned_arrival", errors)
    beacon_id = parse_whole(form.get("beacon_id", ""), "beacon", errors, _("Choose from the list."))
    if errors:
        raise ValidationFailed(errors)
    db, actor = get_session(), acting_user()
    places = {c.code: c for c in checkpoints(db)}
    codes = order_along_route(form.getlist("expected"), places, route or _line(waypoints) or record.route)
    data = with_changes(record, waypoints=waypoints, expected_checkpoint_codes=codes,
                        corridor_m=record.corridor_m if corridor is None else corridor, planned_departure=departure,
                        planned_arrival=arrival, vehicle=form.get("vehicle", "").strip()[:80])
    update_draft(db, actor, record.id, data)
    if route is not None:
        set_route(db, actor, record.id, route, field_name="gpx")
    assign_beacon(db, actor, record.id, beacon_id)


# ---------------------------------------------------------------- submit and cancel
@bp.post("/declarations/<int:declaration_id>/submit")
@requires(Action.DECLARE)
def submit_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Submit a draft for approval; every rule that fails is shown beside its field."""
    db = get_session()
    try:
        record = lifecycle.submit(db, acting_user(), declaration_id)
    except ValidationFailed as exc:
        db.rollback()
        record = editable_declaration(db, acting_user(), declaration_id)
        return _step_page(record, "review", errors=exc.errors, status=400)
    db.commit()
    flash(_("Declaration %(label)s submitted for approval.", label=record.label), "success")
    return redirect(url_for("portal.declaration", declaration_id=record.id))


@bp.post("/declarations/<int:declaration_id>/cancel")
@login_required
def cancel_declaration(declaration_id: int):  # type: ignore[no-untyped-def]
    """Cancel a declaration before departure (its trader or the licensing authority)."""
    db = get_session()
    record = lifecycle.cancel(db, acting_user(), declaration_id, request.form.get("reason", "")[:2000])
    db.commit()
    flash(_("Declaration %(label)s cancelled.", label=record.label), "success")
    return redirect(url_for("portal.declarations"))
