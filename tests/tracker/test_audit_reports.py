"""Audit reports: figures checked against values computed by hand on small fixtures."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from shapely.geometry import LineString
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tracker.domain.alerts import close_alert, open_alert
from tracker.domain.audit import FlowFilter, compliance, flow_declarations, flows, in_transit, open_alert_summary
from tracker.domain.audit.compliance import NOT_A_LOCATION
from tracker.domain.audit.flows import totals
from tracker.domain.chain import append_to_chain
from tracker.domain.errors import Forbidden, NotFound
from tracker.models import (
    Alert,
    CheckpointKind,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    Position,
    Role,
)

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
A, B = 6_378_137.0, 6_356_752.314245          # WGS84 semi-axes
E2 = 1 - (B / A) ** 2


def meridian_m(lat: float, dlat: float) -> float:
    """Length of a short meridian arc: M(φ)·Δφ, M = a(1−e²)/(1−e² sin²φ)^1.5."""
    phi = math.radians(lat)
    return A * (1 - E2) / (1 - E2 * math.sin(phi) ** 2) ** 1.5 * math.radians(dlat)


def parallel_m(lat: float, dlon: float) -> float:
    """Length of a short arc along a parallel: N(φ)·cos φ·Δλ, N = a/(1−e² sin²φ)^0.5."""
    phi = math.radians(lat)
    return A / math.sqrt(1 - E2 * math.sin(phi) ** 2) * math.cos(phi) * math.radians(dlon)


def add_positions(db: Session, declaration: Declaration, fixes: list[tuple[Any, ...]]) -> None:
    """Store fixes (time, lat, lon, flags[, speed]) of the declaration's beacon."""
    db.execute(insert(Position), [
        {"beacon_id": declaration.beacon_id, "declaration_id": declaration.id, "fix_time": at, "lat": lat,
         "lon": lon, "flags": flags, "speed_kmh": speed[0] if speed else None, "protocol": "json", "raw": b"{}"}
        for at, lat, lon, flags, *speed in fixes])


@pytest.fixture
def straight(make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any]) -> Declaration:
    """A declaration in transit on a route due north along 74° E from 42.00° to 42.10° N, 500 m corridor."""
    return make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon(), corridor_m=500,
                            route=LineString([(74.0, 42.0), (74.0, 42.1)]))


@pytest.fixture
def auditor(make_user: Callable[..., Any]) -> Any:
    return make_user(Role.AUDITOR)


# ---------------------------------------------------------------- route compliance
def test_coverage_counts_hops_with_both_ends_in_the_corridor(db: Session, straight: Declaration, auditor: Any) -> None:
    # north 0.01°, east 0.02° (about 1.65 km: outside), back west, north 0.01°; a (0, 0) fix is no location.
    add_positions(db, straight, [
        (T0, 42.00, 74.00, []), (T0 + timedelta(seconds=60), 42.01, 74.00, []),
        (T0 + timedelta(seconds=120), 42.01, 74.02, []), (T0 + timedelta(seconds=150), 0.0, 0.0, ["null_island"]),
        (T0 + timedelta(seconds=180), 42.01, 74.00, []), (T0 + timedelta(seconds=240), 42.02, 74.00, [])])
    north = meridian_m(42.00, 0.01) + meridian_m(42.01, 0.01)
    east_and_back = 2 * parallel_m(42.01, 0.02)

    c = compliance(db, auditor, straight.id).coverage

    assert c is not None
    assert (c.positions, c.located) == (6, 5)
    assert (c.first_fix, c.last_fix) == (T0, T0 + timedelta(seconds=240))
    assert c.time_s == 240 and c.inside_time_s == 120 and c.time_share == 0.5
    assert c.distance_m == pytest.approx(north + east_and_back, rel=1e-4)
    assert c.inside_distance_m == pytest.approx(north, rel=1e-4)
    assert c.distance_share == pytest.approx(north / (north + east_and_back), rel=1e-4)


def test_a_declaration_without_positions_has_no_shares(db: Session, straight: Declaration, auditor: Any) -> None:
    c = compliance(db, auditor, straight.id).coverage
    assert c is not None and c.positions == 0 and c.distance_share is None and c.time_share is None


