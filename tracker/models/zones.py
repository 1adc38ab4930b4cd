"""Zones along routes: dead zones (no signal expected) and prohibited areas."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tracker.models.base import Base, Geometry, UTCDateTime, enum_type, require, utcnow

if TYPE_CHECKING:
    from tracker.models.declarations import Declaration


class ZoneKind(StrEnum):
    """What a zone means for route evaluation."""

    DEAD_ZONE = "dead_zone"     # no mobile coverage (a tunnel, a gorge): signal loss is expected
    PROHIBITED = "prohibited"   # a mercury transport must not enter (a border strip off the route)


class Zone(Base):
    """A polygon (lon/lat) that applies to one declaration, or to all when ``declaration_id`` is empty."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ZoneKind] = mapped_column(enum_type(ZoneKind, "kind"))
    polygon: Mapped[Polygon | MultiPolygon] = mapped_column(Geometry)
    declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    declaration: Mapped[Declaration | None] = relationship()

    @property
    def label(self) -> str:
        """Name the zone by kind and name."""
        return f"{self.kind}:{self.name}"

    @validates("polygon")
    def _check_polygon(self, _key: str, value: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
        require(value.geom_type in ("Polygon", "MultiPolygon") and value.is_valid,
                "a zone is a valid polygon")
        west, south, east, north = value.bounds
        require(-180 <= west <= east <= 180 and -90 <= south <= north <= 90, "zone off the globe")
        return value
