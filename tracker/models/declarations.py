"""Transport declarations: the movement document and its parts."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from shapely.geometry import LineString, Polygon
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tracker.models.base import (
    Base,
    Geometry,
    UTCDateTime,
    enum_type,
    lat_lon_checks,
    positive,
    require,
    utcnow,
)
from tracker.models.enums import DeclarationKind, DeclarationStatus

if TYPE_CHECKING:
    from tracker.models.containers import Container
    from tracker.models.parties import Dealer, ExportConsent, ImportApproval
    from tracker.models.places import Checkpoint
    from tracker.models.tracking import Beacon
    from tracker.models.users import User

DEFAULT_CORRIDOR_M = 500
#: The most points a stored (simplified) route may have: the corridor's cost ceiling
#: (tracker/domain/route_geometry.py; bench/geometry.py measures it).
MAX_ROUTE_VERTICES = 10_000
_BEACON_BUSY = "status IN ('approved', 'in_transit')"


class PlaceRole(StrEnum):
    """What a place is to a declaration's route."""

    ORIGIN = "origin"
    CHECKPOINT = "checkpoint"
    DESTINATION = "destination"


class RoutePlace(NamedTuple):
    """One place of a declaration's route and its role there."""

    checkpoint: Checkpoint
    role: PlaceRole


