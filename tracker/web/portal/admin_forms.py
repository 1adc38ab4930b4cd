"""What the licensing authority's pages share: who may read them, and reading their forms.

Auditors and the licensing authority read these pages; only the licensing authority
sees their forms and may post them (the POST views are guarded by ``requires``).
Form fields are read into typed values here, each failure as a message beside its field,
before the domain function checks its own rules.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, request
from flask_babel import gettext
from flask_login import login_required

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import HOME_COUNTRY, Dealer, Role
from tracker.web.auth import acting_user
from tracker.web.portal.mass_fields import read_kg_field

F = TypeVar("F", bound=Callable[..., Any])
READERS = frozenset({Role.AUDITOR, Role.LICENSING_ADMIN})


def readers_only(view: F) -> F:
    """Guard a page: signed in as an auditor or the licensing authority (else 403)."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if acting_user().role not in READERS:
            abort(403, description=gettext("Only auditors and the licensing authority see this page."))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def text_field(name: str) -> str:
    """Return a text field of the posted form, stripped ('' when absent)."""
    return request.form.get(name, "").strip()


def int_field(name: str, errors: dict[str, str], required: bool = True) -> int | None:
    """Return a whole number from the form, noting a message under ``name`` when it is not one."""
    raw = text_field(name)
    if not raw and not required:
        return None
    if raw.lstrip("-").isdigit() and len(raw) <= 18:  # any 18 digits fit a 64-bit column
        return int(raw)
    errors[name] = gettext("Enter a whole number.") if raw else gettext("Required.")
    return None


def float_field(name: str, errors: dict[str, str]) -> float:
    """Return a decimal number (a dot or a comma) from the form, noting a message when it is not one."""
    raw = text_field(name).replace(",", ".")
    try:
        return float(Decimal(raw))
    except (InvalidOperation, ValueError):
        errors[name] = gettext("Enter a number, e.g. 42.875.") if raw else gettext("Required.")
        return 0.0


def date_field(name: str, errors: dict[str, str]) -> date:
    """Return a date (YYYY-MM-DD, as a date input sends it), noting a message when it is not one."""
    raw = text_field(name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = gettext("Enter a date, e.g. 2027-01-31.") if raw else gettext("Required.")
        return date.min


def kg_field(name: str, errors: dict[str, Any]) -> int:
    """Return the kilograms typed in field ``name`` as whole grams (the one kilogram reader), noting a message when bad."""
    return read_kg_field(text_field(name), name, errors) or 0


def required_text(name: str, errors: dict[str, str]) -> str:
    """Return a text field, noting 'Required.' when it is empty."""
    value = text_field(name)
    if not value:
        errors[name] = gettext("Required.")
    return value


def domestic_dealers(session: Session) -> list[tuple[int, str]]:
    """Return (id, legal name) of every domestic dealer, by name: the choices of a dealer field."""
    return [(d.id, d.legal_name) for d in session.scalars(
        select(Dealer).where(Dealer.country == HOME_COUNTRY).order_by(Dealer.legal_name))]
