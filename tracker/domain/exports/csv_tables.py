"""CSV (RFC 4180) of the audit tables, streamed a batch of rows at a time.

Every table has a fixed header; times are ISO 8601 UTC ending in Z (a custody event's own
offset is a separate column written ``UTC+06:00``), masses whole grams, booleans
``true``/``false``, empty cells for nothing, lists joined by ``;``, details as JSON. Text cells that a spreadsheet would
run as a formula (starting with = + - @, tab or carriage return) get a leading apostrophe.
The file starts with a UTF-8 byte order mark so Excel reads Cyrillic names correctly.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from tracker.domain.access import alert_filter, custody_event_filter, declaration_filter, transaction_filter
from tracker.domain.balance import balances, dealer_balance
from tracker.domain.exports import Period, chunked, stream_rows, utc_text
from tracker.domain.reconcile import reconcile
from tracker.domain.sale_state import in_books
from tracker.models import (
    Alert,
    Beacon,
    Checkpoint,
    Container,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    DeviceToken,
    Position,
    Transaction,
    User,
)

MEDIA_TYPE = "text/csv"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str | int:
    """Return ``value`` as a CSV cell: text guarded against formula injection, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(getattr(value, "value", value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield the CSV text of ``header`` and ``rows`` (CRLF line ends, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def lines() -> Iterator[str]:
        writer.writerow(header)
        yield BOM + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([cell(v) for v in row])
            yield buffer.getvalue()

    return chunked(lines())


@dataclass(frozen=True)
class Scope:
    """Whose rows an export holds: what ``user`` may read, in ``period``, of ``dealer_id`` when given."""

    user: User
    period: Period
    dealer_id: int | None = None


def _of_dealer(scope: Scope, *columns: Any) -> ColumnElement[bool]:
    if scope.dealer_id is None:
        return true()
    return or_(*(column == scope.dealer_id for column in columns)) if columns else false()


def _dealer_declarations(scope: Scope) -> Select[Any]:
    return select(Declaration.id).where(_of_dealer(
        scope, Declaration.declarant_id, Declaration.consignor_id, Declaration.consignee_id))


# ---------------------------------------------------------------- declarations
DECLARATION_COLUMNS = (
    "id", "reference", "kind", "status", "declarant_id", "declarant", "consignor_id", "consignor",
    "consignee_id", "consignee", "origin", "destination", "containers", "declared_net_g", "corridor_m",
    "vehicle", "planned_departure", "planned_arrival", "created_at", "submitted_at", "decided_at",
    "departed_at", "arrived_at", "received_at", "closed_at",
)


def declarations_csv(session: Session, scope: Scope) -> Iterator[str]:
    """Yield the declarations ``scope.user`` may read, created in the period, oldest first."""
    declarant, consignor, consignee = aliased(Dealer), aliased(Dealer), aliased(Dealer)
    origin, destination = aliased(Checkpoint), aliased(Checkpoint)
    items = (select(DeclarationItem.declaration_id, func.count().label("containers"),
                    func.sum(DeclarationItem.declared_net_g).label("net_g"))
             .group_by(DeclarationItem.declaration_id).subquery())
    d = Declaration
    query = (select(d.id, d.reference, d.kind, d.status, d.declarant_id, declarant.legal_name, d.consignor_id,
                    consignor.legal_name, d.consignee_id, consignee.legal_name, origin.code, destination.code,
                    func.coalesce(items.c.containers, 0), func.coalesce(items.c.net_g, 0), d.corridor_m, d.vehicle,
                    d.planned_departure, d.planned_arrival, d.created_at, d.submitted_at, d.decided_at,
                    d.departed_at, d.arrived_at, d.received_at, d.closed_at)
             .join(declarant, declarant.id == d.declarant_id).join(consignor, consignor.id == d.consignor_id)
             .join(consignee, consignee.id == d.consignee_id).join(origin, origin.id == d.origin_id)
             .join(destination, destination.id == d.destination_id)
             .outerjoin(items, items.c.declaration_id == d.id)
             .where(declaration_filter(scope.user), d.id.in_(_dealer_declarations(scope)))
             .order_by(d.created_at, d.id))
    return csv_chunks(DECLARATION_COLUMNS, stream_rows(session, scope.period.bound(query, d.created_at)))


# ---------------------------------------------------------------- custody events
CUSTODY_COLUMNS = (
    "id", "client_event_id", "event_time", "event_time_zone", "recorded_at", "kind", "sscc", "registered",
    "declaration_id", "reference", "checkpoint", "from_party_id", "from_party", "to_party_id", "to_party",
    "officer", "station", "device", "seal_intact", "measured_net_g", "lat", "lon", "remarks", "photo_digest",
    "prev_hash", "row_hash",
)


def custody_scope_filter(scope: Scope) -> ColumnElement[bool]:
    """Return the condition on custody events of ``scope``: readable, and the dealer's when one is named."""
    condition = custody_event_filter(scope.user)
    if scope.dealer_id is None:
        return condition
    return and_(condition, or_(CustodyEvent.declaration_id.in_(_dealer_declarations(scope)),
                               _of_dealer(scope, CustodyEvent.from_party_id, CustodyEvent.to_party_id)))


def custody_events_csv(session: Session, scope: Scope) -> Iterator[str]:
    """Yield the custody events of ``scope``, oldest first."""
    giver, taker = aliased(Dealer), aliased(Dealer)
    e = CustodyEvent
    query = (select(e.id, e.client_event_id, e.event_time, "UTC" + e.event_time_zone, e.recorded_at, e.kind,
                    func.coalesce(Container.sscc, e.unregistered_sscc), e.container_id.is_not(None),
                    e.declaration_id, Declaration.reference, Checkpoint.code, e.from_party_id, giver.legal_name,
                    e.to_party_id, taker.legal_name, User.login, DeviceToken.name, e.device, e.seal_intact,
                    e.measured_net_g, e.lat, e.lon, e.remarks, e.photo_digest, e.prev_hash, e.row_hash)
             .join(Checkpoint, Checkpoint.id == e.checkpoint_id)
             .outerjoin(Container, Container.id == e.container_id)
             .outerjoin(Declaration, Declaration.id == e.declaration_id)
             .outerjoin(giver, giver.id == e.from_party_id).outerjoin(taker, taker.id == e.to_party_id)
             .outerjoin(User, User.id == e.officer_id).outerjoin(DeviceToken, DeviceToken.id == e.device_token_id)
             .where(custody_scope_filter(scope))
             .order_by(e.event_time, e.id))
    return csv_chunks(CUSTODY_COLUMNS, stream_rows(session, scope.period.bound(query, e.event_time)))


# ---------------------------------------------------------------- alerts
ALERT_COLUMNS = (
    "id", "declaration_id", "reference", "kind", "severity", "status", "opened_at", "acknowledged_at",
    "closed_at", "lat", "lon", "resolution", "details",
)


def alerts_csv(session: Session, scope: Scope) -> Iterator[str]:
    """Yield the alerts of ``scope`` opened in the period, oldest first."""
    a = Alert
    query = (select(a.id, a.declaration_id, Declaration.reference, a.kind, a.severity, a.status, a.opened_at,
                    a.acknowledged_at, a.closed_at, a.lat, a.lon, a.resolution, a.details)
             .outerjoin(Declaration, Declaration.id == a.declaration_id)
             .where(alert_filter(scope.user))
             .order_by(a.opened_at, a.id))
    if scope.dealer_id is not None:
        query = query.where(a.declaration_id.in_(_dealer_declarations(scope)))
    return csv_chunks(ALERT_COLUMNS, stream_rows(session, scope.period.bound(query, a.opened_at)))


# ---------------------------------------------------------------- transactions
TRANSACTION_COLUMNS = (
    "id", "kind", "transaction_date", "seller_id", "seller", "buyer_id", "buyer", "mass_g", "place",
    "declaration_id", "corrects_id", "remarks", "recorded_at", "prev_hash", "row_hash",
    "needs_confirmation", "in_books",
)


def transactions_csv(session: Session, scope: Scope) -> Iterator[str]:
    """Yield the register entries of ``scope`` dated in the period, oldest first.

    ``in_books`` tells whether the entry counts in the books now (a sale once its buyer confirmed it).
    """
    seller, buyer = aliased(Dealer), aliased(Dealer)
    t = Transaction
    query = (select(t.id, t.kind, t.transaction_date, t.seller_id, seller.legal_name, t.buyer_id, buyer.legal_name,
                    t.mass_g, t.place, t.declaration_id, t.corrects_id, t.remarks, t.recorded_at, t.prev_hash,
                    t.row_hash, t.needs_confirmation, in_books())
             .join(seller, seller.id == t.seller_id).join(buyer, buyer.id == t.buyer_id)
             .where(transaction_filter(scope.user), _of_dealer(scope, t.seller_id, t.buyer_id))
             .order_by(t.transaction_date, t.id))
    return csv_chunks(TRANSACTION_COLUMNS,
                      stream_rows(session, scope.period.bound(query, t.transaction_date, by_day=True)))


# ---------------------------------------------------------------- positions of one declaration
POSITION_COLUMNS = (
    "id", "beacon", "fix_time", "received_at", "lat", "lon", "speed_kmh", "course", "altitude_m", "accuracy_m",
    "hdop", "satellites", "flags", "protocol",
)


def positions_csv(session: Session, declaration: Declaration, period: Period) -> Iterator[str]:
    """Yield every fix of ``declaration`` (already checked readable) in the period, oldest first."""
    p = Position
    query = (select(p.id, Beacon.device_id, p.fix_time, p.received_at, p.lat, p.lon, p.speed_kmh, p.course,
                    p.altitude_m, p.accuracy_m, p.hdop, p.satellites, p.flags, p.protocol)
             .join(Beacon, Beacon.id == p.beacon_id)
             .where(p.declaration_id == declaration.id)
             .order_by(p.fix_time, p.id))
    return csv_chunks(POSITION_COLUMNS, stream_rows(session, period.bound(query, p.fix_time)))


# ---------------------------------------------------------------- reports (computed whole by their modules)
BALANCE_COLUMNS = (
    "dealer_id", "dealer", "from", "to", "opening_g", "production_g", "imports_g", "purchases_g", "sales_g",
    "exports_g", "use_g", "closing_g", "physical_g", "flags",
)
RECONCILIATION_COLUMNS = (
    "kind", "source", "on", "message", "reference", "sscc", "declaration_id", "transaction_id",
    "custody_event_id", "customs_record_id", "declared_g", "observed_g",
)


def balance_csv(session: Session, start: date, end: date, dealer: Dealer | None = None) -> Iterator[str]:
    """Yield the mass balance of ``dealer`` (checked readable), or of every dealer and the national total."""
    found = [dealer_balance(session, dealer, start, end)] if dealer is not None else balances(session, start, end)
    rows = ([b.as_dict()[c] for c in BALANCE_COLUMNS] for b in found)
    return csv_chunks(BALANCE_COLUMNS, rows)


def reconciliation_csv(session: Session, start: date, end: date) -> Iterator[str]:
    """Yield every mismatch between the sources over the period (for users who may read it)."""
    rows = ([m.as_dict()[c] for c in RECONCILIATION_COLUMNS] for m in reconcile(session, start, end))
    return csv_chunks(RECONCILIATION_COLUMNS, rows)


#: The tables exported by period and dealer: name -> generator.
TABLES: dict[str, Callable[[Session, Scope], Iterator[str]]] = {
    "declarations": declarations_csv,
    "custody-events": custody_events_csv,
    "alerts": alerts_csv,
    "transactions": transactions_csv,
}
