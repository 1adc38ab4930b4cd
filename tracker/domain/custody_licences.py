"""Whether both parties' licences and the import approval or export consent hold on a day.

The custody check asks this at the event time: a licence that was suspended, revoked or has
ended is named with since when, by whom and why (its last ``LicenseEvent``).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.exports import Period
from tracker.domain.submission import ACTIVITY_OF_KIND, Submission, domestic_parties, rule_approval_quantity_remains
from tracker.domain.text import Text, text
from tracker.models import ApprovalStatus, Dealer, Declaration, DeclarationKind, License, LicenseStatus


def _since(licence: License) -> Text:
    """Say since when, by whom and why a licence stopped being active (its last change)."""
    change = next((e for e in reversed(licence.history) if e.action == licence.status.value), None)
    if change is None:
        return text("licence {number} of {dealer} is {status}", number=licence.number,
                    dealer=licence.dealer.legal_name, status=licence.status)
    since = change.at.strftime("%Y-%m-%d %H:%M UTC")
    return text("licence {number} of {dealer} is {status} since {since} by {by}: {reason}",
                number=licence.number, dealer=licence.dealer.legal_name, status=licence.status,
                since=since, by=change.actor_name, reason=change.reason or "—")


def licence_problem(session: Session, dealer: Dealer, activity: Any, day: date) -> Text | None:
    """Say why ``dealer`` holds no licence for ``activity`` on ``day``, or None when one covers it."""
    licences = list(session.scalars(select(License).where(License.dealer_id == dealer.id)
                                    .order_by(License.valid_to.desc(), License.id.desc())))
    if any(licence.covers(activity, day) for licence in licences):
        return None
    relevant = [licence for licence in licences if activity in licence.activities]
    if not relevant:
        return text("{dealer} holds no licence for {activity}", dealer=dealer.legal_name, activity=activity)
    licence = next((x for x in relevant if x.valid_from <= day <= x.valid_to), relevant[0])
    if licence.status != LicenseStatus.ACTIVE:
        return _since(licence)
    return text("licence {number} of {dealer} is valid {period}, not on {day}", number=licence.number,
                dealer=dealer.legal_name, period=Period(licence.valid_from, licence.valid_to), day=day)


def _consent_problems(session: Session, d: Declaration, day: date) -> list[Text]:
    record = d.import_approval if d.kind == DeclarationKind.IMPORT else (
        d.export_consent if d.kind == DeclarationKind.EXPORT else None)
    if record is None:
        return []
    problems: list[Text] = []
    if record.status != ApprovalStatus.ACTIVE or record.valid_until < day:
        problems.append(text("{number} is {status}, valid until {valid_until}", number=record.number,
                             status=record.status, valid_until=record.valid_until.isoformat()))
    quantity = rule_approval_quantity_remains(Submission(session, d, datetime.now(timezone.utc)))
    return problems + [message if isinstance(message, Text) else text(message) for message in quantity.values()]


def licences_and_consent_problems(session: Session, declaration: Declaration, day: date) -> list[Text]:
    """Say what does not hold on ``day``: each domestic party's licence, the approval or consent."""
    activity = ACTIVITY_OF_KIND[declaration.kind]
    problems = [problem for dealer in domestic_parties(declaration).values()
                if (problem := licence_problem(session, dealer, activity, day)) is not None]
    return problems + _consent_problems(session, declaration, day)
