"""Seals: evidence kept outside the chains, brought under them by a chained digest.

Positions, declaration items once submitted, alert history and customs records live in
ordinary tables (positions are re-flagged, items get received masses). A seal is a row
of the ``evidence_seals`` chain naming a group of rows (its subject: a declaration, an
alert, an import, a declaration and hour) and the SHA-256 of their evidential fields.
The newest seal of a subject covers all of it, so evidence arriving late is sealed by a
later seal of the same subject. verify-chain recomputes every newest seal's digest: an
edited, deleted or inserted row shows up as the subject whose digest no longer matches.

Alert history is sealed without any call from the alert code: every session that adds an
alert step, on any path (the portal, the gateway's evaluation), seals that alert's history
when it commits.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from tracker.domain.chain import append_to_chain, canonical_value
from tracker.models import Alert, AlertEvent, CustomsRecord, Declaration, DeclarationItem, EvidenceSeal, Position


@dataclass(frozen=True)
class Coverage:
    """One kind of sealed evidence: its model, the column naming rows in a seal, the fields hashed."""

    kind: str
    model: type
    key: str
    fields: tuple[str, ...]


#: Flags are left out: the gateway re-flags a stored fix when a late neighbour arrives, and
#: they follow from the fields that are kept (raw message, place, time).
POSITIONS = Coverage("positions", Position, "id", (
    "id", "beacon_id", "declaration_id", "fix_time", "received_at", "lat", "lon", "speed_kmh", "course",
    "altitude_m", "accuracy_m", "hdop", "satellites", "protocol", "raw"))
#: Declared contents; received masses come later, with the report of receipt.
DECLARATION_ITEMS = Coverage("declaration_items", DeclarationItem, "container_id",
                             ("declaration_id", "container_id", "declared_net_g"))
ALERT_HISTORY = Coverage("alert_history", AlertEvent, "id",
                         ("id", "alert_id", "action", "at", "actor_id", "actor_name", "note"))
CUSTOMS_RECORDS = Coverage("customs_records", CustomsRecord, "id", (
    "id", "crossing_date", "reference", "sscc", "direction", "mass_g", "checkpoint_code", "source_name",
    "line_number", "row_key", "imported_by_id", "imported_at"))
COVERAGES = (POSITIONS, DECLARATION_ITEMS, ALERT_HISTORY, CUSTOMS_RECORDS)
#: ``session.info`` key of the alerts whose history is sealed when the transaction commits.
ALERTS_TO_SEAL = "tracker.alerts_to_seal"


def id_ranges(keys: Iterable[int]) -> str:
    """Return sorted whole numbers as compact ranges: 1,2,3,7 → "1-3,7"."""
    parts: list[str] = []
    run: list[int] = []
    for key in sorted(set(keys)):
        if run and key == run[-1] + 1:
            run.append(key)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [key]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def parse_ranges(ranges: str) -> list[int]:
    """Return the whole numbers ``id_ranges`` wrote."""
    keys: list[int] = []
    for part in filter(None, ranges.split(",")):
        first, _, last = part.partition("-")
        keys.extend(range(int(first), int(last or first) + 1))
    return keys


def _value(value: Any) -> Any:
    return value.hex() if isinstance(value, (bytes, bytearray, memoryview)) else canonical_value(value)


def digest_rows(coverage: Coverage, rows: Sequence[Any]) -> str:
    """Return SHA-256 of the rows' evidential fields (canonical JSON, rows in key order)."""
    ordered = sorted(rows, key=lambda row: getattr(row, coverage.key))
    data = [[_value(getattr(row, name)) for name in coverage.fields] for row in ordered]
    return hashlib.sha256(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def seal(session: Session, coverage: Coverage, subject: str, rows: Sequence[Any]) -> EvidenceSeal:
    """Append a seal over ``rows`` (all of ``subject`` as it stands) to the evidence-seals chain."""
    row = EvidenceSeal(kind=coverage.kind, subject=subject, row_count=len(rows),
                       row_keys=id_ranges(getattr(r, coverage.key) for r in rows),
                       digest=digest_rows(coverage, rows))
    append_to_chain(session, row)
    return row


def latest_seal(session: Session, coverage: Coverage, subject: str) -> EvidenceSeal | None:
    """Return the newest seal of ``subject``, or None."""
    return session.scalars(select(EvidenceSeal).where(EvidenceSeal.kind == coverage.kind,
                                                      EvidenceSeal.subject == subject)
                           .order_by(EvidenceSeal.id.desc()).limit(1)).first()


def declaration_subject(declaration_id: int) -> str:
    """Name the seal subject of a declaration's items."""
    return f"declaration:{declaration_id}"


def seal_declaration_items(session: Session, declaration: Declaration) -> EvidenceSeal:
    """Seal a declaration's items as submitted (a resubmission seals them again)."""
    session.flush()
    items = session.scalars(select(DeclarationItem).where(DeclarationItem.declaration_id == declaration.id)).all()
    return seal(session, DECLARATION_ITEMS, declaration_subject(declaration.id), items)


def seal_alert_history(session: Session, alert: Alert) -> EvidenceSeal | None:
    """Seal the whole history of an alert so far, unless its newest seal already covers it all."""
    session.add(alert)
    session.flush()
    events = session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id)).all()
    subject = f"alert:{alert.id}"
    previous = latest_seal(session, ALERT_HISTORY, subject)
    if previous is not None and previous.row_keys == id_ranges(event.id for event in events):
        return None
    return seal(session, ALERT_HISTORY, subject, events)


def seal_alert_history_at_commit(session: Session, alert: Alert) -> None:
    """Seal the alert's history when the transaction commits.

    At commit, after every row the transaction locks: the gateway locks a declaration and
    then raises alerts, an officer raises an alert and then moves the declaration; taking
    the seals chain's lock last in both keeps them from deadlocking.
    """
    pending: list[Alert] = session.info.setdefault(ALERTS_TO_SEAL, [])
    if all(queued is not alert for queued in pending):
        pending.append(alert)


@event.listens_for(Session, "before_flush")
def _note_new_alert_steps(session: Session, _context: Any, _instances: Any) -> None:
    """Queue the alerts that gained a step (from any code path) for sealing at commit."""
    for row in session.new:
        if isinstance(row, AlertEvent) and row.alert is not None:
            seal_alert_history_at_commit(session, row.alert)


@event.listens_for(Session, "before_commit")
def _seal_alerts_of_the_transaction(session: Session) -> None:
    """Seal the history of every alert that gained a step in this transaction."""
    for alert in session.info.pop(ALERTS_TO_SEAL, []):
        if inspect(alert).persistent or inspect(alert).pending:  # not rolled back meanwhile
            seal_alert_history(session, alert)


def seal_customs_records(session: Session, records: Sequence[CustomsRecord]) -> EvidenceSeal | None:
    """Seal customs records just imported (one seal per batch)."""
    if not records:
        return None
    session.flush()
    return seal(session, CUSTOMS_RECORDS, f"import:{min(r.id for r in records)}", records)

