"""CSV of the audit reports (tracker.domain.audit): what is in transit now, and the flow tables.

The reports are small aggregates computed whole by their module; this only lays them
out as rows under a fixed header (one per flow group), like the other CSV tables.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy.orm import Session

from tracker.domain.audit import FlowFilter, FlowRow, flows, in_transit
from tracker.domain.audit.now import SEVERITY_ORDER
from tracker.domain.exports.csv_tables import csv_chunks
from tracker.models import User

IN_TRANSIT_COLUMNS = (
    "declaration_id", "reference", "kind", "position_id", "last_fix", "lat", "lon", "age_s", "open_alerts",
    "open_alert_kinds", "worst_severity",
)
_TOTALS = ("declarations", "declared_g", "received_g")


def in_transit_csv(session: Session, user: User, now: datetime) -> Iterator[str]:
    """Yield every declaration in transit that ``user`` may read with its last position, stalest first."""
    found, _total = in_transit(session, user, now)

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in found:
            severities = {a.severity for a in row.open_alerts}
            worst = next((s.value for s in SEVERITY_ORDER if s in severities), None)
            yield (row.declaration_id, row.reference, row.kind, row.position_id, row.fix_time, row.lat, row.lon,
                   None if row.age_s is None else round(row.age_s), len(row.open_alerts),
                   sorted({a.kind for a in row.open_alerts}), worst)

    return csv_chunks(IN_TRANSIT_COLUMNS, rows())


def _place(prefix: str) -> tuple[tuple[str, ...], Callable[[FlowRow], tuple[Any, ...]]]:
    def cells(row: FlowRow) -> tuple[Any, ...]:
        place = row.names[prefix]
        return place["code"], place["name"], place["country"]

    return (prefix, f"{prefix}_name", f"{prefix}_country"), cells


def _route(row: FlowRow) -> tuple[Any, ...]:
    return _place("origin")[1](row) + _place("destination")[1](row)


#: Flow group -> (its own columns, how a row fills them); every group ends with the totals.
FLOW_LAYOUTS: dict[str, tuple[tuple[str, ...], Callable[[FlowRow], tuple[Any, ...]]]] = {
    "route": (_place("origin")[0] + _place("destination")[0], _route),
    "crossing": (_place("crossing")[0] + ("direction", "crossed_declarations", "crossed_g"),
                 lambda r: _place("crossing")[1](r) + (r.names["direction"], r.extra.get("crossed_declarations"),
                                                       r.extra.get("crossed_g"))),
    "dealer": (("dealer_id", "dealer", "dealer_country", "role"),
               lambda r: (r.names["dealer"]["id"], r.names["dealer"]["legal_name"], r.names["dealer"]["country"],
                          r.names["role"])),
    "month": (("month",), lambda r: (r.names["month"],)),
}


def flow_columns(group: str) -> tuple[str, ...]:
    """Return the header of the flow table of ``group``."""
    return ("key", *FLOW_LAYOUTS[group][0], *_TOTALS)


def flows_csv(session: Session, user: User, group: str, covering: FlowFilter) -> Iterator[str]:
    """Yield the flow table of ``group`` (route, crossing, dealer, month) over the covered declarations."""
    layout = FLOW_LAYOUTS[group][1]
    rows = ((r.key, *layout(r), r.declarations, r.declared_g, r.received_g)
            for r in flows(session, user, group, covering))
    return csv_chunks(flow_columns(group), rows)
