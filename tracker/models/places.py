"""Checkpoints: where custody is recorded and routes are checked."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from tracker.models.base import Base, PortableJSON, enum_type, lat_lon_checks, require
from tracker.models.enums import CheckpointKind


class Checkpoint(Base):
    """A named place with a point location and a zone radius."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        *lat_lon_checks(),
        CheckConstraint("radius_m > 0", name="radius_positive"),
        CheckConstraint("length(country) = 2", name="country_iso2"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: The name in the portal's other languages, {"ru": ..., "ky": ...}; see tracker.domain.place_names.
    names: Mapped[dict[str, str]] = mapped_column(PortableJSON, default=dict, server_default="{}")
    kind: Mapped[CheckpointKind] = mapped_column(enum_type(CheckpointKind, "kind"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer, default=500)
    country: Mapped[str] = mapped_column(String(2), default="KG")
    neighbour_country: Mapped[str | None] = mapped_column(String(2))

    @property
    def label(self) -> str:
        """Name the checkpoint by its code."""
        return self.code

    @validates("lat")
    def _check_lat(self, _key: str, value: float) -> float:
        require(-90 <= value <= 90, f"latitude out of range: {value}")
        return value

    @validates("lon")
    def _check_lon(self, _key: str, value: float) -> float:
        require(-180 <= value <= 180, f"longitude out of range: {value}")
        return value
