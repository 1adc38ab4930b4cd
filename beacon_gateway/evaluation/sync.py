"""Re-evaluate a declaration's track and bring its alerts in line, idempotently.

The rules are deterministic over the positions in fix-time order, so only the window
that new positions can change is re-read: from ``since`` (the earliest new fix) minus
the longest rule window, extended back to the start of any alert still going on then.
Anything that was pending longer than that window has already become an alert (by
induction over earlier batches), so the window's episodes equal a full evaluation's.
Two things a window cannot show are read whole: the silence since departure (judged only
when the window holds every fix since it) and arrival, which needs the progress made
along the route since departure (the whole track is read while a window reaches the end
zone and no arrival is known yet).

Each episode's alert is found by its key (declaration, kind, start). When late positions
move an episode's start, the alert overlapping it is updated instead of a new one
raised; an alert no episode supports any more is closed as withdrawn, never deleted.
The declaration's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL) while its
alerts are synced, and the key is unique, so two gateway processes never duplicate one.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Mapping

import numpy as np
from sqlalchemy import Dialect, Float, Integer, bindparam, select, text
from sqlalchemy.orm import Session, defer

from beacon_gateway.evaluation.declared import plans_for
from beacon_gateway.evaluation.engine import evaluate_track
from beacon_gateway.evaluation.episodes import Episode, from_iso
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.rules import ARRIVED, KINDS, ONCE_PER_DECLARATION, Rules, default_rules
from beacon_gateway.evaluation.track import Fix, Track
from beacon_gateway.evaluation.watch import Watch, settle
from beacon_gateway.evaluation.watch_rows import EVALUATED, save_watches
from tracker.domain.alerts import close_alert, open_alert
from tracker.models import Alert, AlertEvent, AlertStatus, Declaration
from tracker.models import utcnow
from tracker.models.base import PortableJSON, UTCDateTime

log = logging.getLogger(__name__)
#: Declarations re-evaluated per statement (SQLite allows 500 parts in one UNION ALL).
CHUNK = 200
RESOLUTIONS = {
    "off_route": "back on the route", "unscheduled_stop": "moving again", "signal_lost": "signal back",
    "spoofing_suspected": "no further signs", "prohibited_zone": "left the zone",
    "arrived": "arrival seen in the beacon's positions", "late": "arrived after the planned window",
}
WITHDRAWN = "withdrawn: re-evaluation with later-delivered positions no longer shows this"


def reevaluate(session: Session, declaration_id: int, since: datetime | None = None,
               now: datetime | None = None, rules: Rules | None = None) -> list[Episode]:
    """Re-evaluate the declaration's track from ``since`` (fix time) and sync its alerts.

    ``since=None`` re-reads the whole track. ``now`` lets silence and lateness up to now
    count. Returns the episodes found in the window. Safe to run twice or concurrently.
    """
    return reevaluate_many(session, {declaration_id: since}, now=now, rules=rules).get(declaration_id, [])


def reevaluate_many(session: Session, since_by_declaration: Mapping[int, datetime | None],
                    now: datetime | None = None, rules: Rules | None = None) -> dict[int, list[Episode]]:
    """Re-evaluate several declarations (one batch of pings) with one round trip per step.

    The declarations are locked in id order (no deadlock between processes), then their
    alerts and their windows of fixes are read in one query each, evaluated, and synced.
    A declaration whose evaluation fails is logged and skipped; the others go on.
    """
    rules = rules or default_rules()
    ids = sorted(since_by_declaration)
    results: dict[int, list[Episode]] = {}
    for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
        results.update(_reevaluate_chunk(session, chunk, since_by_declaration, now, rules))
    return results


def _reevaluate_chunk(session: Session, ids: list[int], since_by_declaration: Mapping[int, datetime | None],
                      now: datetime | None, rules: Rules) -> dict[int, list[Episode]]:
    # The route (WKT, parsed on load) is needed only to build a plan not cached yet: deferred.
    declarations = session.scalars(
        select(Declaration).where(Declaration.id.in_(ids), Declaration.status.in_(EVALUATED),
                                  Declaration.route.is_not(None))
        .order_by(Declaration.id).with_for_update(of=Declaration).options(defer(Declaration.route))).all()
    alerts: dict[int, list[Alert]] = {d.id: [] for d in declarations}
    for alert in session.scalars(select(Alert).where(Alert.declaration_id.in_(list(alerts)),
                                                     Alert.alert_key.is_not(None))):
        alerts[alert.declaration_id].append(alert)       # type: ignore[index]
    windows = {d.id: _window_start(alerts[d.id], since_by_declaration[d.id], rules) for d in declarations}
    fixes = read_fixes_many(session, windows)
    plans = plans_for(session, declarations, rules)
    whole = {d.id for d in declarations if _needs_whole_track(d, plans[d.id], alerts[d.id], fixes[d.id],
                                                            windows[d.id])}
    if whole:
        windows.update(dict.fromkeys(whole))
        fixes.update(read_fixes_many(session, dict.fromkeys(whole)))
    results, watches = {}, {}
    for declaration in declarations:
        whole_track = _from_departure(fixes[declaration.id], windows[declaration.id])
        try:
            episodes, watches[declaration.id] = _evaluate(declaration, plans[declaration.id], alerts[declaration.id],
                                                          fixes[declaration.id], now, rules, whole_track)
        except Exception:  # noqa: BLE001 - one declaration's bad data must not stop the batch
            log.exception("evaluation of declaration %s failed", declaration.id)
            watches[declaration.id] = None       # its next fixes get every rule again
            continue
        in_scope = fixes[declaration.id][0].time if windows[declaration.id] and fixes[declaration.id] else None
        _sync(session, declaration, alerts[declaration.id], episodes, in_scope, now)
        results[declaration.id] = episodes
    session.flush()          # the chunk's alert updates together (executemany), not one round trip each
    save_watches(session, watches, now)
    return results


def _evaluate(declaration: Declaration, plan: Plan, alerts: list[Alert], fixes: list[Fix],
              now: datetime | None, rules: Rules, from_departure: bool) -> tuple[list[Episode], Watch | None]:
    """Return the episodes of the declaration's fixes, and its watch at the last of them (None: not quiet)."""
    track = Track.of(fixes, rules)
    episodes, arrival = evaluate_track(track, plan, rules, now=now,
                                       arrived_at=_known_arrival(declaration, plan, alerts),
                                       from_departure=from_departure)
    return episodes, settle(track, plan, rules, episodes, arrival is not None, from_departure)


