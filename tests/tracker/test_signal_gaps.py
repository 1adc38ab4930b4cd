"""Signal gaps have one home: the timeline and the route-compliance report both read the gateway's alerts."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from shapely.geometry import LineString, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon_gateway import evaluation
from tracker.domain.audit.compliance import compliance
from tracker.domain.timeline import summarise_gaps, timeline
from tracker.domain.track_episodes import Episode
from tracker.models import Alert, AlertStatus, Declaration, Position, Role, User, Zone
from tracker.models.zones import ZoneKind

pytestmark = pytest.mark.usefixtures("fast_passwords")

#: The beacon reports every 30 s and is silent for fixes 20..29: 330 s from fix 19 to fix 30.
PERIOD_S, COUNT, SILENT = 30, 60, range(20, 30)


def along(route: LineString, count: int) -> list[tuple[float, float]]:
    """Return ``count`` points (lon, lat) evenly along the route."""
    return [tuple(route.interpolate(i / (count - 1), normalized=True).coords[0]) for i in range(count)]


@pytest.fixture
def start() -> datetime:
    """When the first fix was taken: three hours ago."""
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)


@pytest.fixture
def silent_trip(db: Session, make_tracked_declaration: Callable[..., Declaration], start: datetime) -> Declaration:
    """A declaration in transit whose beacon drove the route, silent for 330 s in the middle."""
    declaration = make_tracked_declaration(reporting_period_s=PERIOD_S)
    assert declaration.route is not None and declaration.beacon is not None
    db.add_all(Position(beacon_id=declaration.beacon.id, declaration_id=declaration.id, protocol="osmand",
                        raw=b"fix", fix_time=start + timedelta(seconds=PERIOD_S * i), lon=lon, lat=lat)
               for i, (lon, lat) in enumerate(along(declaration.route, COUNT)) if i not in SILENT)
    db.flush()
    return declaration


def dead_zone_over_the_silence(db: Session, declaration: Declaration) -> None:
    """Configure a dead zone (a tunnel) covering the road where the beacon fell silent."""
    assert declaration.route is not None
    points = along(declaration.route, COUNT)[SILENT.start - 1:SILENT.stop + 1]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    db.add(Zone(name="tunnel", kind=ZoneKind.DEAD_ZONE, declaration_id=declaration.id,
                polygon=box(min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01)))
    db.flush()


def gaps_on_pages(client: Any, declaration: Declaration) -> tuple[list[str], int]:
    """Return the timeline's signal-gap entries on the declaration page and the count on the compliance page."""
    page = client.get(f"/declarations/{declaration.id}").get_data(as_text=True)
    entries = re.findall(r'data-kind="(signal_gaps|signal_silent)"', page)
    report = client.get(f"/declarations/{declaration.id}/compliance").get_data(as_text=True)
    count = re.search(r'id="gaps-title">[^<]*<span class="count">\((\d+)\)', report)
    assert count is not None
    return entries, int(count.group(1))


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUDITOR)


def test_a_silence_inside_a_dead_zone_is_a_gap_on_neither_page(
        db: Session, client: Any, auth: Any, silent_trip: Declaration, auditor: User) -> None:
    dead_zone_over_the_silence(db, silent_trip)
    evaluation.reevaluate(db, silent_trip.id)
    assert db.scalars(select(Alert).where(Alert.kind == "signal_lost")).all() == []
    assert [e for e in timeline(db, silent_trip) if e.kind.startswith("signal")] == []
    assert compliance(db, auditor, silent_trip.id).signal_gaps == ()
    auth.sign_in_as(auditor)
    assert gaps_on_pages(client, silent_trip) == ([], 0)


def test_a_raised_signal_loss_shows_on_both_pages_with_the_same_duration(
        db: Session, client: Any, auth: Any, silent_trip: Declaration, auditor: User, start: datetime) -> None:
    evaluation.reevaluate(db, silent_trip.id)
    [raised] = db.scalars(select(Alert).where(Alert.kind == "signal_lost")).all()
    [entry] = [e for e in timeline(db, silent_trip) if e.kind.startswith("signal")]
    [gap] = compliance(db, auditor, silent_trip.id).signal_gaps
    last_heard = start + timedelta(seconds=PERIOD_S * (SILENT.start - 1))
    assert entry.kind == "signal_gaps" and entry.at == gap.start == last_heard
    assert entry.subject.count == 1 and entry.subject.longest == timedelta(seconds=gap.duration_s or 0) \
        == timedelta(seconds=PERIOD_S * (len(SILENT) + 1))
    assert gap.alert_id == raised.id
    auth.sign_in_as(auditor)
    assert gaps_on_pages(client, silent_trip) == (["signal_gaps"], 1)


def test_a_withdrawn_signal_loss_is_a_gap_on_neither_page(
        db: Session, silent_trip: Declaration, auditor: User) -> None:
    evaluation.reevaluate(db, silent_trip.id)
    [raised] = db.scalars(select(Alert).where(Alert.kind == "signal_lost")).all()
    raised.details = {**raised.details, "withdrawn": True}
    db.flush()
    assert [e for e in timeline(db, silent_trip) if e.kind.startswith("signal")] == []
    assert compliance(db, auditor, silent_trip.id).signal_gaps == ()


def test_a_silence_still_going_on_is_its_own_entry_from_the_last_fix_heard(
        db: Session, client: Any, auth: Any, silent_trip: Declaration, auditor: User, start: datetime) -> None:
    dead_zone_over_the_silence(db, silent_trip)
    last_fix = start + timedelta(seconds=PERIOD_S * (COUNT - 1))
    evaluation.reevaluate(db, silent_trip.id, now=last_fix + timedelta(hours=1))
    [entry] = [e for e in timeline(db, silent_trip) if e.kind.startswith("signal")]
    assert (entry.kind, entry.at) == ("signal_silent", last_fix)
    assert [g.end for g in compliance(db, auditor, silent_trip.id).signal_gaps] == [None]
    auth.sign_in_as(auditor)
    assert gaps_on_pages(client, silent_trip) == (["signal_silent"], 1)
    auth.post_form("/preferences/language", {"language": "ru", "next": "/"}, form_page="/preferences")
    page = client.get(f"/declarations/{silent_trip.id}").get_data(as_text=True)
    assert "Сигнал потерян: с этого момента от маяка нет ни одной отметки" in page


def test_the_summary_counts_finished_gaps_and_names_the_longest() -> None:
    t = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)

    def gap(minutes: int, length_s: float | None) -> Episode:
        start = t + timedelta(minutes=minutes)
        end = None if length_s is None else start + timedelta(seconds=length_s)
        return Episode(1, "signal_lost", AlertStatus.OPEN, start, end, length_s, None, None)

    summary = summarise_gaps([gap(0, 120), gap(30, 900), gap(90, None)])
    assert summary is not None and summary.count == 2 and summary.longest_start == t + timedelta(minutes=30)
    assert summary.longest == timedelta(seconds=900) and summary.total == timedelta(seconds=1020)
    assert summarise_gaps([gap(90, None)]) is None and summarise_gaps([]) is None
