"""Device identity checks the servers need before any position arrives (TCP logins)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.models import Beacon


def is_registered_beacon(sessions: sessionmaker[Session], device_id: str) -> bool:
    """Return whether ``device_id`` (an IMEI, a login id) is a registered beacon."""
    with sessions() as session:
        return session.scalar(select(Beacon.id).where(Beacon.device_id == device_id)) is not None