def test_locations_are_judged_with_the_flags_the_gateway_uses() -> None:
    from beacon_gateway.evaluation.track import NOT_A_LOCATION as gateway
    assert NOT_A_LOCATION == gateway


def test_excursions_stops_and_gaps_are_the_gateways_episodes_each_with_its_alert(
        db: Session, make_tracked_declaration: Callable[..., Declaration], auditor: Any) -> None:
    from beacon_gateway.evaluation import reevaluate
    from beacon_gateway.simulator import Deviation, Pause, Simulation
    from tracker.domain import geography as geo

    declaration = make_tracked_declaration(corridor_m=250, planned_departure=T0,
                                           planned_arrival=T0 + timedelta(hours=12))
    trip = Simulation(geo.KHAIDARKAN_AKJOL, T0, noise_m=30.0, period_s=30.0, seed=21,
                      deviations=[Deviation(60, 5, 900), Deviation(200, 4, 600)], pauses=[Pause(25, at_min=120)],
                      gap_at="Too-Ashuu tunnel", gap_min=10).positions()
    add_positions(db, declaration, [(p.fix_time, p.lat, p.lon, list(p.flags), p.speed_kmh) for p in trip])
    reevaluate(db, declaration.id)
    alerts = {a.kind: a for a in db.scalars(select(Alert).where(Alert.declaration_id == declaration.id))}

    report = compliance(db, auditor, declaration.id)

    assert len(report.excursions) == 2 and len(report.stops) == 1 and len(report.signal_gaps) == 1
    first = report.excursions[0]
    alert = db.get(Alert, first.alert_id)
    assert alert is not None and alert.kind == "off_route"
    assert first.max_distance_m == alert.details["max_distance_m"] and first.max_distance_m > 250
    assert first.end is not None and first.duration_s == (first.end - first.start).total_seconds()
    assert report.stops[0].alert_id == alerts["unscheduled_stop"].id
    assert report.signal_gaps[0].duration_s is not None and report.signal_gaps[0].duration_s >= 600
    assert report.coverage is not None and 0.5 < report.coverage.time_share < 1


def test_withdrawn_episodes_are_left_out(db: Session, straight: Declaration, auditor: Any) -> None:
    kept = open_alert(db, kind="off_route", severity="warning", declaration=straight,
                      details={"start": "2026-11-20T04:00:00Z", "end": "2026-11-20T04:05:00Z", "duration_s": 300.0,
                               "max_distance_m": 812.5})
    open_alert(db, kind="off_route", severity="warning", declaration=straight,
               details={"start": "2026-11-20T05:00:00Z", "end": None, "withdrawn": True})
    [excursion] = compliance(db, auditor, straight.id).excursions
    assert (excursion.alert_id, excursion.duration_s, excursion.max_distance_m) == (kept.id, 300.0, 812.5)
    assert excursion.start == T0 and excursion.end == T0 + timedelta(minutes=5)


def custody(db: Session, declaration: Declaration, checkpoint: Any, kind: CustodyKind, at: datetime,
            officer: Any) -> CustodyEvent:
    event = CustodyEvent(client_event_id=f"ev-{declaration.id}-{checkpoint.id}-{at:%H%M%S}", kind=kind,
                         container_id=declaration.items[0].container_id, declaration_id=declaration.id,
                         checkpoint_id=checkpoint.id, officer_id=officer.id, event_time=at, seal_intact=True)
    append_to_chain(db, event)
    return event


def test_custody_events_in_order_against_the_expected_checkpoints(
        db: Session, straight: Declaration, make_checkpoint: Callable[..., Any], make_user: Callable[..., Any],
        auditor: Any) -> None:
    officer = make_user(Role.CUSTOMS_OFFICER)
    first, second, elsewhere = make_checkpoint(code="KARA-BALTA"), make_checkpoint(code="TOKTOGUL"), make_checkpoint()
    straight.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=first),
                                     ExpectedCheckpoint(seq=1, checkpoint=second)]
    db.flush()
    left = custody(db, straight, straight.origin, CustodyKind.DEPARTURE, T0, officer)
    early = custody(db, straight, second, CustodyKind.INSPECTION, T0 + timedelta(hours=1), officer)
    late = custody(db, straight, first, CustodyKind.INSPECTION, T0 + timedelta(hours=2), officer)
    stray = custody(db, straight, elsewhere, CustodyKind.INSPECTION, T0 + timedelta(hours=3), officer)

    report = compliance(db, auditor, straight.id)

    rows = [(p.role, p.code, p.status, p.event_ids) for p in report.passages]
    assert rows == [("origin", straight.origin.code, "seen", (left.id,)),
                    ("checkpoint", "KARA-BALTA", "seen", (late.id,)),
                    ("checkpoint", "TOKTOGUL", "seen", (early.id,)),
                    ("destination", straight.destination.code, "missing", ()),
                    ("unexpected", elsewhere.code, "unexpected", (stray.id,))]
    assert report.out_of_order == (second.id,)
    assert [s.id for s in report.custody] == [left.id, early.id, late.id, stray.id]