def _known_arrival(declaration: Declaration, plan: Plan, alerts: list[Alert]) -> tuple[datetime, float, float] | None:
    """Return the arrival already known: the arrival alert, or custody's arrival at the destination if earlier."""
    known = next(((_start(a), a.lat, a.lon) for a in alerts if a.kind == ARRIVED), None)
    if declaration.arrived_at is not None and (known is None or declaration.arrived_at < known[0]):
        # Arrival recorded at the destination (custody) ends the trip even if no fix was inside the zone.
        destination = plan.destination or declaration.destination   # the plan's copy: no lazy load
        known = (declaration.arrived_at, destination.lat, destination.lon)
    return known


def _from_departure(fixes: list[Fix], window: datetime | None) -> bool:
    """Return whether ``fixes`` are the whole track: no window, or none stored before it."""
    return window is None or not fixes or fixes[0].time >= window


def _needs_whole_track(declaration: Declaration, plan: Plan, alerts: list[Alert], fixes: list[Fix],
                       window: datetime | None) -> bool:
    """Return whether arrival must be judged on the whole track: a window reaching the end zone, arrival unknown.

    Arrival needs the progress made since departure, which a window cannot show; this
    costs a whole read only while the vehicle is near its destination and not yet arrived.
    """
    if _from_departure(fixes, window) or plan.destination is None or _known_arrival(declaration, plan, alerts):
        return False
    lon = np.fromiter((f.lon for f in fixes), float, len(fixes))
    lat = np.fromiter((f.lat for f in fixes), float, len(fixes))
    return bool(plan.destination.contains(lon, lat).any())


def _start(alert: Alert) -> datetime:
    return from_iso(alert.details["start"])


def _end(alert: Alert) -> datetime | None:
    end = alert.details.get("end")
    return None if end is None else from_iso(end)


def _window_start(alerts: list[Alert], since: datetime | None, rules: Rules) -> datetime | None:
    """Return the first fix time to re-read (None: all), extended to episodes still going on."""
    if since is None:
        return None
    start = since - timedelta(seconds=rules.lookback_s)
    for alert in alerts:
        if alert.kind in ONCE_PER_DECLARATION or alert.kind not in KINDS:
            continue
        end = _end(alert)
        if end is None or end >= start:
            start = min(start, _start(alert))
    return start


