"""reevaluate: alerts in the database follow the episodes, once each, however the pings arrive."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import pytest
from shapely.geometry import box
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from beacon_gateway.evaluation import check_overdue, reevaluate, reevaluate_many, run_overdue_check
from beacon_gateway.evaluation.incremental import evaluate_new_fixes
from beacon_gateway.evaluation.overdue import OVERDUE_LOCK_KEY
from beacon_gateway.evaluation.track import Fix
from beacon_gateway.evaluation.watch import Watch
from beacon_gateway.evaluation.watch_rows import forget_watch
from beacon_gateway.position import Position as Decoded
from beacon_gateway.simulator import Deviation, Pause, Simulation
from tracker.domain.demo_zones import add_demo_zones
from tracker.domain import geography as geo
from tracker.models import Alert, AlertSeverity, AlertStatus, Declaration, DeclarationWatch, Position, Zone, ZoneKind

DEPARTED = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
#: Two excursions, an unscheduled stop and the tunnel gap (no dead zone configured here).
TRIP = dict(noise_m=30.0, period_s=30.0, seed=21, deviations=[Deviation(60, 5, 900), Deviation(200, 4, 600)],
            pauses=[Pause(25, at_min=120)], gap_at="Too-Ashuu tunnel", gap_min=10)


@pytest.fixture
def trip() -> list[Decoded]:
    return list(Simulation(geo.KHAIDARKAN_AKJOL, DEPARTED, **TRIP).positions())


@pytest.fixture
def tracked(make_tracked_declaration: Callable[..., Declaration],
            make_checkpoint: Callable[..., Any]) -> Callable[..., Declaration]:
    """Declarations on the same road between the same two checkpoints, each with its own beacon."""
    gate, akjol = geo.site("KHD-GATE"), geo.site("AKJOL")
    origin = make_checkpoint(lat=gate.lat, lon=gate.lon, radius_m=gate.radius_m)
    destination = make_checkpoint(lat=akjol.lat, lon=akjol.lon, radius_m=akjol.radius_m)

    def make(**kw: Any) -> Declaration:
        kw.setdefault("origin", origin)
        kw.setdefault("destination", destination)
        kw.setdefault("corridor_m", 250)
        kw.setdefault("planned_departure", DEPARTED)
        kw.setdefault("planned_arrival", DEPARTED + timedelta(hours=12))
        return make_tracked_declaration(**kw)
    return make


def store(db: Session, declaration: Declaration, fixes: Iterable[Decoded]) -> datetime | None:
    """Store fixes the way the pipeline does (a repeat of a stored fix is dropped); return the earliest new one."""
    have = set(db.scalars(select(Position.fix_time).where(Position.declaration_id == declaration.id)))
    rows = {p.fix_time: p for p in fixes if p.fix_time not in have}
    if rows:
        db.execute(insert(Position), [
            {"beacon_id": declaration.beacon_id, "declaration_id": declaration.id, "fix_time": p.fix_time,
             "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh, "flags": list(p.flags), "protocol": "json",
             "raw": b"{}"} for p in rows.values()])
    return min(rows, default=None)


def deliver(db: Session, declaration: Declaration, batches: Iterable[list[Decoded]]) -> None:
    for batch in batches:
        since = store(db, declaration, batch)
        if since is not None:
            reevaluate(db, declaration.id, since=since)


def alerts_of(db: Session, declaration: Declaration) -> list[dict[str, Any]]:
    """The alerts a user sees (withdrawn ones aside), without ids or the declaration's number."""
    db.expire_all()
    alerts = db.scalars(select(Alert).where(Alert.declaration_id == declaration.id).order_by(Alert.opened_at))
    return [{"kind": a.kind, "status": a.status, "opened_at": a.opened_at, "closed_at": a.closed_at,
             "details": a.details, "key": a.alert_key.split(":", 1)[1]}
            for a in alerts if not a.details.get("withdrawn")]