def test_receipt_discrepancy_per_container_and_in_total(
        db: Session, straight: Declaration, make_container: Callable[..., Any], auditor: Any) -> None:
    straight.items.append(DeclarationItem(container=make_container(owner=straight.declarant), declared_net_g=34_500))
    db.flush()
    short, close = straight.items
    short.received_net_g, short.seal_intact = 34_400, False      # 100 g short: beyond the 50 g tolerance
    close.received_net_g, close.seal_intact = 34_480, True       # 20 g short: within it
    db.flush()

    report = compliance(db, auditor, straight.id)

    assert [(r.difference_g, r.tolerance_g, r.beyond_tolerance, r.seal_intact) for r in report.receipt] == [
        (-100, 50, True, False), (-20, 50, False, True)]
    assert (report.declared_g, report.received_g) == (69_000, 68_880)


def test_a_trader_cannot_read_the_compliance_of_another_dealer(
        db: Session, straight: Declaration, make_user: Callable[..., Any]) -> None:
    with pytest.raises(NotFound):
        compliance(db, make_user(Role.TRADER), straight.id)
    owner = make_user(Role.TRADER, dealer=straight.declarant)
    assert compliance(db, owner, straight.id).declaration_id == straight.id


# ---------------------------------------------------------------- now
def test_in_transit_shows_last_position_its_age_and_open_alerts(
        db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any],
        auditor: Any) -> None:
    now = T0 + timedelta(hours=1)
    moving = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    silent = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon())
    arrived = make_declaration(status=DeclarationStatus.ARRIVED, beacon=make_beacon())
    add_positions(db, moving, [(now - timedelta(minutes=10), 41.0, 73.0, []),
                               (now - timedelta(minutes=5), 41.1, 73.1, [])])
    add_positions(db, arrived, [(now - timedelta(minutes=1), 42.0, 74.0, [])])
    warning = open_alert(db, kind="off_route", severity="warning", declaration=moving, at=now - timedelta(minutes=7))
    closed = open_alert(db, kind="late", severity="warning", declaration=moving, at=now - timedelta(minutes=8))
    close_alert(db, closed, None, "checked", at=now)

    rows, total = in_transit(db, auditor, now)

    ours = [r for r in rows if r.declaration_id in (moving.id, silent.id, arrived.id)]
    assert [r.declaration_id for r in ours] == [silent.id, moving.id]          # no position yet comes first
    assert ours[0].position_id is None and ours[0].age_s is None
    last = ours[1]
    assert (last.lat, last.lon, last.fix_time, last.age_s) == (41.1, 73.1, now - timedelta(minutes=5), 300.0)
    assert [(a.id, a.age_s) for a in last.open_alerts] == [(warning.id, 420.0)]
    assert total >= 2


