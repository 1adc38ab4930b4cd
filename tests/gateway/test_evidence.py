"""Traffic counts gathered in memory: merged across batches, kept when a flush fails."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from beacon_gateway.evidence import Evidence, EvidenceBound, TrafficCounts
from tracker.models import DeviceTraffic

T0 = datetime(2026, 12, 4, 10, 30, tzinfo=timezone.utc)


def failing_sessions():  # type: ignore[no-untyped-def]
    raise ConnectionError("database away")


def test_counts_of_a_failed_flush_are_written_by_the_next(db, sessions, make_beacon) -> None:
    beacon = make_beacon()
    traffic = TrafficCounts()
    traffic.add({beacon.id: Counter(messages=1, positions=3)}, T0)
    traffic.add({beacon.id: Counter(messages=1, unknown=1)}, T0 + timedelta(seconds=30))
    traffic.flush(failing_sessions)              # logged; the counts wait
    assert db.get(DeviceTraffic, beacon.id) is None
    traffic.flush(sessions)
    row = db.get(DeviceTraffic, beacon.id)
    assert (row.messages, row.positions, row.unknown, row.refused) == (2, 3, 1, 0)
    assert row.last_message_at == T0 + timedelta(seconds=30)


def test_the_bound_counts_per_device_and_resets_with_the_hour() -> None:
    now = [7200.0]
    bound = EvidenceBound(per_hour=1, max_keys=2, clock=lambda: now[0])
    item = Evidence("dev", "gt06", "unknown", "x", b"\x00")
    assert [bound.bounded(item, key).recorded for key in ("a", "a", "b", "c")] == [True, False, True, False]
    now[0] += 3600                               # the next hour begins
    assert bound.bounded(item, "a").recorded is True
