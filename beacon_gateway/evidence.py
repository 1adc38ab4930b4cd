"""Messages that did not become positions, kept as evidence, and each beacon's traffic counts.

The servers describe every such message (login, heartbeat, unknown packet type, unreadable
bytes ...) as an ``Evidence`` and submit it to the batch writer with or without positions;
``record`` writes it in the same transaction as the batch's positions and returns the batch's
per-beacon counts, which ``TrafficCounts`` gathers once committed and adds to
``device_traffic`` every few seconds (one statement per flush). ``EvidenceBound`` keeps
a device that floods garbage from filling the disk: past its hourly allowance a message is
still counted (``unrecorded``) but its bytes are not kept.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway import protocols
from beacon_gateway.pipeline import INVALID, Ping
from tracker.models import Beacon, DeviceMessage, DeviceTraffic, utcnow
from tracker.models.device_messages import COUNTERS, MAX_RAW_BYTES

log = logging.getLogger(__name__)
Counts = dict[int, Counter[str]]
#: kinds counted as "unknown" on the device page
UNKNOWN_KINDS = frozenset({"unknown", "malformed"})
PER_HOUR = 240          # kept messages per device (or address, before a login) and hour
FLUSH_S = 15.0          # how often the gathered traffic counts are written
MAX_KEYS = 50_000       # devices tracked per hour; past this, new ones are counted, not kept


@dataclass(frozen=True, slots=True)
class Evidence:
    """One message a device sent that is not a position, and why it is kept."""

    device_id: str | None        # the identity claimed; None before any login
    protocol: str
    kind: str                    # a tracker.models.device_messages.MESSAGE_KINDS value
    reason: str
    raw: bytes
    received_at: datetime = field(default_factory=utcnow)
    recorded: bool = True        # False: over the bound, counted but not kept


class EvidenceBound:
    """Allow at most ``per_hour`` kept messages per key (device id or address) and clock hour."""

    def __init__(self, per_hour: int = PER_HOUR, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_hour, self.max_keys, self.clock = per_hour, max_keys, clock
        self._hour, self._kept = -1, Counter[str]()
        self._lock = threading.Lock()

    def bounded(self, evidence: Evidence, key: str) -> Evidence:
        """Return ``evidence`` as is while ``key`` is within its allowance, else marked unrecorded."""
        hour = int(self.clock() // 3600)
        with self._lock:
            if hour != self._hour:
                self._hour, self._kept = hour, Counter()
            full = self._kept[key] >= self.per_hour or (key not in self._kept and len(self._kept) >= self.max_keys)
            if not full:
                self._kept[key] += 1
        return replace(evidence, recorded=False) if full else evidence


def record(session: Session, pings: Sequence[Ping], evidence: Sequence[Evidence]) -> Counts:
    """Insert the kept evidence; return this batch's per-beacon counts (added once it commits)."""
    beacons = _beacon_ids(session, {e.device_id for e in evidence if e.device_id})
    rows = [_message_row(e, beacons.get(e.device_id or "")) for e in evidence if e.recorded]
    rows += [_refused_row(ping) for ping in pings if ping.rejection == INVALID and ping.beacon_id is not None]
    if rows:
        session.execute(insert(DeviceMessage), rows)
    return _tally(pings, evidence, beacons)


class TrafficCounts:
    """Committed batches' counts, gathered in memory and written every ``flush_s`` seconds.

    Adding to ``device_traffic`` in every batch's transaction would cost about half as much
    as storing the positions themselves (one updated row per beacon per batch); gathered, a
    beacon's row is updated once per flush. A crash loses at most ``flush_s`` of counts,
    never a position or a kept message.
    """

    def __init__(self, flush_s: float = FLUSH_S) -> None:
        self.flush_s = flush_s
        self._counts: Counts = defaultdict(Counter)
        self._last: dict[int, datetime] = {}       # each beacon's latest counted message
        self._flushed_at = time.monotonic()
        self._lock = threading.Lock()

    def add(self, counts: Counts, now: datetime) -> None:
        """Add a committed batch's counts."""
        with self._lock:
            for beacon_id, counter in counts.items():
                self._counts[beacon_id].update(counter)
                self._last[beacon_id] = max(now, self._last.get(beacon_id, now))

    def due(self) -> bool:
        """Return whether ``flush_s`` has passed since the last flush."""
        return time.monotonic() - self._flushed_at >= self.flush_s

    def flush(self, sessions: sessionmaker[Session]) -> None:
        """Write the gathered counts in one transaction; on failure they are kept for the next flush."""
        with self._lock:
            counts, last = self._counts, self._last
            self._counts, self._last, self._flushed_at = defaultdict(Counter), {}, time.monotonic()
        if not counts:
            return
        try:
            with sessions() as session:
                _add_counts(session, counts, last)
                session.commit()
        except Exception:  # noqa: BLE001 - counts wait for the next flush; positions never wait for them
            log.exception("traffic counts of %d beacons not written; kept for the next flush", len(counts))
            for beacon_id, counter in counts.items():
                self.add({beacon_id: counter}, last[beacon_id])


