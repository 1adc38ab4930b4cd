"""Licences: issuing, suspending, reinstating, revoking, expiring (approvals: ``approvals``).

Every change of a licence is kept as a ``LicenseEvent`` (who, when, why). A licence that
stops being active blocks its dealer's new declarations at once (the submission rules
check the status) and opens an alert on each of the dealer's open declarations (``lapses``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, license_filter, may
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.lapses import licence_lapsed
from tracker.domain.plausibility import mass_problem
from tracker.domain.text import text
from tracker.models import (
    Activity,
    Dealer,
    License,
    LicenseEvent,
    LicenseStatus,
    User,
    utcnow,
)

MAX_NUMBER_LENGTH = 40
#: The largest mass a 64-bit grams column holds.
MAX_STORED_GRAMS = 2**63 - 1


@dataclass
class LicenceInput:
    """What the licensing admin fills in to issue a licence."""

    dealer_id: int
    number: str
    valid_from: date
    valid_to: date
    annual_quota_g: int
    activities: list[str] = field(default_factory=list)
    reason: str = ""


def require_admin(actor: User) -> None:
    """Refuse anyone but the licensing authority."""
    if not may(actor, Action.MANAGE_LICENSES):
        raise Forbidden(text("only the licensing authority manages licences and approvals"))


def _record(licence: License, action: str, actor: User | None, reason: str,
            at: datetime | None = None) -> LicenseEvent:
    event = LicenseEvent(action=action, actor=actor, at=at or utcnow(), reason=reason,
                         actor_name=actor.login if actor is not None else "system")
    licence.history.append(event)
    return event


def find_licence(session: Session, user: User, licence_id: int) -> License:
    """Return the licence if ``user`` may see it, else raise NotFound."""
    licence = session.scalars(
        select(License).where(License.id == licence_id, license_filter(user))).one_or_none()
    if licence is None:
        raise NotFound(text("no licence {licence_id}", licence_id=licence_id))
    return licence


def _licence_errors(session: Session, data: LicenceInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    dealer = session.get(Dealer, data.dealer_id)
    if dealer is None:
        errors["dealer_id"] = text("no dealer {dealer_id}", dealer_id=data.dealer_id)
    elif not dealer.is_domestic:
        errors["dealer_id"] = text("{dealer} is a foreign party; only domestic dealers are licensed",
                                    dealer=dealer.label)
    number = data.number.strip()
    if not number or len(number) > MAX_NUMBER_LENGTH:
        errors["number"] = text("1–{limit} characters", limit=MAX_NUMBER_LENGTH)
    elif session.scalar(select(License.id).where(License.number == number)) is not None:
        errors["number"] = text("licence {number} already exists", number=number)
    if data.valid_to < data.valid_from:
        errors["valid_to"] = text("must not be before valid_from")
    if (problem := mass_problem(data.annual_quota_g)) is not None:
        errors["annual_quota_g"] = problem
    known = {a.value for a in Activity}
    if not data.activities or not set(data.activities) <= known:
        errors["activities"] = text("at least one of {values}", values=", ".join(sorted(known)))
    return errors


def licence_terms_errors(session: Session, data: LicenceInput) -> dict[str, str]:
    """Return a message for each bad term of a licence (number, validity, quota, activities).

    The dealer is left out: a dealer registered with its first licence does not exist yet.
    """
    errors = _licence_errors(session, data)
    errors.pop("dealer_id", None)
    if mass_problem(data.annual_quota_g) is None and data.annual_quota_g > MAX_STORED_GRAMS:
        errors["annual_quota_g"] = text("at most {limit} g", limit=MAX_STORED_GRAMS)
    return errors


def issue_licence(session: Session, actor: User, data: LicenceInput) -> License:
    """Issue a licence to a domestic dealer; report every bad field at once."""
    require_admin(actor)
    errors = _licence_errors(session, data)
    if errors:
        raise ValidationFailed(errors)
    licence = License(number=data.number.strip(), dealer_id=data.dealer_id, valid_from=data.valid_from,
                      valid_to=data.valid_to, annual_quota_g=data.annual_quota_g, issued_by=actor,
                      status=LicenseStatus.ACTIVE)
    licence.activities = [Activity(a) for a in data.activities]
    _record(licence, "issued", actor, data.reason.strip() or "issued")
    session.add(licence)
    session.flush()
    return licence


def _require_reason(reason: str) -> str:
    if not reason.strip():
        raise ValidationFailed({"reason": text("say why")})
    return reason.strip()


def _change_status(licence: License, to: LicenseStatus, allowed_from: set[LicenseStatus]) -> None:
    if licence.status not in allowed_from:
        raise Conflict(text("licence {licence} is {status}; it cannot become {to}",
                            licence=licence.label, status=licence.status, to=to))
    licence.status = to


def suspend_licence(session: Session, actor: User, licence_id: int, reason: str) -> License:
    """Suspend an active licence; each open declaration of its dealer gets an alert."""
    require_admin(actor)
    reason = _require_reason(reason)
    licence = find_licence(session, actor, licence_id)
    _change_status(licence, LicenseStatus.SUSPENDED, {LicenseStatus.ACTIVE})
    licence.status_reason = reason
    _record(licence, "suspended", actor, reason)
    licence_lapsed(session, licence, reason)
    session.flush()
    return licence


def reinstate_licence(session: Session, actor: User, licence_id: int, reason: str,
                      today: date | None = None) -> License:
    """Reinstate a suspended licence that has not run out meanwhile."""
    require_admin(actor)
    reason = _require_reason(reason)
    licence = find_licence(session, actor, licence_id)
    today = today or utcnow().date()
    if licence.status == LicenseStatus.SUSPENDED and licence.valid_to < today:
        raise Conflict(text("licence {licence} ran out on {valid_to}; issue a new one",
                            licence=licence.label, valid_to=licence.valid_to))
    _change_status(licence, LicenseStatus.ACTIVE, {LicenseStatus.SUSPENDED})
    licence.status_reason = ""
    _record(licence, "reinstated", actor, reason)
    session.flush()
    return licence


def revoke_licence(session: Session, actor: User, licence_id: int, reason: str) -> License:
    """Revoke a licence for good; each open declaration of its dealer gets an alert."""
    require_admin(actor)
    reason = _require_reason(reason)
    licence = find_licence(session, actor, licence_id)
    _change_status(licence, LicenseStatus.REVOKED, {LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED})
    licence.status_reason = reason
    _record(licence, "revoked", actor, reason)
    licence_lapsed(session, licence, reason)
    session.flush()
    return licence


def expire_licences(session: Session, today: date) -> list[License]:
    """Mark every active licence whose last valid day is before ``today`` as expired.

    Meant to run daily (``flask --app tracker licences expire``); running it twice
    changes nothing the second time.
    """
    # Locked and skipped: a page expiring lazily at the same moment leaves these to this run.
    due = list(session.scalars(select(License).where(
        License.status == LicenseStatus.ACTIVE, License.valid_to < today).order_by(License.id)
        .with_for_update(skip_locked=True)))
    for licence in due:
        licence.status = LicenseStatus.EXPIRED
        licence.status_reason = f"validity ended {licence.valid_to.isoformat()}"
        _record(licence, "expired", None, licence.status_reason)
        licence_lapsed(session, licence, licence.status_reason)
    session.flush()
    return due
