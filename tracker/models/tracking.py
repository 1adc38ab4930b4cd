"""Beacons, the positions they report, and the alerts raised on declarations."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import (
    Base,
    PortableJSON,
    UTCDateTime,
    enum_type,
    lat_lon_checks,
    utcnow,
)
from tracker.models.enums import AlertSeverity, AlertStatus, BeaconProtocol

if TYPE_CHECKING:
    from tracker.models.declarations import Declaration
    from tracker.models.parties import Dealer
    from tracker.models.users import DeviceToken, User

#: 64-bit ids on PostgreSQL, rowid aliases on SQLite (which only autoincrements INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Beacon(Base):
    """A GPS device fixed to a vehicle or container, known by its device id (e.g. IMEI)."""

    __tablename__ = "beacons"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    protocol: Mapped[BeaconProtocol] = mapped_column(enum_type(BeaconProtocol, "protocol"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    description: Mapped[str] = mapped_column(String(200), default="")
    reporting_period_s: Mapped[int] = mapped_column(Integer, default=300)
    #: CIDR networks a TCP (IMEI-identified) beacon may connect from; empty: any address.
    allowed_networks: Mapped[list[str]] = mapped_column(PortableJSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Dealer | None] = relationship()
    tokens: Mapped[list[DeviceToken]] = relationship(back_populates="beacon")
    #: The approved or moving declaration the beacon reports for (at most one: a unique index).
    assigned_declaration: Mapped[Declaration | None] = relationship(
        primaryjoin="and_(Declaration.beacon_id == Beacon.id,"
                    " Declaration.status.in_(['approved', 'in_transit']))",
        viewonly=True, uselist=False,
    )

    @property
    def label(self) -> str:
        """Name the beacon by device id."""
        return self.device_id


class Position(Base):
    """One fix reported by a beacon, kept as evidence with its raw message and flags."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("beacon_id", "fix_time"),
        Index("ix_positions_declaration_fix_time", "declaration_id", "fix_time"),
        *lat_lon_checks(),
        CheckConstraint("speed_kmh IS NULL OR speed_kmh >= 0", name="speed_not_negative"),
        CheckConstraint("course IS NULL OR (course >= 0 AND course < 360)", name="course_range"),
        CheckConstraint("satellites IS NULL OR satellites >= 0", name="satellites_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    beacon_id: Mapped[int] = mapped_column(ForeignKey("beacons.id"))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"))
    fix_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    hdop: Mapped[float | None] = mapped_column(Float)
    satellites: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    protocol: Mapped[BeaconProtocol] = mapped_column(enum_type(BeaconProtocol, "protocol"))
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    beacon: Mapped[Beacon] = relationship()

    @property
    def label(self) -> str:
        """Name the position by beacon and fix time."""
        return f"{self.beacon_id}@{self.fix_time:%Y-%m-%dT%H:%M:%SZ}"


class Alert(Base):
    """Something an officer or auditor must look at, with its acknowledgement and resolution."""

    __tablename__ = "alerts"
    __table_args__ = (
        *lat_lon_checks(),
        CheckConstraint("closed_at IS NULL OR closed_at >= opened_at", name="closed_after_opened"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_time"),
        Index("ix_alerts_status_opened_at", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[AlertSeverity] = mapped_column(enum_type(AlertSeverity, "severity"))
    status: Mapped[AlertStatus] = mapped_column(enum_type(AlertStatus, "status"), default=AlertStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Identity of a rule-raised episode (declaration, kind, start): re-evaluation never duplicates it.
    alert_key: Mapped[str | None] = mapped_column(String(160), unique=True)

    declaration: Mapped[Declaration | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    history: Mapped[list[AlertEvent]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", order_by="AlertEvent.id"
    )

    @property
    def label(self) -> str:
        """Name the alert by kind and id."""
        return f"{self.kind}#{self.id}"


class AlertEvent(Base):
    """One step in an alert's life: opened, acknowledged, explained, closed (who, when, why)."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint("action IN ('opened', 'acknowledged', 'explained', 'closed', 'reopened', 'updated')",
                        name="action_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(120), default="system")
    note: Mapped[str] = mapped_column(Text, default="")

    alert: Mapped[Alert] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """Name the step by action and time."""
        return f"{self.action}@{self.at:%Y-%m-%dT%H:%M:%SZ}"