class Declaration(Base):
    """A declared movement of mercury containers from an origin to a destination."""

    __tablename__ = "declarations"
    __table_args__ = (
        CheckConstraint("corridor_m > 0 AND corridor_m <= 50000", name="corridor_range"),
        CheckConstraint(
            "planned_arrival IS NULL OR planned_departure IS NULL"
            " OR planned_arrival > planned_departure",
            name="window_order",
        ),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'rejected', 'cancelled') OR reference IS NOT NULL",
            name="approved_has_reference",
        ),
        CheckConstraint("status IN ('draft', 'cancelled') OR route IS NOT NULL", name="submitted_has_route"),
        Index(
            "uq_declarations_beacon_busy", "beacon_id", unique=True,
            sqlite_where=text(_BEACON_BUSY), postgresql_where=text(_BEACON_BUSY),
        ),
        Index("ix_declarations_status_departure", "status", "planned_departure"),
        Index("ix_declarations_departed_at", "departed_at"),   # flows by period of departure (audit)
        Index("ix_declarations_beacon_departed", "beacon_id", "departed_at"),   # a beacon's trips (gateway)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    kind: Mapped[DeclarationKind] = mapped_column(enum_type(DeclarationKind, "kind"))
    status: Mapped[DeclarationStatus] = mapped_column(
        enum_type(DeclarationStatus, "status"), default=DeclarationStatus.DRAFT
    )
    declarant_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    consignor_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    consignee_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    import_approval_id: Mapped[int | None] = mapped_column(ForeignKey("import_approvals.id"))
    export_consent_id: Mapped[int | None] = mapped_column(ForeignKey("export_consents.id"))
    #: The route the declaration is judged by: the uploaded one simplified (see route_geometry.py).
    route: Mapped[LineString | None] = mapped_column(Geometry)
    #: The route as the trader gave it (GPX file or waypoints), kept as evidence.
    route_uploaded: Mapped[LineString | None] = mapped_column(Geometry, deferred=True)
    #: How far (metres) a point of ``route_uploaded`` may be from ``route``.
    route_tolerance_m: Mapped[float | None] = mapped_column(Float)
    #: The corridor around ``route`` (lon, lat), built when the route or its width is saved.
    corridor_outline: Mapped[Polygon | None] = mapped_column(Geometry, deferred=True)
    corridor_m: Mapped[int] = mapped_column(Integer, default=DEFAULT_CORRIDOR_M)
    beacon_id: Mapped[int | None] = mapped_column(ForeignKey("beacons.id"))
    vehicle: Mapped[str] = mapped_column(String(80), default="")
    planned_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Report of receipt: when the consignee received the goods, who reported it, remarks.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    receipt_remarks: Mapped[str] = mapped_column(Text, default="")

    declarant: Mapped[Dealer] = relationship(foreign_keys=[declarant_id])
    consignor: Mapped[Dealer] = relationship(foreign_keys=[consignor_id])
    consignee: Mapped[Dealer] = relationship(foreign_keys=[consignee_id])
    origin: Mapped[Checkpoint] = relationship(foreign_keys=[origin_id])
    destination: Mapped[Checkpoint] = relationship(foreign_keys=[destination_id])
    import_approval: Mapped[ImportApproval | None] = relationship()
    export_consent: Mapped[ExportConsent | None] = relationship()
    beacon: Mapped[Beacon | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    items: Mapped[list[DeclarationItem]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="DeclarationItem.container_id"
    )
    expected_checkpoints: Mapped[list[ExpectedCheckpoint]] = relationship(
        cascade="all, delete-orphan", order_by="ExpectedCheckpoint.seq"
    )
    authorised_stops: Mapped[list[AuthorisedStop]] = relationship(
        cascade="all, delete-orphan", order_by="AuthorisedStop.seq"
    )

    @property
    def label(self) -> str:
        """Name the declaration by reference, or by number until it has one."""
        return self.reference or f"#{self.id}"

    @property
    def route_places(self) -> list[RoutePlace]:
        """Return the declaration's places in route order: origin, expected checkpoints, destination.

        The one list custody, scans, compliance, exports and maps walk; a checkpoint named
        twice (a round trip's origin and destination) appears at each of its places.
        """
        return [RoutePlace(self.origin, PlaceRole.ORIGIN),
                *(RoutePlace(e.checkpoint, PlaceRole.CHECKPOINT) for e in self.expected_checkpoints),
                RoutePlace(self.destination, PlaceRole.DESTINATION)]

    @property
    def route_checkpoint_ids(self) -> list[int]:
        """Return the ids of the route's checkpoints in order, each once."""
        return list(dict.fromkeys([self.origin_id, *(e.checkpoint_id for e in self.expected_checkpoints),
                                   self.destination_id]))

    @property
    def declared_net_g(self) -> int:
        """Return the total declared net mass in grams."""
        return sum(item.declared_net_g for item in self.items)

    @validates("corridor_m")
    def _check_corridor(self, _key: str, value: int) -> int:
        require(0 < value <= 50_000, f"corridor width must be 1..50000 m, got {value}")
        return value

    @validates("route")
    def _check_route(self, _key: str, value: LineString | None) -> LineString | None:
        if value is not None:
            require(value.geom_type == "LineString" and len(value.coords) >= 2,
                    "a route is a line of at least two points")
            require(len(value.coords) <= MAX_ROUTE_VERTICES,
                    f"a stored route has at most {MAX_ROUTE_VERTICES} points, got {len(value.coords)}")
            for lon, lat, *_ in value.coords:
                require(-180 <= lon <= 180 and -90 <= lat <= 90, f"route point off the globe: {lat}, {lon}")
        return value


class DeclarationItem(Base):
    """One container on a declaration with its declared net mass."""

    __tablename__ = "declaration_items"
    __table_args__ = (
        positive("declared_net_g"),
        CheckConstraint("received_net_g IS NULL OR received_net_g >= 0", name="received_not_negative"),
    )

    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), primary_key=True
    )
    container_id: Mapped[int] = mapped_column(ForeignKey("containers.id"), primary_key=True, index=True)
    declared_net_g: Mapped[int] = mapped_column(BigInteger)
    received_net_g: Mapped[int | None] = mapped_column(BigInteger)
    #: Seal found intact on receipt (None until the report of receipt).
    seal_intact: Mapped[bool | None] = mapped_column(Boolean)

    declaration: Mapped[Declaration] = relationship(back_populates="items")
    container: Mapped[Container] = relationship()

    @validates("declared_net_g")
    def _check_mass(self, _key: str, value: int) -> int:
        require(isinstance(value, int) and value > 0, "declared net mass must be whole grams > 0")
        return value


class ExpectedCheckpoint(Base):
    """A checkpoint the declared route must pass, in order."""

    __tablename__ = "expected_checkpoints"
    __table_args__ = (
        UniqueConstraint("declaration_id", "checkpoint_id"),
        CheckConstraint("seq >= 0", name="seq_not_negative"),
    )

    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)

    checkpoint: Mapped[Checkpoint] = relationship()


class AuthorisedStop(Base):
    """A place on the route where the vehicle may stop (rest area, depot)."""

    __tablename__ = "authorised_stops"
    __table_args__ = (*lat_lon_checks(), CheckConstraint("radius_m > 0", name="radius_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer, default=300)
