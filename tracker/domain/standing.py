"""Where a party's licence and an approval or consent stand today, told before the trader fills a form.

The submission rules refuse a declaration whose parties' licences or whose approval do not hold;
these functions say so up front (step 1 of a new declaration): which licence, since when, by whom
and why, so the trader does not fill in three steps to learn it at the review.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.approvals import Consent, remaining_g
from tracker.models import ApprovalStatus, Dealer, License, LicenseStatus


@dataclass(frozen=True)
class LicenceLapse:
    """A domestic dealer with no licence in force today, and the licence that stopped holding (if any)."""

    dealer: Dealer
    licence: License | None
    #: Suspended, revoked or expired; None when the dealer holds no licence at all.
    status: LicenseStatus | None
    since: datetime | None = None
    by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ConsentLapse:
    """An import approval or export consent that cannot cover a new declaration: expired, revoked or used up."""

    record: Consent
    status: ApprovalStatus
    #: The last valid day (expired), or None.
    ended: date | None = None


def _in_force(licence: License, today: date) -> bool:
    return licence.status == LicenseStatus.ACTIVE and licence.valid_from <= today <= licence.valid_to


def _lapse_of(dealer: Dealer, licence: License, today: date) -> LicenceLapse:
    """Say how the licence stopped holding: its own status, or expired by date though not yet marked."""
    if licence.status == LicenseStatus.ACTIVE and licence.valid_to < today:
        ended = datetime.combine(licence.valid_to + timedelta(days=1), time(), tzinfo=timezone.utc)
        return LicenceLapse(dealer, licence, LicenseStatus.EXPIRED, ended, "system",
                            f"validity ended {licence.valid_to.isoformat()}")
    last = next((e for e in reversed(licence.history) if e.action == licence.status.value), None)
    return LicenceLapse(dealer, licence, licence.status, last.at if last else None,
                        last.actor_name if last else "", licence.status_reason)


def licence_lapses(session: Session, dealers: list[Dealer], today: date) -> dict[int, LicenceLapse]:
    """Return, by dealer id, why each domestic dealer holds no licence in force today (one query for all);
    a dealer with a licence in force, or a foreign one, is left out."""
    by_dealer: dict[int, list[License]] = {d.id: [] for d in dealers if d.is_domestic}
    for licence in session.scalars(select(License).where(License.dealer_id.in_(by_dealer))
                                   .order_by(License.valid_to, License.id)):
        by_dealer[licence.dealer_id].append(licence)
    found: dict[int, LicenceLapse] = {}
    for dealer in dealers:
        licences = by_dealer.get(dealer.id)
        if licences is None or any(_in_force(licence, today) for licence in licences):
            continue
        started = [licence for licence in licences if licence.valid_from <= today]
        found[dealer.id] = _lapse_of(dealer, started[-1], today) if started else LicenceLapse(dealer, None, None)
    return found


def licence_lapse(session: Session, dealer: Dealer, today: date) -> LicenceLapse | None:
    """Return why a domestic dealer holds no licence in force today, or None when one is (or it is foreign)."""
    return licence_lapses(session, [dealer], today).get(dealer.id)


def consent_lapses(session: Session, records: list[Consent], today: date) -> dict[int, ConsentLapse]:
    """Return, by id, why each approval (or each consent: one kind per call) cannot cover a new declaration."""
    found = {record.id: consent_lapse(session, record, today) for record in records}
    return {key: lapse for key, lapse in found.items() if lapse is not None}


def consent_lapse(session: Session, record: Consent, today: date) -> ConsentLapse | None:
    """Return why the approval or consent cannot cover a new declaration, or None when it can."""
    if record.status in (ApprovalStatus.EXPIRED, ApprovalStatus.REVOKED):
        return ConsentLapse(record, record.status, record.valid_until)
    if record.valid_until < today:
        return ConsentLapse(record, ApprovalStatus.EXPIRED, record.valid_until)
    if record.status == ApprovalStatus.EXHAUSTED or remaining_g(session, record) <= 0:
        return ConsentLapse(record, ApprovalStatus.EXHAUSTED)
    return None
