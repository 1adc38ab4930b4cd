"""Domestic dealers: the list with their licences, and registering a new dealer with its first licence."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.domain import dealers, licensing
from tracker.domain.access import Action, may
from tracker.domain.errors import ValidationFailed
from tracker.domain.register import today_kg
from tracker.models import HOME_COUNTRY, Activity, Dealer
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.portal.admin_forms import date_field, kg_field, readers_only, text_field
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

#: The form's name of a domain field, where they differ.
FORM_NAMES = {"annual_quota_g": "annual_quota_kg"}


def _dealers_page(errors: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    query = (select(Dealer).where(Dealer.country == HOME_COUNTRY).options(selectinload(Dealer.licenses))
             .order_by(Dealer.legal_name, Dealer.id))
    return render_template("admin/dealers.html", page=paginate(get_session(), query), errors=errors or {},
                           activities=list(Activity), can_register=may(acting_user(), Action.MANAGE_LICENSES))


@bp.get("/dealers", endpoint="dealers")
@readers_only
def dealers_list():  # type: ignore[no-untyped-def]
    """List the domestic dealers with their licences; the licensing authority registers new ones here."""
    return _dealers_page()


def _form_input(errors: dict[str, str]) -> tuple[dealers.DealerInput, licensing.LicenceInput]:
    """Read the dealer and licence fields of the posted form, noting unreadable values in ``errors``."""
    dealer = dealers.DealerInput(legal_name=text_field("legal_name"),
                                 taxpayer_number=text_field("taxpayer_number"), address=text_field("address"))
    licence = licensing.LicenceInput(
        dealer_id=0, number=text_field("number"), valid_from=date_field("valid_from", errors),
        valid_to=date_field("valid_to", errors), annual_quota_g=kg_field("annual_quota_kg", errors),
        activities=request.form.getlist("activities"), reason=text_field("reason"))
    return dealer, licence


@bp.post("/dealers")
@requires(Action.MANAGE_LICENSES)
def register_dealer():  # type: ignore[no-untyped-def]
    """Register a domestic dealer and issue its first licence, both or neither."""
    errors: dict[str, str] = {}
    dealer, licence = _form_input(errors)
    db = get_session()
    try:
        if errors:  # unreadable values: still show what the domain says of the others
            errors = dealers.dealer_errors(db, dealer, today_kg()) | licensing.licence_terms_errors(
                db, licence) | errors
            raise ValidationFailed(errors)
        record = dealers.register_dealer(db, acting_user(), dealer, licence, today_kg())
    except ValidationFailed as exc:
        db.rollback()
        return _dealers_page({FORM_NAMES.get(k, k): v for k, v in exc.errors.items()}), 400
    db.commit()
    flash(gettext("%(dealer)s registered with licence %(number)s.", dealer=record.dealer.legal_name,
                  number=record.number), "success")
    return redirect(url_for("portal.licence", licence_id=record.id))
