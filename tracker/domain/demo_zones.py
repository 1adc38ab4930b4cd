"""Demo zones for route evaluation: the Too-Ashuu tunnel and a border zone off every demo route."""
from __future__ import annotations

from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Zone, ZoneKind

#: (name, kind, west, south, east, north), approximate, for demo data only.
DEMO_ZONES = (
    ("Too-Ashuu tunnel and its approaches (no mobile coverage)", ZoneKind.DEAD_ZONE, 73.68, 42.25, 73.86, 42.43),
    ("Sokh enclave border zone (Uzbekistan)", ZoneKind.PROHIBITED, 70.95, 39.85, 71.20, 40.05),
)


def add_demo_zones(session: Session) -> list[Zone]:
    """Add the demo zones that are missing (by name) and return them all; running it again adds nothing."""
    have = {z.name: z for z in session.scalars(select(Zone).where(Zone.name.in_([n for n, *_ in DEMO_ZONES])))}
    for name, kind, west, south, east, north in DEMO_ZONES:
        if name not in have:
            have[name] = Zone(name=name, kind=kind, polygon=box(west, south, east, north))
            session.add(have[name])
    session.flush()
    return [have[name] for name, *_ in DEMO_ZONES]
