"""What devices sent that did not become a position, and each beacon's traffic counts.

Nothing a device sends is dropped silently: a login, heartbeat, cell-only report, command
answer, unknown packet type or unreadable bytes is kept here with the reason, its raw bytes
bounded to ``MAX_RAW_BYTES`` (``size`` keeps the length received). The gateway keeps at most
a few hundred such rows per device and hour; beyond that it only counts them
(``DeviceTraffic.unrecorded``), so a device sending garbage cannot fill the disk.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.enums import BeaconProtocol
from tracker.models.tracking import BigId

MAX_RAW_BYTES = 4096
#: what a kept message was (``unknown``: a packet type the gateway does not read; ``malformed``:
#: bytes that are not a packet or fail their checksum; ``refused``: a login not admitted)
MESSAGE_KINDS = ("login", "heartbeat", "status", "alarm", "time_request", "address_request",
                 "command_response", "ping", "unknown", "malformed", "refused")
COUNTERS = ("messages", "positions", "unknown", "refused", "unrecorded")


class DeviceMessage(Base):
    """One message from a device that is not a position, kept as evidence with why."""

    __tablename__ = "device_messages"
    __table_args__ = (
        CheckConstraint(f"length(raw) <= {MAX_RAW_BYTES}", name="raw_bounded"),
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in MESSAGE_KINDS) + ")", name="kind_known"),
        Index("ix_device_messages_device_id_received_at", "device_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the identity the device claimed (None: bytes before any login)
    device_id: Mapped[str | None] = mapped_column(String(64))
    beacon_id: Mapped[int | None] = mapped_column(ForeignKey("beacons.id"), index=True)
    protocol: Mapped[BeaconProtocol] = mapped_column(enum_type(BeaconProtocol, "protocol"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(500), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)     # bytes received (raw keeps the first MAX_RAW_BYTES)

    @property
    def label(self) -> str:
        """Name the message by kind and time."""
        return f"{self.kind}@{self.received_at:%Y-%m-%dT%H:%M:%SZ}"


class DeviceTraffic(Base):
    """A beacon's counts since it was registered: messages, positions, unknown, refused, unrecorded."""

    __tablename__ = "device_traffic"
    __table_args__ = tuple(CheckConstraint(f"{name} >= 0", name=f"{name}_not_negative") for name in COUNTERS)

    beacon_id: Mapped[int] = mapped_column(ForeignKey("beacons.id"), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    positions: Mapped[int] = mapped_column(BigInteger, default=0)
    unknown: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    #: messages counted but not kept: over the per-device hourly bound
    unrecorded: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def label(self) -> str:
        """Name the counts by beacon."""
        return f"traffic of beacon {self.beacon_id}"