def test_open_alerts_by_severity_and_age(db: Session, straight: Declaration, make_user: Callable[..., Any],
                                         auditor: Any) -> None:
    now = T0
    for severity, age in (("critical", timedelta(minutes=30)), ("warning", timedelta(hours=5)),
                          ("warning", timedelta(days=3)), ("info", timedelta(days=10)),
                          ("critical", timedelta(hours=1))):
        open_alert(db, kind="off_route", severity=severity, declaration=straight, at=now - age)
    gone = open_alert(db, kind="off_route", severity="critical", declaration=straight, at=now - timedelta(minutes=5))
    close_alert(db, gone, None, "done", at=now)

    summary = {s.severity.value: s for s in open_alert_summary(db, auditor, now)}

    assert list(summary) == ["critical", "warning", "info"]
    assert summary["critical"].count == 2 and summary["critical"].by_age == {
        "under_1h": 1, "1h_to_24h": 1, "1d_to_7d": 0, "over_7d": 0}
    assert summary["warning"].by_age == {"under_1h": 0, "1h_to_24h": 1, "1d_to_7d": 1, "over_7d": 0}
    assert summary["info"].by_age["over_7d"] == 1
    assert summary["warning"].oldest_opened_at == now - timedelta(days=3)
    stranger = make_user(Role.TRADER)
    assert sum(s.count for s in open_alert_summary(db, stranger, now)) == 0


# ---------------------------------------------------------------- flows
@pytest.fixture
def moved(db: Session, make_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Any],
          make_dealer: Callable[..., Any], make_container: Callable[..., Any], make_user: Callable[..., Any]) -> Any:
    """Five departed declarations (and a draft) over March and April 2026, by hand:

    d1 domestic Osh → Bishkek, 3 March, 2 flasks, received 34,500 + 34,400
    d2 domestic Osh → Bishkek, 10 April, 1 flask, in transit
    d3 export Osh → Ak-Jol, 20 April, 2 flasks, seen at Ak-Jol
    d4 import Torugart → Bishkek, 28 March, 1 flask, not seen at Torugart
    d5 transit Torugart → Ak-Jol, 2 April, 1 flask, seen at Torugart only
    """
    officer = make_user(Role.CUSTOMS_OFFICER)
    osh, bishkek = make_checkpoint(code="OSH"), make_checkpoint(code="BISHKEK")
    akjol = make_checkpoint(code="AKJOL", kind=CheckpointKind.BORDER_CROSSING)
    torugart = make_checkpoint(code="TORUGART", kind=CheckpointKind.BORDER_CROSSING)
    seller, buyer = make_dealer(), make_dealer()

    def declare(kind: DeclarationKind, origin: Any, destination: Any, day: datetime, flasks: int = 1,
                status: DeclarationStatus = DeclarationStatus.IN_TRANSIT, crossings: tuple[Any, ...] = (),
                **kw: Any) -> Declaration:
        kw.setdefault("declarant", seller)
        kw.setdefault("consignee", buyer)
        d = make_declaration(kind=kind, origin=origin, destination=destination, status=status,
                             departed_at=day if status != DeclarationStatus.APPROVED else None, **kw)
        for _ in range(flasks - 1):
            d.items.append(DeclarationItem(container=make_container(owner=d.declarant), declared_net_g=34_500))
        d.expected_checkpoints = [ExpectedCheckpoint(seq=i, checkpoint=c) for i, c in enumerate(crossings)]
        db.flush()
        return d

    day = lambda m, d: datetime(2026, m, d, 8, 0, tzinfo=timezone.utc)  # noqa: E731
    d1 = declare(DeclarationKind.DOMESTIC, osh, bishkek, day(3, 3), 2, DeclarationStatus.CLOSED)
    d1.items[0].received_net_g, d1.items[1].received_net_g = 34_500, 34_400
    d2 = declare(DeclarationKind.DOMESTIC, osh, bishkek, day(4, 10))
    d3 = declare(DeclarationKind.EXPORT, osh, akjol, day(4, 20), 2, crossings=(akjol,))
    d4 = declare(DeclarationKind.IMPORT, torugart, bishkek, day(3, 28), crossings=(torugart,), declarant=buyer,
                 consignor=make_dealer(country="CN"))
    d5 = declare(DeclarationKind.TRANSIT, torugart, akjol, day(4, 2), crossings=(torugart, akjol))
    declare(DeclarationKind.DOMESTIC, osh, bishkek, day(4, 1), status=DeclarationStatus.APPROVED)
    db.flush()
    custody(db, d3, akjol, CustodyKind.INSPECTION, day(4, 21), officer)
    custody(db, d5, torugart, CustodyKind.INSPECTION, day(4, 2), officer)
    return dict(d1=d1, d2=d2, d3=d3, d4=d4, d5=d5, seller=seller, buyer=buyer, osh=osh, bishkek=bishkek,
                akjol=akjol, torugart=torugart)


