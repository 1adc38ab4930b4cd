"""CSV of the audit reports (tracker.domain.audit): in transit now, the flow tables, route compliance.

The reports are small aggregates computed whole by their module; this only lays them
out as rows under a fixed header (one per flow group), like the other CSV tables.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy.orm import Session

from tracker.domain.audit import FlowFilter, FlowRow, flows, in_transit
from tracker.domain.audit.compliance import Compliance, Episode
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


COMPLIANCE_COLUMNS = (
    "section", "name", "status", "start", "end", "duration_s", "value", "max_distance_m",
    "declared_g", "received_g", "difference_g", "tolerance_g", "alert_id", "record_ids",
)


def _row(section: str, name: Any, **cells: Any) -> tuple[Any, ...]:
    values = {"section": section, "name": name, **cells}
    return tuple(values.get(column) for column in COMPLIANCE_COLUMNS)


def _episodes(section: str, episodes: tuple[Episode, ...]) -> Iterator[tuple[Any, ...]]:
    for e in episodes:
        yield _row(section, e.kind, status=e.status.value, start=e.start, end=e.end,
                   duration_s=None if e.duration_s is None else round(e.duration_s),
                   max_distance_m=None if e.max_distance_m is None else round(e.max_distance_m),
                   alert_id=e.alert_id)


def compliance_rows(report: Compliance) -> Iterator[tuple[Any, ...]]:
    """Lay out every table of a route-compliance report as rows of one CSV, one section after another.

    Sections: summary (one figure a row), excursion, stop, signal_gap, checkpoint (the expected
    checkpoints and where each was first seen), custody, receipt (one container a row).
    """
    c = report.coverage
    if c is not None:
        for name, value in (("positions", c.positions), ("located", c.located), ("first_fix", c.first_fix),
                            ("last_fix", c.last_fix), ("distance_m", round(c.distance_m)),
                            ("inside_distance_m", round(c.inside_distance_m)),
                            ("distance_share", None if c.distance_share is None else round(c.distance_share, 4)),
                            ("time_s", round(c.time_s)), ("inside_time_s", round(c.inside_time_s)),
                            ("time_share", None if c.time_share is None else round(c.time_share, 4))):
            yield _row("summary", name, value=value)
    yield _row("summary", "corridor_m", value=report.corridor_m)
    yield from _episodes("excursion", report.excursions)
    yield from _episodes("stop", report.stops)
    yield from _episodes("signal_gap", report.signal_gaps)
    for p in report.passages:
        yield _row("checkpoint", p.code, status=p.status, start=p.first_seen, value=p.seq,
                   record_ids=" ".join(map(str, p.event_ids)))
    for step in report.custody:
        yield _row("custody", f"{step.kind} {step.code}", status="seal intact" if step.seal_intact else "seal broken",
                   start=step.event_time, received_g=step.measured_net_g, record_ids=str(step.id))
    for line in report.receipt:
        yield _row("receipt", line.sscc, status=None if line.seal_intact is None else
                   ("seal intact" if line.seal_intact else "seal broken"), start=report.received_at,
                   declared_g=line.declared_g, received_g=line.received_g, difference_g=line.difference_g,
                   tolerance_g=line.tolerance_g, record_ids=str(line.container_id))


def compliance_csv(report: Compliance) -> Iterator[str]:
    """Yield a route-compliance report (a small aggregate, computed whole) as CSV."""
    return csv_chunks(COMPLIANCE_COLUMNS, compliance_rows(report))