def _beacon_ids(session: Session, device_ids: set[str]) -> dict[str, int]:
    if not device_ids:
        return {}
    rows = session.execute(select(Beacon.device_id, Beacon.id).where(Beacon.device_id.in_(sorted(device_ids))))
    return {device_id: beacon_id for device_id, beacon_id in rows}


def _message_row(evidence: Evidence, beacon_id: int | None) -> dict[str, Any]:
    return {"device_id": (evidence.device_id or None) and evidence.device_id[:64], "beacon_id": beacon_id,
            "protocol": evidence.protocol, "received_at": evidence.received_at, "kind": evidence.kind,
            "reason": evidence.reason[:500], "raw": bytes(evidence.raw[:MAX_RAW_BYTES]), "size": len(evidence.raw)}


def _refused_row(ping: Ping) -> dict[str, Any]:
    """A ping of an authenticated beacon refused for its values (kept: the device meant it)."""
    position = ping.position
    refused = Evidence(position.device_id, position.protocol, "refused", f"ping refused: {ping.reason}",
                       bytes(position.raw))
    return _message_row(refused, ping.beacon_id)


def _tally(pings: Sequence[Ping], evidence: Iterable[Evidence], beacons: dict[str, int]) -> Counts:
    """Per beacon: messages (one per submission of pings, one per evidence), positions, unknown, refused."""
    counts: Counts = defaultdict(Counter)
    # One pass over the batch (it holds up to a thousand pings): per submission, its beacon and sums.
    per_submission: dict[int, list[Any]] = {}
    for ping in pings:
        entry = per_submission.get(ping.submission)
        if entry is None:
            entry = per_submission[ping.submission] = [ping.beacon_id, 0, 0]
        elif entry[0] is None:
            entry[0] = ping.beacon_id
        entry[1] += ping.stored
        entry[2] += ping.rejection is not None
    for beacon_id, positions, refused in per_submission.values():
        if beacon_id is not None:
            counter = counts[beacon_id]
            counter["messages"] += 1
            counter["positions"] += positions
            counter["refused"] += refused
    for item in evidence:
        beacon_id = beacons.get(item.device_id or "")
        if beacon_id is not None:
            counts[beacon_id].update(messages=1, unknown=int(item.kind in UNKNOWN_KINDS),
                                     refused=int(item.kind == "refused"), unrecorded=int(not item.recorded))
    return counts


def _add_counts(session: Session, counts: Counts, last: dict[int, datetime]) -> None:
    """Upsert the counts, in beacon order (two writers never wait on each other in a cycle)."""
    rows = [{"beacon_id": beacon_id, **{name: counts[beacon_id][name] for name in COUNTERS},
             "last_message_at": last[beacon_id]} for beacon_id in sorted(counts)]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_UNNEST_UPSERT, {name: [row[name] for row in rows] for name in rows[0]})
        return
    statement = sqlite.insert(DeviceTraffic.__table__)
    session.execute(statement.on_conflict_do_update(
        index_elements=["beacon_id"],
        set_={**{name: getattr(DeviceTraffic.__table__.c, name) + getattr(statement.excluded, name)
                 for name in COUNTERS}, "last_message_at": statement.excluded.last_message_at}), rows)


_TYPES = {"beacon_id": "integer[]", **{name: "bigint[]" for name in COUNTERS}, "last_message_at": "timestamptz[]"}
#: one statement per batch whatever the number of beacons (arrays, not one parameter per value)
_UNNEST_UPSERT = text(
    f"INSERT INTO device_traffic ({', '.join(_TYPES)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind})" for name, kind in _TYPES.items())
    + ") ON CONFLICT (beacon_id) DO UPDATE SET "
    + ", ".join(f"{name} = device_traffic.{name} + excluded.{name}" for name in COUNTERS)
    + ", last_message_at = GREATEST(device_traffic.last_message_at, excluded.last_message_at)")


def packet_type(item: Evidence) -> int | str:
    """Return a kept message's packet type as its protocol's registry entry reads it (GT06 protocol
    number, Teltonika codec id), else its kind."""
    protocol = protocols.find(item.protocol)
    number = protocol.packet_type(item.raw) if protocol is not None and protocol.packet_type else None
    return item.kind if number is None else number