def table(db: Session, user: Any, group: str, **kw: Any) -> dict[str, tuple[int, ...]]:
    return {row.key: (row.declarations, row.declared_g, row.received_g, *row.extra.values())
            for row in flows(db, user, group, FlowFilter(**kw))}


def test_flows_by_route(db: Session, moved: dict[str, Any], auditor: Any) -> None:
    m = moved
    osh_bishkek, osh_akjol = f"{m['osh'].id}-{m['bishkek'].id}", f"{m['osh'].id}-{m['akjol'].id}"
    assert table(db, auditor, "route") == {
        osh_bishkek: (2, 103_500, 68_900), osh_akjol: (1, 69_000, 0),
        f"{m['torugart'].id}-{m['bishkek'].id}": (1, 34_500, 0), f"{m['torugart'].id}-{m['akjol'].id}": (1, 34_500, 0)}
    assert totals(db, auditor, FlowFilter()) == (5, 241_500, 68_900)


def test_flows_by_border_crossing_and_direction(db: Session, moved: dict[str, Any], auditor: Any) -> None:
    akjol, torugart = moved["akjol"].id, moved["torugart"].id
    # declarations, declared, received, seen there (declarations, grams)
    assert table(db, auditor, "crossing") == {
        f"{akjol}:export": (2, 103_500, 0, 1, 69_000),       # d3 export + d5 leaving, only d3 seen
        f"{torugart}:import": (2, 69_000, 0, 1, 34_500)}     # d4 import + d5 entering, only d5 seen


def test_flows_by_dealer_and_by_month(db: Session, moved: dict[str, Any], auditor: Any) -> None:
    seller, buyer = moved["seller"].id, moved["buyer"].id
    by_dealer = table(db, auditor, "dealer")
    assert by_dealer[f"{seller}:consignor"] == (4, 207_000, 68_900)
    assert by_dealer[f"{buyer}:consignee"] == (5, 241_500, 68_900)
    assert table(db, auditor, "month") == {"2026-03": (2, 103_500, 68_900), "2026-04": (3, 138_000, 0)}


def test_flow_filters_by_period_kind_and_dealer(db: Session, moved: dict[str, Any], auditor: Any) -> None:
    from datetime import date
    assert table(db, auditor, "month", start=date(2026, 4, 1)) == {"2026-04": (3, 138_000, 0)}
    assert table(db, auditor, "month", end=date(2026, 3, 27)) == {"2026-03": (1, 69_000, 68_900)}
    assert table(db, auditor, "month", kind=DeclarationKind.EXPORT) == {"2026-04": (1, 69_000, 0)}
    assert totals(db, auditor, FlowFilter(dealer_id=moved["d4"].consignor_id)) == (1, 34_500, 0)


def test_each_row_lists_the_declarations_behind_it(db: Session, moved: dict[str, Any], auditor: Any) -> None:
    m = moved
    def ids(group: str, key: str) -> list[int]:
        return [d.id for d in db.scalars(flow_declarations(auditor, group, key, FlowFilter()))]
    assert ids("crossing", f"{m['akjol'].id}:export") == [m["d5"].id, m["d3"].id]
    assert ids("crossing", f"{m['torugart'].id}:import") == [m["d4"].id, m["d5"].id]
    assert ids("route", f"{m['osh'].id}-{m['bishkek'].id}") == [m["d1"].id, m["d2"].id]
    assert ids("month", "2026-03") == [m["d1"].id, m["d4"].id]
    assert ids("dealer", f"{m['buyer'].id}:consignee") == [m[k].id for k in ("d1", "d4", "d5", "d2", "d3")]


def test_a_trader_reads_the_flows_of_their_own_dealer_only(db: Session, moved: dict[str, Any],
                                                          make_user: Callable[..., Any]) -> None:
    importer = make_user(Role.TRADER, dealer=moved["buyer"])
    stranger = make_user(Role.TRADER)
    with pytest.raises(Forbidden):
        flows(db, stranger, "route", FlowFilter(dealer_id=moved["seller"].id))
    assert totals(db, stranger, FlowFilter()) == (0, 0, 0)
    assert totals(db, importer, FlowFilter(dealer_id=moved["buyer"].id)) == (5, 241_500, 68_900)