def chunks(items: list[Decoded], size: int) -> list[list[Decoded]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def test_one_alert_per_episode_and_running_again_changes_nothing(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked()
    store(db, declaration, trip)
    reevaluate(db, declaration.id)
    first = alerts_of(db, declaration)
    assert sorted(a["kind"] for a in first) == ["arrived", "off_route", "off_route", "signal_lost",
                                                 "unscheduled_stop"]
    assert all(a["status"] == AlertStatus.CLOSED for a in first)
    history = db.scalar(select(Alert).where(Alert.kind == "off_route")).history
    assert [e.action for e in history] == ["opened", "closed"]
    reevaluate(db, declaration.id)
    reevaluate(db, declaration.id, since=DEPARTED + timedelta(hours=2))
    assert alerts_of(db, declaration) == first
    assert db.scalar(select(Alert).where(Alert.kind == "off_route")).history == history


def test_delivery_in_small_batches_equals_one_evaluation_of_the_whole_track(db: Session, tracked: Any,
                                                                            trip: list) -> None:
    whole, streamed = tracked(), tracked()
    store(db, whole, trip)
    reevaluate(db, whole.id)
    deliver(db, streamed, chunks(trip, 7))
    assert alerts_of(db, streamed) == alerts_of(db, whole)


def test_duplicated_and_late_delivery_yields_the_same_alerts(db: Session, tracked: Any, trip: list) -> None:
    in_order, disordered = tracked(), tracked()
    deliver(db, in_order, chunks(trip, 10))
    rng = random.Random(5)
    buffered = trip[150:260]                     # an hour the device kept offline and sent later
    batches = chunks(trip[:150] + trip[260:500], 10)
    batches.insert(30, buffered[::-1])            # late, and newest first
    batches = [rng.sample(b, len(b)) + rng.sample(b, 3) for b in batches + chunks(trip[500:], 10)]
    deliver(db, disordered, batches)
    assert alerts_of(db, disordered) == alerts_of(db, in_order)


def test_shuffled_delivery_yields_the_same_alerts(db: Session, tracked: Any, trip: list) -> None:
    whole, shuffled = tracked(), tracked()
    store(db, whole, trip)
    reevaluate(db, whole.id)
    order = random.Random(9).sample(trip, len(trip))
    deliver(db, shuffled, chunks(order, 100))
    assert alerts_of(db, shuffled) == alerts_of(db, whole)


def test_an_ongoing_excursion_is_one_open_alert_whose_details_grow(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked()
    cut = [p for p in trip if p.fix_time < DEPARTED + timedelta(minutes=63)]
    deliver(db, declaration, chunks(cut, 5))
    (open_alert,) = [a for a in alerts_of(db, declaration) if a["kind"] == "off_route"]
    assert open_alert["status"] == AlertStatus.OPEN and open_alert["details"]["end"] is None
    deliver(db, declaration, chunks([p for p in trip if p.fix_time >= DEPARTED + timedelta(minutes=63)
                                     and p.fix_time < DEPARTED + timedelta(minutes=80)], 5))
    (closed,) = [a for a in alerts_of(db, declaration) if a["kind"] == "off_route"]
    assert closed["status"] == AlertStatus.CLOSED and closed["details"]["end"] is not None
    assert closed["details"]["max_distance_m"] > open_alert["details"]["max_distance_m"] - 1


def test_silence_until_now_opens_signal_lost_and_the_next_ping_closes_it(db: Session, tracked: Any,
                                                                          trip: list) -> None:
    declaration = tracked()
    store(db, declaration, trip[:100])
    reevaluate(db, declaration.id, since=trip[0].fix_time, now=trip[99].fix_time + timedelta(minutes=20))
    (lost,) = [a for a in alerts_of(db, declaration) if a["kind"] == "signal_lost"]
    assert lost["status"] == AlertStatus.OPEN
    since = store(db, declaration, trip[100:110])
    reevaluate(db, declaration.id, since=since, now=trip[109].fix_time)
    assert [a for a in alerts_of(db, declaration) if a["kind"] == "signal_lost"] == []   # filled in: withdrawn


def test_a_tunnel_gap_in_a_configured_dead_zone_is_no_signal_loss(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked()
    add_demo_zones(db)
    store(db, declaration, trip)
    reevaluate(db, declaration.id)
    assert "signal_lost" not in [a["kind"] for a in alerts_of(db, declaration)]


def test_a_declarations_own_prohibited_zone_raises_a_critical_alert(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked()
    far = next(p for p in trip if p.fix_time == DEPARTED + timedelta(minutes=63))
    db.add(Zone(name="closed military area", kind=ZoneKind.PROHIBITED, declaration_id=declaration.id,
                polygon=box(far.lon - 0.003, far.lat - 0.003, far.lon + 0.003, far.lat + 0.003)))
    store(db, declaration, trip)
    reevaluate(db, declaration.id)
    alert = db.scalar(select(Alert).where(Alert.declaration_id == declaration.id, Alert.kind == "prohibited_zone"))
    assert alert.severity == AlertSeverity.CRITICAL and alert.details["zone"] == "closed military area"


def test_late_arrival_is_an_alert_closed_on_arrival(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked(planned_arrival=DEPARTED + timedelta(hours=9))
    store(db, declaration, trip)
    reevaluate(db, declaration.id)
    (late,) = [a for a in alerts_of(db, declaration) if a["kind"] == "late"]
    assert late["status"] == AlertStatus.CLOSED and late["details"]["delay_s"] > 3600


def test_an_officers_closing_is_kept(db: Session, tracked: Any, trip: list, make_user: Callable[..., Any]) -> None:
    from tracker.domain.alerts import close_alert
    declaration = tracked()
    cut = [p for p in trip if p.fix_time < DEPARTED + timedelta(minutes=63)]
    store(db, declaration, cut)
    reevaluate(db, declaration.id)
    alert = db.scalar(select(Alert).where(Alert.declaration_id == declaration.id, Alert.kind == "off_route"))
    close_alert(db, alert, make_user("customs_officer"), "driver called: detour around roadworks")
    since = store(db, declaration, [p for p in trip if p.fix_time >= DEPARTED + timedelta(minutes=63)][:10])
    reevaluate(db, declaration.id, since=since)
    db.refresh(alert)
    assert alert.resolution == "driver called: detour around roadworks" and alert.alert_key is not None


def test_the_same_episode_key_cannot_be_stored_twice(db: Session, tracked: Any) -> None:
    declaration = tracked()
    for _ in range(2):
        db.add(Alert(kind="off_route", severity=AlertSeverity.WARNING, declaration_id=declaration.id,
                     alert_key=f"{declaration.id}:off_route:2026-11-20T05:00:00Z"))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_demo_zones_are_added_once(db: Session) -> None:
    first = add_demo_zones(db)
    assert [z.kind for z in first] == [ZoneKind.DEAD_ZONE, ZoneKind.PROHIBITED]
    assert [z.id for z in add_demo_zones(db)] == [z.id for z in first]
    assert db.get(Zone, first[0].id).polygon.contains(box(73.79, 42.32, 73.81, 42.34))


def test_the_periodic_check_raises_silence_and_lateness_without_a_ping(db: Session, tracked: Any,
                                                                       trip: list) -> None:
    quiet = tracked(planned_arrival=trip[99].fix_time + timedelta(minutes=10))
    never_heard = tracked(planned_arrival=trip[99].fix_time + timedelta(minutes=10))
    store(db, quiet, trip[:100])
    reevaluate(db, quiet.id)
    now = trip[99].fix_time + timedelta(minutes=20)
    check_overdue(db, now)
    check_overdue(db, now)                                   # idempotent
    assert sorted((a["kind"], a["status"]) for a in alerts_of(db, quiet)) == [
        ("late", AlertStatus.OPEN), ("signal_lost", AlertStatus.OPEN)]
    assert [(a["kind"], a["status"]) for a in alerts_of(db, never_heard)] == [("late", AlertStatus.OPEN)]


def test_a_batch_of_declarations_is_evaluated_together_as_each_would_be_alone(db: Session, tracked: Any,
                                                                              trip: list) -> None:
    alone, together = [tracked() for _ in range(3)], [tracked() for _ in range(3)]
    for n, (a, b) in enumerate(zip(alone, together)):
        part = trip[:300 + 150 * n]
        deliver(db, a, chunks(part, 50))
        store(db, b, part[:50])
        reevaluate_many(db, {b.id: None})
    for i in range(50, 600, 50):
        batch = {b.id: store(db, b, trip[:300 + 150 * n][i:i + 50]) for n, b in enumerate(together)}
        reevaluate_many(db, {k: v for k, v in batch.items() if v is not None})
    for a, b in zip(alone, together):
        assert alerts_of(db, b) == alerts_of(db, a)
    assert any(alerts_of(db, b) for b in together)


def test_fixes_after_arrival_change_no_alert(db: Session, tracked: Any, trip: list) -> None:
    whole, streamed = tracked(), tracked()
    end = trip[-1].fix_time
    back = [Decoded(p.device_id, end + (end - p.fix_time) + timedelta(seconds=30), p.lat, p.lon, "json",
                    speed_kmh=p.speed_kmh) for p in reversed(trip[-200:])]     # drives off again
    store(db, whole, trip + back)
    reevaluate(db, whole.id)
    deliver(db, streamed, chunks(trip + back, 25))
    assert alerts_of(db, streamed) == alerts_of(db, whole)
    assert [a["kind"] for a in alerts_of(db, whole)][-1] == "arrived"


def test_an_arrival_recorded_at_the_destination_ends_the_trip_without_a_fix_inside_the_zone(
        db: Session, tracked: Any, trip: list) -> None:
    from tracker.models import DeclarationStatus

    short = trip[:-6]                                   # the beacon stops a few hundred metres short
    declaration = tracked(status=DeclarationStatus.ARRIVED, arrived_at=trip[-1].fix_time,
                          planned_arrival=trip[-1].fix_time - timedelta(hours=1))
    store(db, declaration, short)
    reevaluate(db, declaration.id, now=trip[-1].fix_time + timedelta(hours=3))
    kinds = sorted(a["kind"] for a in alerts_of(db, declaration))
    assert kinds == ["arrived", "late", "off_route", "off_route", "signal_lost", "unscheduled_stop"]
    (late,) = [a for a in alerts_of(db, declaration) if a["kind"] == "late"]
    assert late["status"] == AlertStatus.CLOSED and late["details"]["delay_s"] == 3600


def test_only_one_process_runs_the_overdue_check_at_a_time(engine: Any, sessions: Any, db: Session, tracked: Any,
                                                           trip: list) -> None:
    quiet = tracked(planned_arrival=trip[99].fix_time + timedelta(minutes=10))
    store(db, quiet, trip[:100])
    reevaluate(db, quiet.id)
    db.commit()
    now = trip[99].fix_time + timedelta(minutes=20)
    if engine.dialect.name == "postgresql":
        with engine.connect() as other_process:  # another `serve` is running the check
            assert other_process.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": OVERDUE_LOCK_KEY})
            assert run_overdue_check(sessions, now) == 0
            assert alerts_of(db, quiet) == []
            other_process.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": OVERDUE_LOCK_KEY})
    assert run_overdue_check(sessions, now) == 1  # its turn: the lock was free (SQLite: no lock needed)
    db.expire_all()
    assert sorted(a["kind"] for a in alerts_of(db, quiet)) == ["late", "signal_lost"]
    if engine.dialect.name == "postgresql":  # and released after the check
        with engine.connect() as other_process:
            assert other_process.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": OVERDUE_LOCK_KEY})
            other_process.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": OVERDUE_LOCK_KEY})


def deliver_live(db: Session, declaration: Declaration, fixes: list[Decoded]) -> dict[str, int]:
    """Deliver fixes one batch each, as the gateway judges them (from the watch when quiet), at their own time."""
    counts = {"quiet": 0, "evaluated": 0}
    for position in fixes:
        if store(db, declaration, [position]) is None:
            continue
        done = evaluate_new_fixes(db, {declaration.id: [Fix.of(position)]}, now=position.fix_time + timedelta(seconds=5))
        counts = {k: counts[k] + done[k] for k in counts}
    return counts


def test_fixes_judged_from_the_watch_give_the_alerts_of_the_whole_track(db: Session, tracked: Any,
                                                                        trip: list) -> None:
    whole, live = tracked(), tracked()
    store(db, whole, trip)
    reevaluate(db, whole.id)
    counts = deliver_live(db, live, trip)
    assert alerts_of(db, live) == alerts_of(db, whole)
    # most fixes of a drive are quiet: judged from the watch, not by re-reading the window
    assert counts["quiet"] > 0.8 * len(trip) and counts["evaluated"] > 0


def test_a_watch_is_kept_only_while_the_track_is_quiet(db: Session, tracked: Any, trip: list) -> None:
    declaration = tracked()
    before_excursion = [p for p in trip if p.fix_time < DEPARTED + timedelta(minutes=64)]
    deliver_live(db, declaration, before_excursion)
    assert db.get(DeclarationWatch, declaration.id) is None          # outside the corridor: every rule watches
    deliver_live(db, declaration, [p for p in trip if p.fix_time < DEPARTED + timedelta(minutes=100)])
    watch = db.get(DeclarationWatch, declaration.id)
    assert watch is not None and Watch.from_json(watch.state).last_t == max(
        p.fix_time for p in trip if p.fix_time < DEPARTED + timedelta(minutes=100)).timestamp()


def test_a_failed_evaluation_forgets_the_watch_so_the_next_fix_gets_every_rule(db: Session, tracked: Any,
                                                                                trip: list) -> None:
    declaration = tracked()
    deliver_live(db, declaration, trip[:20])
    assert db.get(DeclarationWatch, declaration.id) is not None
    forget_watch(db, declaration.id)
    assert deliver_live(db, declaration, trip[20:21]) == {"quiet": 0, "evaluated": 1}
    assert db.get(DeclarationWatch, declaration.id) is not None
