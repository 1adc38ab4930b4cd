"""Registering a domestic dealer together with its first licence (the licensing authority's form).

A dealer under this country's licensing is known by its legal name and its taxpayer
number (INN): 14 digits, the first 0 for a legal person (1 or 2 for an individual
entrepreneur), then the day of registration (or birth) as DDMMYYYY and five digits
of the tax office's serial. Two dealers never share a taxpayer number or a legal name.
The dealer and its licence are created together or not at all.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import ValidationFailed
from tracker.domain.licensing import LicenceInput, issue_licence, licence_terms_errors, require_admin
from tracker.domain.text import text
from tracker.models import HOME_COUNTRY, Dealer, License, User

MAX_LEGAL_NAME = 200
MAX_ADDRESS = 500
#: A Kyrgyz INN: kind (0 legal person, 1 or 2 individual), DDMMYYYY, five serial digits.
TAXPAYER_NUMBER = re.compile(r"^([012])(\d{2})(\d{2})(\d{4})(\d{5})$")
_SPACES = re.compile(r"\s+")


@dataclass
class DealerInput:
    """What the licensing authority types about a new domestic dealer."""

    legal_name: str
    taxpayer_number: str
    address: str


def tidy(value: str) -> str:
    """Return ``value`` with surrounding blanks dropped and inner runs of blanks made one space."""
    return _SPACES.sub(" ", value).strip()


def _has_control(value: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


def taxpayer_number_error(number: str, today: date) -> str | None:
    """Say what is wrong with a domestic taxpayer number (None when it has the INN's form)."""
    match = TAXPAYER_NUMBER.match(number) if number.isascii() else None
    if match is None:
        return text("14 digits, e.g. 01207199310028")
    _kind, day, month, year, _serial = match.groups()
    try:
        registered = date(int(year), int(month), int(day))
    except ValueError:
        return text("digits 2 to 9 must be a date (DDMMYYYY); {digits} is not one", digits=number[1:9])
    if registered > today or registered.year < 1900:
        return text("digits 2 to 9 must be a past date (DDMMYYYY); {digits} is not one", digits=number[1:9])
    return None


def _text_error(value: str, typed: str, limit: int, allowed: str = "") -> str | None:
    """Say what is wrong with ``value`` (tidied from ``typed``, whose length counts)."""
    if not value or len(typed) > limit:
        return text("1–{limit} characters", limit=limit)
    if _has_control(value, allowed):
        return text("no control characters")
    return None


def _same_name(session: Session, legal_name: str) -> Dealer | None:
    """Return the domestic dealer already named ``legal_name`` (case and spacing aside)."""
    wanted = legal_name.casefold()
    dealers = session.scalars(select(Dealer).where(Dealer.country == HOME_COUNTRY))
    return next((d for d in dealers if tidy(d.legal_name).casefold() == wanted), None)


def dealer_errors(session: Session, data: DealerInput, today: date) -> dict[str, str]:
    """Return a message for each bad field of a new domestic dealer, duplicates included."""
    errors: dict[str, str] = {}
    name, number, address = tidy(data.legal_name), data.taxpayer_number.strip(), data.address.strip()
    if message := _text_error(name, data.legal_name, MAX_LEGAL_NAME):
        errors["legal_name"] = message
    elif (twin := _same_name(session, name)) is not None:
        errors["legal_name"] = text("{dealer} is already registered (taxpayer number {number})",
                                    dealer=twin.legal_name, number=twin.taxpayer_number)
    if message := taxpayer_number_error(number, today):
        errors["taxpayer_number"] = message
    elif (holder := session.scalar(select(Dealer).where(
            Dealer.country == HOME_COUNTRY, Dealer.taxpayer_number == number))) is not None:
        errors["taxpayer_number"] = text("taxpayer number {number} is already registered to {dealer}",
                                         number=number, dealer=holder.legal_name)
    if message := _text_error(address, data.address, MAX_ADDRESS, allowed="\r\n"):
        errors["address"] = message
    return errors


def register_dealer(session: Session, actor: User, data: DealerInput, licence: LicenceInput,
                    today: date) -> License:
    """Register a domestic dealer and issue its first licence; report every bad field at once.

    ``licence.dealer_id`` is ignored (the new dealer's is used). Returns the licence; its
    ``dealer`` is the new dealer.
    """
    require_admin(actor)
    errors = dealer_errors(session, data, today) | licence_terms_errors(session, licence)
    if errors:
        raise ValidationFailed(errors)
    dealer = Dealer(legal_name=tidy(data.legal_name), taxpayer_number=data.taxpayer_number.strip(),
                    address=data.address.strip(), country=HOME_COUNTRY)
    session.add(dealer)
    session.flush()
    return issue_licence(session, actor, replace(licence, dealer_id=dealer.id))
