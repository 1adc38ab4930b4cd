"""Reconciliation: what was declared, what checkpoints saw, who owns it, and what customs recorded.

Each mismatch over a period is listed with its kind:

- ``declared_but_never_scanned`` — a container of an approved (or later) declaration that
  should have left by now has no custody event; or an import/export that crossed is absent
  from the customs dataset (checked only when customs records exist for the period);
- ``border_crossing_without_declaration`` — a custody event at a border crossing, or a customs
  record, with no import, export or transit declaration behind it (or the wrong direction);
- ``mass_difference`` — a weighed, received, customs-recorded or sold mass off the declared
  one beyond the tolerance (0.1 % or 50 g, whichever is larger);
- ``transaction_without_movement`` — a sale whose declaration never moved, or (without a
  declaration) with no moved domestic declaration from seller to buyer within 30 days;
- ``movement_without_transaction`` — a domestic declaration that moved mercury to another
  dealer with no sale between them referring to it or within 30 days;
- ``disputed_sale`` — a sale or correction its buyer disputes (and has not confirmed since).

Only entries that count in the books are compared (confirmed by the buyer, see
``tracker.domain.sale_answers``); reversed entries do not count as sales; corrections do.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain.sale_state import dispute_of, disputed_sales, in_books
from tracker.domain.text import text
from tracker.domain.tolerance import mass_discrepancy_g
from tracker.models import (
    Checkpoint,
    CheckpointKind,
    Container,
    CrossingDirection,
    CustodyEvent,
    CustomsRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    Transaction,
    TransactionKind,
)

DECLARED_NOT_SCANNED = "declared_but_never_scanned"
BORDER_WITHOUT_DECLARATION = "border_crossing_without_declaration"
MASS_DIFFERENCE = "mass_difference"
TRANSACTION_WITHOUT_MOVEMENT = "transaction_without_movement"
MOVEMENT_WITHOUT_TRANSACTION = "movement_without_transaction"
DISPUTED_SALE = "disputed_sale"
KINDS = (DECLARED_NOT_SCANNED, BORDER_WITHOUT_DECLARATION, MASS_DIFFERENCE,
         TRANSACTION_WITHOUT_MOVEMENT, MOVEMENT_WITHOUT_TRANSACTION, DISPUTED_SALE)

S = DeclarationStatus
APPROVED_OR_LATER = (S.APPROVED, S.IN_TRANSIT, S.ARRIVED, S.CLOSED)
MOVED = (S.IN_TRANSIT, S.ARRIVED, S.CLOSED)
CROSSED = (S.ARRIVED, S.CLOSED)
CROSS_BORDER = (DeclarationKind.IMPORT, DeclarationKind.EXPORT, DeclarationKind.TRANSIT)
DIRECTION_OF = {DeclarationKind.IMPORT: CrossingDirection.IMPORT, DeclarationKind.EXPORT: CrossingDirection.EXPORT}
#: How far apart a sale and a movement between the same dealers may be and still match.
MATCH_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the sources."""

    kind: str
    source: str
    on: date
    message: str
    reference: str | None = None
    sscc: str | None = None
    declaration_id: int | None = None
    transaction_id: int | None = None
    custody_event_id: int | None = None
    customs_record_id: int | None = None
    declared_g: int | None = None
    observed_g: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the mismatch as plain values (dates as ISO text)."""
        return {**asdict(self), "on": self.on.isoformat()}


def _day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


class _Sources:
    """The records of the period, loaded once."""

    def __init__(self, session: Session, start: date, end: date, now: datetime) -> None:
        self.start, self.end, self.now = start, end, now
        self.declarations = list(session.scalars(
            select(Declaration).where(Declaration.status.in_(APPROVED_OR_LATER))
            .options(selectinload(Declaration.items))))
        self.by_reference = {d.reference: d for d in self.declarations if d.reference}
        self.containers = {c.id: c.sscc for c in session.scalars(select(Container))}
        self.checkpoints = {c.id: c for c in session.scalars(select(Checkpoint))}
        self.events = list(session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)))
        self.customs = list(session.scalars(select(CustomsRecord).where(
            CustomsRecord.crossing_date.between(start, end)).order_by(CustomsRecord.id)))
        entries = list(session.scalars(select(Transaction).where(in_books()).order_by(Transaction.id)))
        reversed_ids = {t.corrects_id for t in entries if t.kind == TransactionKind.REVERSAL}
        self.sales = [t for t in entries if t.kind != TransactionKind.REVERSAL and t.id not in reversed_ids]
        self.disputes = [(t, dispute_of(session, t)) for t in disputed_sales(session)
                         if start <= t.transaction_date <= end]

    def sscc_of(self, event: CustodyEvent) -> str:
        return self.containers.get(event.container_id or 0) or str(event.unregistered_sscc)

    def in_period(self, on: date) -> bool:
        return self.start <= on <= self.end

    def declared_on(self, declaration: Declaration) -> date | None:
        moment = declaration.departed_at or declaration.planned_departure
        return _day(moment) if moment else None

    def declaration_of_sscc(self, sscc: str) -> tuple[Declaration, int] | None:
        """Return the newest cross-border declaration carrying the SSCC, with its declared mass."""
        for declaration in reversed(self.declarations):
            if declaration.kind not in CROSS_BORDER:
                continue
            for item in declaration.items:
                if self.containers.get(item.container_id) == sscc:
                    return declaration, item.declared_net_g
        return None


def _never_scanned(src: _Sources) -> Iterator[Mismatch]:
    scanned = {(e.declaration_id, e.container_id) for e in src.events}
    for declaration in src.declarations:
        on = src.declared_on(declaration)
        due = declaration.status != S.APPROVED or (declaration.planned_departure or src.now) < src.now
        if on is None or not src.in_period(on) or not due:
            continue
        for item in declaration.items:
            if (declaration.id, item.container_id) not in scanned:
                sscc = src.containers[item.container_id]
                message = text("{sscc} on {declaration} was never scanned at a checkpoint",
                               sscc=sscc, declaration=declaration.label)
                yield Mismatch(DECLARED_NOT_SCANNED, "custody", on, message, declaration.reference, sscc,
                               declaration.id, declared_g=item.declared_net_g)


def _missing_from_customs(src: _Sources) -> Iterator[Mismatch]:
    if not src.customs:
        return  # no customs dataset for the period: nothing to compare with
    seen_refs = {r.reference for r in src.customs if r.reference}
    seen_ssccs = {r.sscc for r in src.customs if r.sscc}
    for declaration in src.declarations:
        if declaration.kind not in DIRECTION_OF or declaration.status not in CROSSED or not declaration.arrived_at:
            continue
        on = _day(declaration.arrived_at)
        ssccs = {src.containers[i.container_id] for i in declaration.items}
        if src.in_period(on) and declaration.reference not in seen_refs and not ssccs & seen_ssccs:
            message = text("{declaration} crossed the border but is absent from the customs dataset",
                           declaration=declaration.label)
            yield Mismatch(DECLARED_NOT_SCANNED, "customs", on, message, declaration.reference,
                           declaration_id=declaration.id, declared_g=declaration.declared_net_g)


def _border_events(src: _Sources) -> Iterator[Mismatch]:
    declarations = {d.id: d for d in src.declarations}
    for event in src.events:
        checkpoint = src.checkpoints[event.checkpoint_id]
        on = _day(event.event_time)
        if checkpoint.kind != CheckpointKind.BORDER_CROSSING or not src.in_period(on):
            continue
        declaration = declarations.get(event.declaration_id or 0)
        if declaration is None or declaration.kind not in CROSS_BORDER:
            sscc = src.sscc_of(event)
            message = text("{sscc} was scanned at the border crossing {code} "
                           "without an import, export or transit declaration", sscc=sscc, code=checkpoint.code)
            yield Mismatch(BORDER_WITHOUT_DECLARATION, "custody", on, message,
                           declaration.reference if declaration else None, sscc,
                           declaration.id if declaration else None, custody_event_id=event.id)


def _match_customs(src: _Sources, record: CustomsRecord) -> tuple[Declaration, int] | None:
    declaration = src.by_reference.get(record.reference or "")
    if declaration is not None:
        return declaration, declaration.declared_net_g
    return src.declaration_of_sscc(record.sscc) if record.sscc else None


def _customs_records(src: _Sources) -> Iterator[Mismatch]:
    for record in src.customs:
        found = _match_customs(src, record)
        label = record.reference or record.sscc
        common = {"reference": record.reference, "sscc": record.sscc, "customs_record_id": record.id}
        if found is None or found[0].kind not in CROSS_BORDER:
            yield Mismatch(BORDER_WITHOUT_DECLARATION, "customs", record.crossing_date,
                           text("customs recorded {label} crossing ({direction}) with no import, "
                                "export or transit declaration", label=label, direction=record.direction),
                           observed_g=record.mass_g, **common)
            continue
        declaration, declared = found
        expected = DIRECTION_OF.get(declaration.kind)
        if expected is not None and expected != record.direction:
            yield Mismatch(BORDER_WITHOUT_DECLARATION, "customs", record.crossing_date,
                           text("customs recorded {label} as {direction}, but {declaration} declares an {kind}",
                                label=label, direction=record.direction, declaration=declaration.label,
                                kind=declaration.kind), declaration_id=declaration.id,
                           **{**common, "reference": declaration.reference})
        if mass_discrepancy_g(declared, record.mass_g) is not None:
            yield Mismatch(MASS_DIFFERENCE, "customs", record.crossing_date,
                           text("customs recorded {observed} g for {label}; {declaration} declares {declared} g",
                                observed=record.mass_g, label=label, declaration=declaration.label,
                                declared=declared), declaration_id=declaration.id,
                           declared_g=declared, observed_g=record.mass_g,
                           **{**common, "reference": declaration.reference})


def _declared_mass(declaration: Declaration, container_id: int) -> int | None:
    return next((i.declared_net_g for i in declaration.items if i.container_id == container_id), None)


def _weighed_masses(src: _Sources) -> Iterator[Mismatch]:
    declarations = {d.id: d for d in src.declarations}
    for event in src.events:
        declaration = declarations.get(event.declaration_id or 0)
        on = _day(event.event_time)
        if declaration is None or event.measured_net_g is None or not src.in_period(on):
            continue
        declared = _declared_mass(declaration, event.container_id)
        if declared is not None and mass_discrepancy_g(declared, event.measured_net_g) is not None:
            sscc = src.sscc_of(event)
            message = text("{sscc} weighed {observed} g at {code}; declared {declared} g", sscc=sscc,
                           observed=event.measured_net_g, code=src.checkpoints[event.checkpoint_id].code,
                           declared=declared)
            yield Mismatch(MASS_DIFFERENCE, "custody", on, message,
                           declaration.reference, sscc, declaration.id, custody_event_id=event.id,
                           declared_g=declared, observed_g=event.measured_net_g)


def _received_masses(src: _Sources) -> Iterator[Mismatch]:
    for declaration in src.declarations:
        if declaration.status != S.CLOSED or declaration.closed_at is None or not src.in_period(
                _day(declaration.closed_at)):
            continue
        for item in declaration.items:
            if item.received_net_g is not None and mass_discrepancy_g(item.declared_net_g,
                                                                      item.received_net_g) is not None:
                sscc = src.containers[item.container_id]
                yield Mismatch(MASS_DIFFERENCE, "receipt", _day(declaration.closed_at),
                               text("{sscc} received {observed} g; declared {declared} g",
                                    sscc=sscc, observed=item.received_net_g, declared=item.declared_net_g),
                               declaration.reference, sscc, declaration.id,
                               declared_g=item.declared_net_g, observed_g=item.received_net_g)


def _moved_between(src: _Sources, seller: int, buyer: int, around: date) -> bool:
    return any(d.kind == DeclarationKind.DOMESTIC and d.status in MOVED and d.consignor_id == seller
               and d.consignee_id == buyer and d.departed_at is not None
               and abs(_day(d.departed_at) - around) <= MATCH_WINDOW for d in src.declarations)


def _sales(src: _Sources) -> Iterator[Mismatch]:
    declarations = {d.id: d for d in src.declarations}
    for sale in src.sales:
        if not src.in_period(sale.transaction_date):
            continue
        declaration = declarations.get(sale.declaration_id or 0)
        common = {"transaction_id": sale.id, "declared_g": None, "observed_g": sale.mass_g}
        if sale.declaration_id is not None:
            if declaration is None or declaration.status not in MOVED:
                yield Mismatch(TRANSACTION_WITHOUT_MOVEMENT, "register", sale.transaction_date,
                               text("sale #{sale} refers to a declaration that never moved", sale=sale.id),
                               declaration.reference if declaration else None,
                               declaration_id=sale.declaration_id, **common)
            elif mass_discrepancy_g(declaration.declared_net_g, sale.mass_g) is not None:
                yield Mismatch(MASS_DIFFERENCE, "register", sale.transaction_date,
                               text("sale #{sale} of {observed} g; {declaration} declares {declared} g",
                                    sale=sale.id, observed=sale.mass_g, declaration=declaration.label,
                                    declared=declaration.declared_net_g), declaration.reference,
                               declaration_id=declaration.id, **{**common, "declared_g": declaration.declared_net_g})
        elif not _moved_between(src, sale.seller_id, sale.buyer_id, sale.transaction_date):
            yield Mismatch(TRANSACTION_WITHOUT_MOVEMENT, "register", sale.transaction_date,
                           text("sale #{sale} of {observed} g has no declared movement from seller to buyer "
                                "within 30 days", sale=sale.id, observed=sale.mass_g), **common)


def _movements(src: _Sources) -> Iterator[Mismatch]:
    for declaration in src.declarations:
        if (declaration.kind != DeclarationKind.DOMESTIC or declaration.status not in MOVED
                or declaration.departed_at is None or declaration.consignor_id == declaration.consignee_id):
            continue
        on = _day(declaration.departed_at)
        if not src.in_period(on):
            continue
        matched = any(s.declaration_id == declaration.id or (
            s.declaration_id is None and s.seller_id == declaration.consignor_id
            and s.buyer_id == declaration.consignee_id and abs(s.transaction_date - on) <= MATCH_WINDOW)
            for s in src.sales)
        if not matched:
            message = text("{declaration} moved {declared} g to another dealer with no sale between them",
                           declaration=declaration.label, declared=declaration.declared_net_g)
            yield Mismatch(MOVEMENT_WITHOUT_TRANSACTION, "declarations", on, message, declaration.reference,
                           declaration_id=declaration.id, declared_g=declaration.declared_net_g)


def _disputes(src: _Sources) -> Iterator[Mismatch]:
    for sale, dispute in src.disputes:
        reason = dispute.reason if dispute is not None else ""
        yield Mismatch(DISPUTED_SALE, "register", sale.transaction_date,
                       text("sale #{sale} of {observed} g is disputed by the buyer: {reason}",
                            sale=sale.id, observed=sale.mass_g, reason=reason),
                       transaction_id=sale.id, observed_g=sale.mass_g)


def reconcile(session: Session, start: date, end: date, now: datetime | None = None) -> list[Mismatch]:
    """Compare every source over ``start``..``end`` (inclusive) and list the mismatches by date."""
    if end < start:
        raise ValueError("the period ends before it starts")
    src = _Sources(session, start, end, now or datetime.now(timezone.utc))
    found = [*_never_scanned(src), *_missing_from_customs(src), *_border_events(src), *_customs_records(src),
             *_weighed_masses(src), *_received_masses(src), *_sales(src), *_movements(src), *_disputes(src)]
    return sorted(found, key=lambda m: (m.on, KINDS.index(m.kind), m.message))
