"""The rules a declaration must meet to be submitted, one small function per rule.

Each rule takes a :class:`Submission` and returns the failing fields with a message
(empty when the rule holds). :func:`check_submission` runs them all, so the trader
sees every problem at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.exports import Period
from tracker.domain.route_files import distance_m, locate_on_route
from tracker.domain.text import joined, text
from tracker.models import (
    Activity,
    ApprovalStatus,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExportConsent,
    ImportApproval,
    License,
    LicenseStatus,
)

ENDPOINT_TOLERANCE_M = 2_000
MAX_WINDOW = timedelta(days=92)
#: Declarations whose mass no longer counts against approvals and quotas.
NOT_COUNTED = (DeclarationStatus.DRAFT, DeclarationStatus.CANCELLED, DeclarationStatus.REJECTED)
#: Declarations that hold their containers (a draft reserves nothing yet).
HOLDING = (DeclarationStatus.SUBMITTED, DeclarationStatus.APPROVED, DeclarationStatus.IN_TRANSIT,
           DeclarationStatus.ARRIVED)
ACTIVITY_OF_KIND = {
    DeclarationKind.DOMESTIC: Activity.DOMESTIC_TRADE,
    DeclarationKind.IMPORT: Activity.IMPORT,
    DeclarationKind.EXPORT: Activity.EXPORT,
    DeclarationKind.TRANSIT: Activity.TRANSIT,
}
Errors = dict[str, str]


@dataclass
class Submission:
    """A declaration being checked, with the session and the moment of the check."""

    session: Session
    declaration: Declaration
    now: datetime

    @property
    def window(self) -> tuple[date, date] | None:
        """Return the planned window as UTC days, or None when it is incomplete."""
        d = self.declaration
        if d.planned_departure is None or d.planned_arrival is None:
            return None
        return d.planned_departure.astimezone(timezone.utc).date(), d.planned_arrival.astimezone(timezone.utc).date()


def covering_licence(session: Session, dealer: Dealer, activity: Activity,
                     first: date, last: date) -> License | None:
    """Return an active licence of ``dealer`` covering ``activity`` on every day first..last."""
    for licence in session.scalars(select(License).where(
            License.dealer_id == dealer.id, License.status == LicenseStatus.ACTIVE)):
        if licence.covers(activity, first) and licence.covers(activity, last):
            return licence
    return None


def domestic_parties(declaration: Declaration) -> dict[str, Dealer]:
    """Return the domestic parties by role; the declarant only when it is neither consignor nor consignee."""
    parties = {"consignor": declaration.consignor, "consignee": declaration.consignee}
    if declaration.declarant_id not in (declaration.consignor_id, declaration.consignee_id):
        parties["declarant"] = declaration.declarant
    return {name: dealer for name, dealer in parties.items() if dealer.is_domestic}


def rule_parties_licensed(sub: Submission) -> Errors:
    """Every domestic party holds an active licence for the activity over the whole window."""
    if sub.window is None:
        return {}
    activity = ACTIVITY_OF_KIND[sub.declaration.kind]
    first, last = sub.window
    errors: Errors = {}
    for role, dealer in domestic_parties(sub.declaration).items():
        if covering_licence(sub.session, dealer, activity, first, last) is None:
            errors[role] = text("{dealer} holds no active licence for {activity} covering {period}",
                                dealer=dealer.legal_name, activity=activity, period=Period(first, last))
    return errors


def rule_parties_domestic_or_foreign(sub: Submission) -> Errors:
    """An import comes from a foreign consignor, an export goes to a foreign consignee."""
    d = sub.declaration
    foreign_consignor = d.kind in (DeclarationKind.IMPORT, DeclarationKind.TRANSIT)
    foreign_consignee = d.kind in (DeclarationKind.EXPORT, DeclarationKind.TRANSIT)
    errors: Errors = {}
    if d.consignor.is_domestic == foreign_consignor:
        errors["consignor"] = (
            text("the consignor of a {kind} declaration must be a foreign party", kind=d.kind) if foreign_consignor
            else text("the consignor of a {kind} declaration must be a domestic dealer", kind=d.kind))
    if d.consignee.is_domestic == foreign_consignee:
        errors["consignee"] = (
            text("the consignee of a {kind} declaration must be a foreign party", kind=d.kind) if foreign_consignee
            else text("the consignee of a {kind} declaration must be a domestic dealer", kind=d.kind))
    return errors


def _same_party(name_a: str, name_b: str) -> bool:
    return " ".join(name_a.casefold().split()) == " ".join(name_b.casefold().split())


def _lapsed(what: str, record: ImportApproval | ExportConsent, sub: Submission) -> str | None:
    """Say why an approval or consent cannot cover the planned window, or None when it can."""
    if record.status != ApprovalStatus.ACTIVE or (sub.window and record.valid_until < sub.window[1]):
        return text("{what} {number} is {status} or ends ({valid_until}) before the planned arrival",
                    what=what, number=record.number, status=record.status, valid_until=record.valid_until)
    return None


def rule_import_matches_approval(sub: Submission) -> Errors:
    """An import names a valid approval of its importer, and its consignor is the approved exporter."""
    d = sub.declaration
    if d.kind != DeclarationKind.IMPORT:
        return {}
    approval = d.import_approval
    if approval is None:
        return {"import_approval_id": text("an import needs an import approval (Minamata Art. 3 consent)")}
    if approval.importer_id != d.consignee_id:
        return {"import_approval_id": text("approval {number} was given to another importer",
                                          number=approval.number)}
    if (lapsed := _lapsed(text("approval"), approval, sub)) is not None:
        return {"import_approval_id": lapsed}
    if not (_same_party(approval.exporter_name, d.consignor.legal_name)
            and approval.exporter_country == d.consignor.country):
        return {"consignor": text("the approval names the exporter {name} ({country}), "
                                  "not {party} ({party_country})",
                                  name=approval.exporter_name, country=approval.exporter_country,
                                  party=d.consignor.legal_name, party_country=d.consignor.country)}
    return {}


def rule_export_matches_consent(sub: Submission) -> Errors:
    """An export names a valid consent of the importing country, given for this exporter and consignee."""
    d = sub.declaration
    if d.kind != DeclarationKind.EXPORT:
        return {}
    consent = d.export_consent
    if consent is None:
        return {"export_consent_id": text("an export needs the importing country's written consent "
                                         "(Minamata Art. 3(6))")}
    if consent.exporter_id != d.consignor_id:
        return {"export_consent_id": text("consent {number} was given for another exporter",
                                         number=consent.number)}
    if (lapsed := _lapsed(text("consent"), consent, sub)) is not None:
        return {"export_consent_id": lapsed}
    if not (_same_party(consent.importer_name, d.consignee.legal_name)
            and consent.importer_country == d.consignee.country):
        return {"consignee": text("the consent names the importer {name} ({country}), "
                                  "not {party} ({party_country})",
                                  name=consent.importer_name, country=consent.importer_country,
                                  party=d.consignee.legal_name, party_country=d.consignee.country)}
    return {}


def declared_against(session: Session, column: Any, record_id: int, excluding: int | None) -> int:
    """Return the mass declared against an approval or consent (``column`` is the declaration's
    foreign key to it) by declarations that still count."""
    query = (select(func.coalesce(func.sum(DeclarationItem.declared_net_g), 0))
             .join(Declaration, DeclarationItem.declaration_id == Declaration.id)
             .where(column == record_id, Declaration.status.not_in(NOT_COUNTED)))
    if excluding is not None:
        query = query.where(Declaration.id != excluding)
    return int(session.scalar(query) or 0)


def rule_approval_quantity_remains(sub: Submission) -> Errors:
    """The import approval or export consent has enough quantity left for this declaration."""
    d = sub.declaration
    if d.kind == DeclarationKind.IMPORT and d.import_approval is not None:
        record, column, field = d.import_approval, Declaration.import_approval_id, "import_approval_id"
    elif d.kind == DeclarationKind.EXPORT and d.export_consent is not None:
        record, column, field = d.export_consent, Declaration.export_consent_id, "export_consent_id"
    else:
        return {}
    remaining = record.quantity_g - declared_against(sub.session, column, record.id, d.id)
    if d.declared_net_g > remaining:
        return {field: text("{number} has {remaining} g left; this declaration needs {needed} g",
                            number=record.number, remaining=remaining, needed=d.declared_net_g)}
    return {}


def declared_in_year(session: Session, dealer_id: int, year: int, excluding: int | None) -> int:
    """Return the mass a dealer has declared (still counting) with departures in ``year``."""
    # A UTC range rather than EXTRACT(year): PostgreSQL would extract in the session's time zone.
    start, end = datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    query = (select(func.coalesce(func.sum(DeclarationItem.declared_net_g), 0))
             .join(Declaration, DeclarationItem.declaration_id == Declaration.id)
             .where(Declaration.declarant_id == dealer_id, Declaration.status.not_in(NOT_COUNTED),
                    Declaration.planned_departure >= start, Declaration.planned_departure < end))
    if excluding is not None:
        query = query.where(Declaration.id != excluding)
    return int(session.scalar(query) or 0)


def rule_annual_quota(sub: Submission) -> Errors:
    """The declarant's declarations of the year stay within its licence's annual quota."""
    d = sub.declaration
    if sub.window is None:
        return {}
    first, last = sub.window
    licence = covering_licence(sub.session, d.declarant, ACTIVITY_OF_KIND[d.kind], first, last)
    if licence is None:
        return {}  # reported by rule_parties_licensed
    year = first.year
    total = declared_in_year(sub.session, d.declarant_id, year, d.id) + d.declared_net_g
    if total > licence.annual_quota_g:
        return {"items": text("{total} g declared for {year} exceeds the annual quota of {quota} g "
                              "of licence {licence}",
                              total=total, year=year, quota=licence.annual_quota_g, licence=licence.number)}
    return {}


def _held_elsewhere(session: Session, container_id: int, declaration_id: int) -> Declaration | None:
    return session.scalars(select(Declaration).join(DeclarationItem).where(
        DeclarationItem.container_id == container_id, Declaration.id != declaration_id,
        Declaration.status.in_(HOLDING))).first()


def rule_containers(sub: Submission) -> Errors:
    """Every container is held by the consignor, on no other open declaration, mass within capacity."""
    d = sub.declaration
    if not d.items:
        return {"items": text("declare at least one container")}
    # A foreign consignor (import, transit) registers nothing here: the declarant holds the containers.
    holder = d.consignor if d.consignor.is_domestic else d.declarant
    errors: Errors = {}
    for i, item in enumerate(d.items):
        container = item.container
        if container.custodian_id != holder.id:
            errors[f"items[{i}].sscc"] = text("container {sscc} is not held by {holder}",
                                                  sscc=container.sscc, holder=holder.legal_name)
        elif (other := _held_elsewhere(sub.session, container.id, d.id)) is not None:
            errors[f"items[{i}].sscc"] = text("container {sscc} is on declaration {declaration}",
                                                  sscc=container.sscc, declaration=other.label)
        if not 0 < item.declared_net_g <= container.capacity_g:
            errors[f"items[{i}].declared_net_g"] = (
                text("{declared} g is not within 1–{capacity} g (the capacity of {sscc})",
                     declared=item.declared_net_g, capacity=container.capacity_g, sscc=container.sscc))
    return errors


def rule_route(sub: Submission) -> Errors:
    """The route starts near the origin, ends near the destination, and passes every expected checkpoint
    within the corridor, in the order listed."""
    d = sub.declaration
    if d.route is None:
        return {"route": text("give the planned route (GPX file or waypoints)")}
    (lon0, lat0), (lon1, lat1) = d.route.coords[0][:2], d.route.coords[-1][:2]
    errors: Errors = {}
    if (gap := distance_m(lat0, lon0, d.origin.lat, d.origin.lon)) > ENDPOINT_TOLERANCE_M:
        errors["route.start"] = text("starts {km:.1f} km from the origin {code} (limit 2 km)",
                                       km=gap / 1000, code=d.origin.code)
    if (gap := distance_m(lat1, lon1, d.destination.lat, d.destination.lon)) > ENDPOINT_TOLERANCE_M:
        errors["route.end"] = text("ends {km:.1f} km from the destination {code} (limit 2 km)",
                                     km=gap / 1000, code=d.destination.code)
    previous: tuple[str, float] | None = None
    for i, expected in enumerate(d.expected_checkpoints):
        checkpoint = expected.checkpoint
        gap, along = locate_on_route(checkpoint.lat, checkpoint.lon, d.route)
        if gap > d.corridor_m:
            errors[f"expected_checkpoints[{i}]"] = text(
                "{code} is {gap:.0f} m from the route, outside the {corridor} m corridor",
                code=checkpoint.code, gap=gap, corridor=d.corridor_m)
            continue
        if previous is not None and along < previous[1]:
            errors[f"expected_checkpoints[{i}]"] = text(
                "the route passes {code} before {previous}; "
                "list the checkpoints in the order the route passes them",
                code=checkpoint.code, previous=previous[0])
        previous = (checkpoint.code, along)
    return errors


def rule_window(sub: Submission) -> Errors:
    """The planned window starts in the future and lasts at most 92 days."""
    d = sub.declaration
    errors: Errors = {}
    if d.planned_departure is None:
        errors["planned_departure"] = text("required")
    elif d.planned_departure <= sub.now:
        errors["planned_departure"] = text("must be in the future")
    if d.planned_arrival is None:
        errors["planned_arrival"] = text("required")
    elif d.planned_departure is not None:
        if d.planned_arrival <= d.planned_departure:
            errors["planned_arrival"] = text("must be after the planned departure")
        elif d.planned_arrival - d.planned_departure > MAX_WINDOW:
            errors["planned_arrival"] = text("the window lasts at most 92 days")
    return errors


RULES: tuple[Callable[[Submission], Errors], ...] = (
    rule_window,
    rule_parties_domestic_or_foreign,
    rule_parties_licensed,
    rule_import_matches_approval,
    rule_export_matches_consent,
    rule_approval_quantity_remains,
    rule_annual_quota,
    rule_containers,
    rule_route,
)


@dataclass(frozen=True)
class Failure:
    """One rule's refusal of one field: which rule (its function's name), which field, why."""

    rule: str
    field: str
    message: str


def failures(session: Session, declaration: Declaration, now: datetime,
             rules: tuple[Callable[[Submission], Errors], ...] = RULES) -> list[Failure]:
    """Run every rule and return each refusal with the rule that made it (the review places them by rule)."""
    sub = Submission(session, declaration, now)
    return [Failure(rule.__name__, name, message) for rule in rules for name, message in rule(sub).items()]


def check_submission(session: Session, declaration: Declaration, now: datetime,
                     rules: tuple[Callable[[Submission], Errors], ...] = RULES) -> Errors:
    """Run every rule and return all failing fields (a field failing twice keeps both messages)."""
    errors: Errors = {}
    for failure in failures(session, declaration, now, rules):
        name, message = failure.field, failure.message
        errors[name] = joined([errors[name], message]) if name in errors else message
    return errors