def read_fixes(session: Session, declaration_id: int, since: datetime | None) -> list[Fix]:
    """Return the declaration's fixes from ``since`` (and the one before it), in fix-time order."""
    return read_fixes_many(session, {declaration_id: since})[declaration_id]


_COLUMNS = "SELECT declaration_id, fix_time, id, lat, lon, speed_kmh, flags FROM positions"
_WHOLE = _COLUMNS + " WHERE declaration_id = :d{i}"
_WINDOW = _WHOLE + (" AND fix_time >= COALESCE((SELECT max(fix_time) FROM positions"
                    " WHERE declaration_id = :d{i} AND fix_time < :s{i}), :s{i})")


def read_fixes_many(session: Session, windows: Mapping[int, datetime | None]) -> dict[int, list[Fix]]:
    """Return each declaration's fixes from its window start (and the one before), in one query.

    The fix before a window is found by a subquery on the (declaration_id, fix_time)
    index, so the cost does not grow with the table. Plain SQL text: building and
    compiling hundreds of parts as expressions would cost more than running them.
    """
    if not windows:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        return _fixes_postgresql(session, windows)
    fixes: dict[int, list[Fix]] = {declaration_id: [] for declaration_id in windows}
    for declaration_id, t, _id, lat, lon, speed, flags in sorted(_rows_portable(session, windows),
                                                                key=lambda r: (r[0], r[1], r[2])):
        fixes[declaration_id].append(Fix(t, lat, lon, speed, tuple(flags) if flags else ()))
    return fixes


#: PostgreSQL: one constant statement (prepared once) for any number of declarations, in
#: (declaration, fix time, id) order. The fix before a window is sought from the departure
#: on (a declaration's fixes are never older), so the months before the trip are pruned. It hands back what needs no conversion: the fix time
#: as UTC without a zone, the flags as text and only when there are any (most fixes have none).
_LATERAL = text(
    "SELECT p.declaration_id, p.fix_time AT TIME ZONE 'UTC', p.lat, p.lon, p.speed_kmh,"
    " NULLIF(p.flags, '[]'::jsonb)::text"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:sinces AS timestamptz[])) AS w(declaration_id, since)"
    " CROSS JOIN LATERAL (SELECT * FROM positions q WHERE q.declaration_id = w.declaration_id"
    " AND q.fix_time >= COALESCE((SELECT max(r.fix_time) FROM positions r"
    " WHERE r.declaration_id = w.declaration_id AND r.fix_time < w.since"
    " AND r.fix_time >= (SELECT COALESCE(d.departed_at, '-infinity') FROM declarations d"
    " WHERE d.id = w.declaration_id)), w.since)) AS p"
    " ORDER BY p.declaration_id, p.fix_time, p.id"
)
#: Stands for "from the beginning" in the PostgreSQL statement.
_BEGINNING = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _fixes_postgresql(session: Session, windows: Mapping[int, datetime | None]) -> dict[int, list[Fix]]:
    ids = sorted(windows)
    sinces = [windows[i] or _BEGINNING for i in ids]
    rows = session.connection().exec_driver_sql(*_driver_sql(session, ids, sinces)).all()
    fixes: dict[int, list[Fix]] = {declaration_id: [] for declaration_id in ids}
    utc = timezone.utc
    for declaration_id, t, lat, lon, speed, flags in rows:
        fixes[declaration_id].append(Fix(t.replace(tzinfo=utc), lat, lon, speed, _flags(flags) if flags else ()))
    return fixes


@lru_cache(maxsize=256)
def _flags(text: str) -> tuple[str, ...]:
    """Return stored flags (JSON text) as a tuple; the few combinations that occur are decoded once."""
    return tuple(json.loads(text))


def _driver_sql(session: Session, ids: list[int], sinces: list[datetime]) -> tuple[str, dict[str, object]]:
    """Return the statement in the driver's own parameter style, bypassing per-row type processing."""
    return _compiled(session.get_bind().dialect), {"ids": ids, "sinces": sinces}


@lru_cache(maxsize=4)
def _compiled(dialect: Dialect) -> str:
    return str(_LATERAL.compile(dialect=dialect))


