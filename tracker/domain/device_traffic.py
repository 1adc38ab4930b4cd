"""What the beacons have sent: per-beacon counts (the kept messages are in ``device_messages``).

The gateway writes both (``beacon_gateway.evidence``); the admin's device page reads them here.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import DeviceTraffic


def traffic_by_beacon(session: Session, beacon_ids: Sequence[int]) -> dict[int, DeviceTraffic]:
    """Return each beacon's counts (messages, positions, unknown, refused, unrecorded) by beacon id."""
    if not beacon_ids:
        return {}
    rows = session.scalars(select(DeviceTraffic).where(DeviceTraffic.beacon_id.in_(sorted(beacon_ids))))
    return {row.beacon_id: row for row in rows}

