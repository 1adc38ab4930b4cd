"""Containers: the list and a container's page; a trader registers its dealer's containers and prints their labels.

The label is the one ``scanner label`` prints (``scanner_app.labels``): GS1-128 of the
SSCC, a GS1 Digital Link QR code, UN 2809 class 8 and the net mass, as PNG, PDF or SVG.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from scanner_app.labels import make_label, render_labels
from tracker.domain.access import Action, container_filter, may
from tracker.domain.containers import REGISTRY_COMPANY_PREFIX, allocate_sscc, find_container, register_container
from tracker.domain.errors import Conflict, ValidationFailed
from tracker.domain.gs1 import InvalidIdentifier
from tracker.models import Container, ContainerType
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate
from tracker.web.portal.mass_fields import read_kg_field
from tracker.web.portal.trader_forms import FormValues

#: Label formats a trader may download, and their media types.
LABEL_TYPES = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml"}
#: The form's name of a domain field.
FORM_NAMES = {"tare_g": "tare_kg", "capacity_g": "capacity_kg", "net_g": "net_kg"}


def _containers_page(form: Any = None, errors: dict[str, Any] | None = None,
                     status: int = 200):  # type: ignore[no-untyped-def]
    user, db = acting_user(), get_session()
    page = paginate(db, select(Container).where(container_filter(user)).order_by(Container.sscc))
    return render_template(
        "containers.html", page=page, may_register=may(user, Action.REGISTER_CONTAINER),
        types=list(ContainerType), form=FormValues(form or {"container_type": ContainerType.FLASK_34_5KG.value}),
        errors=errors or {}), status


@bp.get("/containers")
@login_required
def containers():  # type: ignore[no-untyped-def]
    """List the containers the user may see, by SSCC, a page at a time (a trader: with the form to register one)."""
    return _containers_page()


@bp.get("/containers/<sscc>")
@login_required
def container(sscc: str):  # type: ignore[no-untyped-def]
    """Show one container the user may see (404 otherwise), with its label for a trader."""
    record = find_container(get_session(), acting_user(), sscc)
    return render_template("container.html", c=record, label_types=list(LABEL_TYPES),
                           may_print=may(acting_user(), Action.REGISTER_CONTAINER))


def _masses(form: Any, errors: dict[str, Any]) -> dict[str, int]:
    """Read tare, capacity and net mass (kilograms) as grams; an empty container has net 0."""
    masses = {"tare_g": read_kg_field(form.get("tare_kg", ""), "tare_kg", errors),
              "capacity_g": read_kg_field(form.get("capacity_kg", ""), "capacity_kg", errors),
              "net_g": read_kg_field(form.get("net_kg", ""), "net_kg", errors, allow_zero=True)}
    return {name: grams or 0 for name, grams in masses.items()}


def _sscc(form: Any, errors: dict[str, Any]) -> str:
    """Return the typed SSCC, or allocate the next one under the registry's GS1 company prefix."""
    typed = "".join(form.get("sscc", "").split())
    if typed:
        return typed
    prefix = str(current_app.config["SETTINGS"].extra.get("SSCC_COMPANY_PREFIX", REGISTRY_COMPANY_PREFIX))
    try:
        return allocate_sscc(get_session(), prefix)
    except InvalidIdentifier as exc:
        errors["sscc"] = str(exc)
        return ""


@bp.post("/containers")
@requires(Action.REGISTER_CONTAINER)
def register_container_view():  # type: ignore[no-untyped-def]
    """Register a container of the trader's dealer (SSCC typed, or allocated when left empty)."""
    form, errors, db = request.form, {}, get_session()
    masses = _masses(form, errors)
    try:
        sscc = _sscc(form, errors)
        if errors:
            raise ValidationFailed(errors)
        record = register_container(db, acting_user(), sscc=sscc, container_type=form.get("container_type", ""),
                                    seal_number=form.get("seal_number", "").strip() or None, **masses)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        found = exc.errors if isinstance(exc, ValidationFailed) else {"sscc": exc.message}
        return _containers_page(form, {FORM_NAMES.get(k, k): v for k, v in found.items()}, status=400)
    db.commit()
    flash(_("Container %(sscc)s registered. Print its label below.", sscc=record.sscc), "success")
    return redirect(url_for("portal.container", sscc=record.sscc))


@bp.get("/containers/<sscc>/label.<any(png, pdf, svg):kind>")
@requires(Action.REGISTER_CONTAINER)
def container_label(sscc: str, kind: str):  # type: ignore[no-untyped-def]
    """Download the label of a container of the trader's dealer (404 for any other)."""
    record = find_container(get_session(), acting_user(), sscc)
    content = render_labels([make_label(record.sscc, record.net_g)], f".{kind}")
    return Response(content, mimetype=LABEL_TYPES[kind], headers={
        "Content-Disposition": f'inline; filename="label-{record.sscc}.{kind}"', "Cache-Control": "no-store"})