def _rows_portable(session: Session, windows: Mapping[int, datetime | None]) -> list:
    parts, params, binds = [], {}, []
    for i, (declaration_id, since) in enumerate(windows.items()):
        params[f"d{i}"] = declaration_id
        if since is None:
            parts.append(_WHOLE.format(i=i))
        else:
            parts.append(_WINDOW.format(i=i))
            params[f"s{i}"] = since
            binds.append(bindparam(f"s{i}", type_=UTCDateTime()))
    query = text(" UNION ALL ".join(parts)).bindparams(*binds).columns(
        declaration_id=Integer(), fix_time=UTCDateTime(), id=Integer(), lat=Float(), lon=Float(),
        speed_kmh=Float(), flags=PortableJSON)
    return session.connection().execute(query, params).all()


def _sync(session: Session, declaration: Declaration, alerts: list[Alert], episodes: list[Episode],
          in_scope: datetime | None, now: datetime | None) -> None:
    """Open, update, close, reopen or withdraw alerts so they match the episodes.

    Exact keys match first, then overlaps (an episode whose start moved); what is left
    over is withdrawn before any key changes, so the unique key never clashes midway.
    Updates are flushed by the caller, once for all the declarations of a chunk.
    """
    by_key = {a.alert_key: a for a in alerts}
    pairs = {i: by_key.get(e.key(declaration.id)) for i, e in enumerate(episodes)}
    taken = {id(a) for a in pairs.values() if a is not None}
    loose = [a for a in alerts if id(a) not in taken and a.resolved_by_id is None and a.kind in KINDS
             and (a.kind in ONCE_PER_DECLARATION or in_scope is None or _start(a) >= in_scope)]
    for i, episode in enumerate(episodes):
        if pairs[i] is None and (alert := _overlapping(loose, episode)) is not None:
            pairs[i] = alert
            loose.remove(alert)
    for alert in loose:
        _withdraw(session, alert, now)
    if loose:
        session.flush()                          # the withdrawn keys are free before any is reused
    for i, episode in enumerate(episodes):
        alert = pairs[i]
        if alert is None:
            alert = open_alert(session, kind=episode.kind, severity=episode.severity, declaration=declaration,
                               details=episode.summary(), lat=episode.lat, lon=episode.lon,
                               at=episode.opened_at, note=f"{episode.kind} (route evaluation)")
        _update(session, alert, episode, episode.key(declaration.id))


def _overlapping(alerts: list[Alert], episode: Episode) -> Alert | None:
    """Return an alert of the same kind and subject whose time overlaps the episode's."""
    for alert in alerts:
        if alert.kind != episode.kind or alert.details.get("subject", "") != episode.subject:
            continue
        if episode.kind in ONCE_PER_DECLARATION:
            return alert
        end, episode_end = _end(alert), episode.end
        if (end is None or end >= episode.start) and (episode_end is None or episode_end >= _start(alert)):
            return alert
    return None


def _update(session: Session, alert: Alert, episode: Episode, key: str) -> None:
    """Bring one alert in line with its episode (details, open/closed)."""
    details = episode.summary()
    if alert.alert_key != key:
        alert.alert_key = key
    if alert.details != details:
        alert.details, alert.lat, alert.lon = details, episode.lat, episode.lon
    if alert.resolved_by_id is not None:
        return                                   # a person closed it: their word stands
    if alert.opened_at != episode.opened_at:
        alert.opened_at = episode.opened_at
    if episode.closed_at is not None and alert.status == AlertStatus.CLOSED:
        alert.closed_at = max(episode.closed_at, alert.opened_at)
    if episode.closed_at is not None and alert.status != AlertStatus.CLOSED:
        close_alert(session, alert, None, RESOLUTIONS.get(episode.kind, "ended"),
                    at=max(episode.closed_at, alert.opened_at))
    elif episode.closed_at is None and alert.status == AlertStatus.CLOSED and alert.resolved_by_id is None:
        alert.status, alert.closed_at, alert.resolution = AlertStatus.OPEN, None, ""
        alert.history.append(AlertEvent(action="reopened", at=episode.opened_at, actor_name="system",
                                        note="later positions show it still going on"))
        session.flush()


def _withdraw(session: Session, alert: Alert, now: datetime | None) -> None:
    """Close an alert no episode supports any more; it stays as a record of what was raised."""
    alert.alert_key = None
    alert.details = {**alert.details, "withdrawn": True}
    if alert.status != AlertStatus.CLOSED:
        close_alert(session, alert, None, WITHDRAWN, at=max(now or utcnow(), alert.opened_at))
