"""Report of receipt: what the consignee found on arrival, closing the declaration.

Per container: the received net mass and whether the seal was intact. A difference
beyond the tolerance (default 0.1 % or 50 g, whichever is larger) opens a
``receipt_shortage`` or ``receipt_excess`` alert, a broken seal a ``seal_broken``
alert, each with the figures an officer needs and the consignee's remarks (their first
explanation of the difference, shown on the alert).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.access import may_report_receipt
from tracker.domain.alerts import open_alert
from tracker.domain.declarations import find_declaration
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.lifecycle import S, move, require_move
from tracker.domain.plausibility import mass_problem, moment_problem
from tracker.domain.place_names import named
from tracker.domain.text import text
from tracker.domain.tolerance import DEFAULT_MIN_G, DEFAULT_PERMILLE, mass_discrepancy_g, mass_tolerance_g
from tracker.models import AlertSeverity, ContainerStatus, Declaration, DeclarationItem, Role, User, utcnow

MAX_REMARKS = 4000


@dataclass
class ReceivedContainer:
    """What was found in one container on receipt."""

    sscc: str
    received_net_g: int
    seal_intact: bool


@dataclass
class ReceiptInput:
    """The report of receipt as the consignee files it."""

    containers: list[ReceivedContainer] = field(default_factory=list)
    remarks: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True)
class Tolerance:
    """How far a received mass may differ from the declared one."""

    permille: int = DEFAULT_PERMILLE
    min_g: int = DEFAULT_MIN_G


def receipt_problems(declaration: Declaration, data: ReceiptInput, now: datetime | None = None) -> dict[str, str]:
    """Return what is wrong with a report of receipt of ``declaration``, by field (empty: it can be filed).

    Lets a form show the problems before the consignee confirms the report.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    declared = {item.container.sscc: item.container for item in declaration.items}
    reported = [c.sscc for c in data.containers]
    if sorted(reported) != sorted(declared):
        errors["containers"] = text("report each declared container once: {ssccs}",
                                     ssccs=", ".join(sorted(declared)))
    for i, container in enumerate(data.containers):
        held = declared.get(container.sscc)
        problem = mass_problem(container.received_net_g, minimum=0, sscc=container.sscc,
                               capacity_g=held.capacity_g if held is not None else None)
        if problem is not None:
            errors[f"containers[{i}].received_net_g"] = problem
        if not isinstance(container.seal_intact, bool):
            errors[f"containers[{i}].seal_intact"] = text("true or false")
    if data.received_at is not None:
        problem = moment_problem(data.received_at, now)
        if problem is None and declaration.arrived_at and data.received_at < declaration.arrived_at:
            problem = text("between the arrival and now")
        if problem is not None:
            errors["received_at"] = problem
    if len(data.remarks) > MAX_REMARKS:
        errors["remarks"] = text("at most {limit} characters", limit=MAX_REMARKS)
    return errors


def _alerts(session: Session, declaration: Declaration, item: DeclarationItem, tolerance: Tolerance,
            at: datetime) -> None:
    """Open the alerts one received container calls for."""
    received, declared = item.received_net_g or 0, item.declared_net_g
    difference = mass_discrepancy_g(declared, received, tolerance.permille, tolerance.min_g)
    details = {"sscc": item.container.sscc, "declared_g": declared, "received_g": received,
               "difference_g": received - declared,
               "tolerance_g": mass_tolerance_g(declared, tolerance.permille, tolerance.min_g)}
    if declaration.receipt_remarks:
        details["remarks"] = declaration.receipt_remarks
    if difference is not None:
        kind = AlertKind.RECEIPT_SHORTAGE if difference < 0 else AlertKind.RECEIPT_EXCESS
        open_alert(session, kind=kind, declaration=declaration,
                   details=details, at=at)
    if item.seal_intact is False:
        open_alert(session, kind=AlertKind.SEAL_BROKEN, declaration=declaration,
                   details={**details, "seal_number": item.container.seal_number}, at=at)


def report_receipt(session: Session, actor: User, declaration_id: int, data: ReceiptInput,
                   tolerance: Tolerance = Tolerance(), now: datetime | None = None) -> Declaration:
    """File the report of receipt of an arrived declaration and close it.

    The received containers pass into the consignee's custody with the received mass.
    """
    declaration = find_declaration(session, actor, declaration_id)
    if actor.role == Role.CUSTOMS_OFFICER and not may_report_receipt(actor, declaration):
        raise Forbidden(text("you are not posted at {post}; the receipt is filed there", post=named(declaration.destination)))
    if not may_report_receipt(actor, declaration):
        raise Forbidden(text("only the consignee (or customs) reports the receipt"))
    require_move(declaration, S.CLOSED)
    now = now or utcnow()
    errors = receipt_problems(declaration, data, now)
    if errors:
        raise ValidationFailed(errors)
    found = {c.sscc: c for c in data.containers}
    for item in declaration.items:
        report = found[item.container.sscc]
        item.received_net_g, item.seal_intact = report.received_net_g, report.seal_intact
        _take_into_stock(declaration, item)
    declaration.received_at = data.received_at or now
    declaration.received_by = actor
    declaration.receipt_remarks = data.remarks.strip()
    move(declaration, S.CLOSED)
    declaration.closed_at = now
    for item in declaration.items:
        _alerts(session, declaration, item, tolerance, now)
    session.flush()
    return declaration


def _take_into_stock(declaration: Declaration, item: DeclarationItem) -> None:
    container = item.container
    container.net_g = min(item.received_net_g or 0, container.capacity_g)
    container.status = ContainerStatus.IN_STOCK
    container.custodian_id = declaration.consignee_id  # abroad too: the foreign buyer now holds it
