"""The demo's trip in transit: the export Khaidarkan → Ak-Jol that `make run` keeps driving.

`make run` asks for it by reference (``flask demo --trip``) and drives that declaration,
not "the newest to depart": a declaration a user files and dispatches in the demo portal
must not take the demo truck's place (its route may not even pass the Too-Ashuu tunnel).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.demo_data import BEACONS
from tracker.models import Beacon, Declaration, DeclarationKind, DeclarationStatus

#: The demo truck's beacon (truck 09 KG 482 AAH, OsmAnd).
DEMO_TRUCK_BEACON = BEACONS["truck1"][0]


def demo_trip(session: Session) -> Declaration | None:
    """Return the demo's export in transit on the demo truck's beacon, or None.

    The demo loads it before any user can file anything, so of the declarations on that
    beacon it is the first; a user's later one on the same beacon is never taken for it.
    """
    first = session.scalars(
        select(Declaration).join(Beacon, Declaration.beacon_id == Beacon.id)
        .where(Beacon.device_id == DEMO_TRUCK_BEACON, Declaration.kind == DeclarationKind.EXPORT)
        .order_by(Declaration.id).limit(1)).one_or_none()
    return first if first is not None and first.status == DeclarationStatus.IN_TRANSIT else None
