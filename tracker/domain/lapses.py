"""When a licence, an import approval or an export consent stops holding, every open declaration hears of it.

A licence suspended, revoked or expired re-checks every open declaration (submitted, approved,
in transit) naming its dealer as declarant, consignor or consignee; an approval or consent that
expires or is used up re-checks the open declarations drawing on it. Each gets one alert per
cause: running the check again (the daily command, a page that looks lazily) adds nothing.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.models import (
    Alert,
    AlertStatus,
    ApprovalStatus,
    CustodyEvent,
    Declaration,
    DeclarationStatus,
    ExpectedCheckpoint,
    ExportConsent,
    ImportApproval,
    License,
    LicenseStatus,
)

#: Declarations a lapse still matters to: their goods have not reached the other side.
OPEN = (DeclarationStatus.SUBMITTED, DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT)
LICENCE_KINDS = {LicenseStatus.SUSPENDED: AlertKind.LICENCE_SUSPENDED,
                 LicenseStatus.REVOKED: AlertKind.LICENCE_REVOKED,
                 LicenseStatus.EXPIRED: AlertKind.LICENCE_EXPIRED}
APPROVAL_KINDS = {ApprovalStatus.EXPIRED: AlertKind.APPROVAL_EXPIRED,
                  ApprovalStatus.EXHAUSTED: AlertKind.APPROVAL_EXHAUSTED,
                  ApprovalStatus.REVOKED: AlertKind.APPROVAL_REVOKED}
#: Every kind of alert a lapse opens (the officer's page lists those on shipments heading its way).
LAPSE_KINDS = frozenset({*LICENCE_KINDS.values(), *APPROVAL_KINDS.values()})
Consent = ImportApproval | ExportConsent


def dealer_declarations(session: Session, dealer_id: int) -> list[Declaration]:
    """Return the open declarations naming the dealer as declarant, consignor or consignee."""
    return list(session.scalars(select(Declaration).where(
        Declaration.status.in_(OPEN),
        or_(Declaration.declarant_id == dealer_id, Declaration.consignor_id == dealer_id,
            Declaration.consignee_id == dealer_id),
    ).order_by(Declaration.id)))


def declarations_using(session: Session, record: Consent) -> list[Declaration]:
    """Return the open declarations drawing on the import approval or export consent."""
    column = (Declaration.import_approval_id if isinstance(record, ImportApproval)
              else Declaration.export_consent_id)
    return list(session.scalars(select(Declaration).where(
        Declaration.status.in_(OPEN), column == record.id).order_by(Declaration.id)))


def _already_alerted(session: Session, declaration: Declaration, kind: AlertKind, subject: str, number: str) -> bool:
    """Tell whether an alert of this kind about this licence/approval is still live on the declaration."""
    live = session.scalars(select(Alert).where(
        Alert.declaration_id == declaration.id, Alert.kind == kind.value, Alert.status != AlertStatus.CLOSED))
    return any(alert.details.get(subject) == number for alert in live)


def alert_once(session: Session, declaration: Declaration, kind: AlertKind, subject: str,
               details: dict[str, Any]) -> Alert | None:
    """Open an alert of ``kind`` on the declaration unless one about the same ``details[subject]`` is live."""
    if _already_alerted(session, declaration, kind, subject, details[subject]):
        return None
    return open_alert(session, kind=kind, declaration=declaration, details=details)


def licence_lapsed(session: Session, licence: License, reason: str) -> list[Alert]:
    """Alert every open declaration of the licence's dealer that the licence no longer holds."""
    kind = LICENCE_KINDS[licence.status]
    last = licence.history[-1] if licence.history else None
    details = {"licence": licence.number, "dealer": licence.dealer.legal_name, "reason": reason,
               "since": last.at.isoformat() if last else None, "by": last.actor_name if last else None}
    found = [alert_once(session, d, kind, "licence", details) for d in dealer_declarations(session, licence.dealer_id)]
    return [alert for alert in found if alert is not None]


def approval_lapsed(session: Session, record: Consent, reason: str = "") -> list[Alert]:
    """Alert every open declaration drawing on the approval or consent that it no longer holds."""
    kind = APPROVAL_KINDS[record.status]
    subject = "approval" if isinstance(record, ImportApproval) else "consent"
    details = {subject: record.number, "valid_until": record.valid_until.isoformat(),
               **({"reason": reason} if reason else {})}
    found = [alert_once(session, d, kind, subject, details) for d in declarations_using(session, record)]
    return [alert for alert in found if alert is not None]


def lapse_due(session: Session, today: date) -> tuple[list[License], list[Consent]]:
    """Expire every licence, approval and consent past its last valid day, alerting what they cover.

    Cheap when nothing is due (two indexed queries), so pages may run it lazily before they read
    a licence; the daily command runs it too.
    """
    from tracker.domain.approvals import expire_approvals  # both import this module
    from tracker.domain.licensing import expire_licences

    return expire_licences(session, today), expire_approvals(session, today)


def places_ahead(declaration: Declaration, passed: set[int]) -> list[int]:
    """Return the ids of the declaration's route places still ahead of its goods.

    Before departure the whole route is ahead; in transit, the places after the furthest one
    where custody was recorded (``passed``), the origin at least.
    """
    places = [place.checkpoint.id for place in declaration.route_places]
    if declaration.status != DeclarationStatus.IN_TRANSIT:
        return places
    furthest = max((i for i, place in enumerate(places) if place in passed), default=0)
    return places[furthest + 1:]


def _passed(session: Session, declaration_ids: set[int]) -> dict[int, set[int]]:
    passed: dict[int, set[int]] = {}
    for declaration_id, checkpoint_id in session.execute(
            select(CustodyEvent.declaration_id, CustodyEvent.checkpoint_id)
            .where(CustodyEvent.declaration_id.in_(declaration_ids))):
        passed.setdefault(declaration_id, set()).add(checkpoint_id)
    return passed


#: What judging "ahead" reads of an alert's declaration: its places (loaded with the alerts, not one by one).
_ROUTE_OF_ALERT = (
    joinedload(Alert.declaration).joinedload(Declaration.origin),
    joinedload(Alert.declaration).joinedload(Declaration.destination),
    joinedload(Alert.declaration).selectinload(Declaration.expected_checkpoints)
    .joinedload(ExpectedCheckpoint.checkpoint),
)


def lapse_alerts_ahead(session: Session, posts: list[int]) -> list[Alert]:
    """Return the live lapse alerts (licence, approval, consent) of open declarations whose goods
    have one of ``posts`` still ahead on their route: what an officer there must know before they come."""
    on_route = or_(Declaration.origin_id.in_(posts), Declaration.destination_id.in_(posts),
                   Declaration.id.in_(select(ExpectedCheckpoint.declaration_id)
                                      .where(ExpectedCheckpoint.checkpoint_id.in_(posts))))
    found = list(session.scalars(
        select(Alert).join(Declaration, Alert.declaration_id == Declaration.id)
        .where(Alert.kind.in_([kind.value for kind in LAPSE_KINDS]), Alert.status != AlertStatus.CLOSED,
               Declaration.status.in_(OPEN), on_route)
        .order_by(Alert.opened_at.desc(), Alert.id.desc()).options(*_ROUTE_OF_ALERT)))
    passed = _passed(session, {alert.declaration_id for alert in found if alert.declaration_id is not None})
    return [alert for alert in found if alert.declaration is not None
            and set(places_ahead(alert.declaration, passed.get(alert.declaration.id, set()))) & set(posts)]
