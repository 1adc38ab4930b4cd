"""Written consents under Minamata Convention Art. 3: import approvals and export consents.

An import approval is the consent this country gives an importer (exporter, exporting
country, quantity, intended use, the statement of source). An export consent is the
importing country's written consent that an exporter here must hold (Art. 3(6)). Each
is recorded by the licensing authority; declarations draw on its quantity, and one whose
quantity is all declared becomes ``exhausted`` (:func:`recount`) until a declaration gives some back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, NotFound, ValidationFailed
from tracker.domain.lapses import approval_lapsed
from tracker.domain.licensing import MAX_NUMBER_LENGTH, require_admin
from tracker.domain.plausibility import mass_problem
from tracker.domain.submission import declared_against
from tracker.domain.text import text
from tracker.models import HOME_COUNTRY, ApprovalStatus, Dealer, Declaration, ExportConsent, ImportApproval, User

Consent = ImportApproval | ExportConsent
#: An approval or consent that has not lapsed by date or been revoked (a used-up one may still expire).
LIVE = (ApprovalStatus.ACTIVE, ApprovalStatus.EXHAUSTED)


@dataclass
class ApprovalInput:
    """A written import consent (Minamata Convention Art. 3)."""

    number: str
    importer_id: int
    exporter_name: str
    exporter_country: str
    quantity_g: int
    intended_use: str
    source_not_primary_mining: bool
    source_statement: str
    valid_until: date


@dataclass
class ExportConsentInput:
    """The importing country's written consent to an export (Art. 3(6))."""

    number: str
    exporter_id: int
    importer_name: str
    importer_country: str
    quantity_g: int
    intended_use: str
    valid_until: date


def _foreign_country(country: str) -> bool:
    return (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()
            and country != HOME_COUNTRY)


def _common_errors(session: Session, model: Any, number: str, dealer_id: int, dealer_field: str,
                   quantity_g: int, intended_use: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    dealer = session.get(Dealer, dealer_id)
    if dealer is None or not dealer.is_domestic:
        errors[dealer_field] = text("no domestic dealer {dealer_id}", dealer_id=dealer_id)
    if not number.strip() or len(number.strip()) > MAX_NUMBER_LENGTH:
        errors["number"] = text("1–{limit} characters", limit=MAX_NUMBER_LENGTH)
    elif session.scalar(select(model.id).where(model.number == number.strip())) is not None:
        errors["number"] = text("{number} already exists", number=number.strip())
    if (problem := mass_problem(quantity_g)) is not None:
        errors["quantity_g"] = problem
    if not intended_use.strip():
        errors["intended_use"] = text("state the intended use")
    return errors


def record_import_approval(session: Session, actor: User, data: ApprovalInput) -> ImportApproval:
    """Record a written import consent; report every missing Art. 3 field at once."""
    require_admin(actor)
    errors = _common_errors(session, ImportApproval, data.number, data.importer_id, "importer_id",
                            data.quantity_g, data.intended_use)
    if not data.exporter_name.strip():
        errors["exporter_name"] = text("name the exporter")
    if not _foreign_country(data.exporter_country):
        errors["exporter_country"] = text("the exporting country as an ISO 3166 alpha-2 code (not KG)")
    if data.source_not_primary_mining is not True:
        errors["source_not_primary_mining"] = text("consent requires the statement that the mercury is not "
                                                   "from primary mining or chlor-alkali surplus")
    if not data.source_statement.strip():
        errors["source_statement"] = text("quote the exporter's statement of source")
    if errors:
        raise ValidationFailed(errors)
    approval = ImportApproval(
        number=data.number.strip(), importer_id=data.importer_id, exporter_name=data.exporter_name.strip(),
        exporter_country=data.exporter_country, quantity_g=data.quantity_g,
        intended_use=data.intended_use.strip(), source_not_primary_mining=True,
        source_statement=data.source_statement.strip(), valid_until=data.valid_until, issued_by=actor,
    )
    session.add(approval)
    session.flush()
    return approval


def record_export_consent(session: Session, actor: User, data: ExportConsentInput) -> ExportConsent:
    """Record the importing country's consent to an export; report every bad field at once."""
    require_admin(actor)
    errors = _common_errors(session, ExportConsent, data.number, data.exporter_id, "exporter_id",
                            data.quantity_g, data.intended_use)
    if not data.importer_name.strip():
        errors["importer_name"] = text("name the importer abroad")
    if not _foreign_country(data.importer_country):
        errors["importer_country"] = text("the importing country as an ISO 3166 alpha-2 code (not KG)")
    if errors:
        raise ValidationFailed(errors)
    consent = ExportConsent(
        number=data.number.strip(), exporter_id=data.exporter_id, importer_name=data.importer_name.strip(),
        importer_country=data.importer_country, quantity_g=data.quantity_g,
        intended_use=data.intended_use.strip(), valid_until=data.valid_until, issued_by=actor,
    )
    session.add(consent)
    session.flush()
    return consent


def revoke_consent(session: Session, actor: User, model: type[ImportApproval] | type[ExportConsent],
                   record_id: int, reason: str) -> Consent:
    """Revoke an import approval or export consent for good, saying why; each open declaration
    drawing on it gets an alert."""
    require_admin(actor)
    if not reason.strip():
        raise ValidationFailed({"reason": text("say why")})
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(text("no approval or consent {record_id}", record_id=record_id))
    if record.status not in LIVE:
        raise Conflict(text("{number} is {status}; it cannot be revoked", number=record.number, status=record.status))
    record.status, record.status_reason = ApprovalStatus.REVOKED, reason.strip()
    approval_lapsed(session, record, reason.strip())
    session.flush()
    return record


def expire_approvals(session: Session, today: date) -> list[Consent]:
    """Mark every active or used-up approval or consent whose last valid day is before ``today``
    as expired; each open declaration drawing on one gets an alert."""
    due: list[Consent] = []
    for model in (ImportApproval, ExportConsent):
        due.extend(session.scalars(select(model).where(
            model.status.in_(LIVE), model.valid_until < today).order_by(model.id)
            .with_for_update(skip_locked=True)))  # a page expiring lazily at once leaves these to this run
    for record in due:
        record.status = ApprovalStatus.EXPIRED
        approval_lapsed(session, record)
    session.flush()
    return due


def _consent_of(declaration: Declaration) -> Consent | None:
    """Return the approval or consent the declaration draws on (None for a domestic or transit one)."""
    return declaration.import_approval or declaration.export_consent


def remaining_g(session: Session, record: Consent) -> int:
    """Return the grams of the approval or consent that no counting declaration has claimed."""
    column = Declaration.import_approval_id if isinstance(record, ImportApproval) else Declaration.export_consent_id
    return record.quantity_g - declared_against(session, column, record.id, None)


def recount(session: Session, declaration: Declaration) -> Consent | None:
    """Bring the status of the declaration's approval or consent up to date with what is declared on it.

    Called when a declaration starts or stops counting (submitted; cancelled or rejected). Used up:
    it becomes ``exhausted`` and the declarations drawing on it get an alert; room again: ``active``.
    """
    record = _consent_of(declaration)
    if record is None:
        return None
    left = remaining_g(session, record)
    if record.status == ApprovalStatus.ACTIVE and left <= 0:
        record.status = ApprovalStatus.EXHAUSTED
        approval_lapsed(session, record)
    elif record.status == ApprovalStatus.EXHAUSTED and left > 0:
        record.status = ApprovalStatus.ACTIVE
    session.flush()
    return record
