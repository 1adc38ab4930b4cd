"""What the beacons have sent: per-beacon counts and the messages kept as evidence.

The gateway writes both (``beacon_gateway.evidence``); the admin's device page reads them here.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import DeviceMessage, DeviceTraffic


def traffic_by_beacon(session: Session, beacon_ids: Sequence[int]) -> dict[int, DeviceTraffic]:
    """Return each beacon's counts (messages, positions, unknown, refused, unrecorded) by beacon id."""
    if not beacon_ids:
        return {}
    rows = session.scalars(select(DeviceTraffic).where(DeviceTraffic.beacon_id.in_(sorted(beacon_ids))))
    return {row.beacon_id: row for row in rows}


def recent_messages(session: Session, beacon_id: int, limit: int = 50) -> list[DeviceMessage]:
    """Return the latest messages of a beacon kept as evidence, newest first."""
    return list(session.scalars(select(DeviceMessage).where(DeviceMessage.beacon_id == beacon_id)
                                .order_by(DeviceMessage.id.desc()).limit(limit)))
