"""Containers of mercury, identified by their SSCC."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tracker.domain.gs1 import sscc_check_sql, validate_sscc
from tracker.models.base import Base, UTCDateTime, enum_type, positive, require, utcnow
from tracker.models.enums import ContainerStatus, ContainerType

if TYPE_CHECKING:
    from tracker.models.parties import Dealer

FLASK_NET_G = 34_500


class Container(Base):
    """A sealed container of mercury: who owns it, who holds it, what it weighs."""

    __tablename__ = "containers"
    __table_args__ = (
        CheckConstraint(sscc_check_sql("sscc"), name="sscc_check_digit"),
        positive("tare_g"),
        positive("capacity_g"),
        CheckConstraint("net_g >= 0", name="net_g_not_negative"),
        CheckConstraint("net_g <= capacity_g", name="net_within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    container_type: Mapped[ContainerType] = mapped_column(enum_type(ContainerType, "container_type"))
    tare_g: Mapped[int] = mapped_column(BigInteger)
    capacity_g: Mapped[int] = mapped_column(BigInteger)
    net_g: Mapped[int] = mapped_column(BigInteger)
    seal_number: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[ContainerStatus] = mapped_column(
        enum_type(ContainerStatus, "status"), default=ContainerStatus.IN_STOCK
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    custodian_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Dealer] = relationship(foreign_keys=[owner_id])
    custodian: Mapped[Dealer] = relationship(foreign_keys=[custodian_id])

    @property
    def label(self) -> str:
        """Name the container by its SSCC."""
        return self.sscc

    @validates("sscc")
    def _check_sscc(self, _key: str, value: str) -> str:
        try:
            return validate_sscc(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None

    @validates("tare_g", "capacity_g")
    def _check_positive(self, key: str, value: int) -> int:
        require(isinstance(value, int) and value > 0, f"{key} must be whole grams > 0")
        return value

    @validates("net_g")
    def _check_net(self, _key: str, value: int) -> int:
        require(isinstance(value, int) and value >= 0, "net_g must be whole grams >= 0")
        return value
