"""Dealers, their licences and import approvals."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tracker.models.base import Base, UTCDateTime, enum_type, positive, require, utcnow
from tracker.models.enums import Activity, ApprovalStatus, LicenseStatus

if TYPE_CHECKING:
    from tracker.models.users import User

HOME_COUNTRY = "KG"


class Dealer(Base):
    """A legal person that holds, buys, sells or moves mercury (domestic or foreign)."""

    __tablename__ = "dealers"
    __table_args__ = (
        UniqueConstraint("country", "taxpayer_number"),
        CheckConstraint("length(country) = 2", name="country_iso2"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    taxpayer_number: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2), default=HOME_COUNTRY)
    address: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    licenses: Mapped[list[License]] = relationship(back_populates="dealer", order_by="License.valid_from")

    @property
    def label(self) -> str:
        """Name the dealer for people and logs."""
        return self.legal_name

    @property
    def is_domestic(self) -> bool:
        """Tell whether the dealer is under this country's licensing."""
        return self.country == HOME_COUNTRY

    @validates("country")
    def _check_country(self, _key: str, value: str) -> str:
        require(len(value) == 2 and value.isalpha() and value.isupper(),
                f"country must be an ISO 3166 alpha-2 code, got {value!r}")
        return value


class License(Base):
    """A licence to deal in mercury: activities, validity and an annual quota in grams."""

    __tablename__ = "licenses"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_period"),
        positive("annual_quota_g"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    annual_quota_g: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[LicenseStatus] = mapped_column(
        enum_type(LicenseStatus, "status"), default=LicenseStatus.ACTIVE
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dealer: Mapped[Dealer] = relationship(back_populates="licenses")
    activity_rows: Mapped[list[LicenseActivity]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    issued_by: Mapped[User | None] = relationship()
    history: Mapped[list[LicenseEvent]] = relationship(
        back_populates="license", cascade="all, delete-orphan", order_by="LicenseEvent.id"
    )

    @property
    def label(self) -> str:
        """Name the licence by its number."""
        return self.number

    @property
    def activities(self) -> frozenset[Activity]:
        """Return what the licence allows."""
        return frozenset(row.activity for row in self.activity_rows)

    @activities.setter
    def activities(self, values: set[Activity] | list[Activity]) -> None:
        require(len(values) > 0, "a licence covers at least one activity")
        self.activity_rows = [LicenseActivity(activity=Activity(v)) for v in sorted(set(values))]

    def covers(self, activity: Activity, on: date) -> bool:
        """Tell whether the licence is active for ``activity`` on day ``on``."""
        return (
            self.status == LicenseStatus.ACTIVE
            and self.valid_from <= on <= self.valid_to
            and activity in self.activities
        )

    @validates("annual_quota_g")
    def _check_quota(self, _key: str, value: int) -> int:
        require(isinstance(value, int) and value > 0, "annual quota must be whole grams > 0")
        return value


class LicenseActivity(Base):
    """One activity a licence covers."""

    __tablename__ = "license_activities"

    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True)
    activity: Mapped[Activity] = mapped_column(enum_type(Activity, "activity"), primary_key=True)


class LicenseEvent(Base):
    """One change of a licence: issued, suspended, reinstated, revoked, expired (who, when, why)."""

    __tablename__ = "license_events"
    __table_args__ = (
        CheckConstraint("action IN ('issued', 'suspended', 'reinstated', 'revoked', 'expired')",
                        name="action_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(120), default="system")
    reason: Mapped[str] = mapped_column(Text, default="")

    license: Mapped[License] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """Name the change by action and time."""
        return f"{self.action}@{self.at:%Y-%m-%dT%H:%M:%SZ}"


class ImportApproval(Base):
    """Written consent to import mercury (Minamata Convention, Article 3)."""

    __tablename__ = "import_approvals"
    __table_args__ = (
        positive("quantity_g"),
        CheckConstraint("length(exporter_country) = 2", name="exporter_country_iso2"),
        CheckConstraint("source_not_primary_mining", name="source_statement_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    importer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    exporter_name: Mapped[str] = mapped_column(String(200))
    exporter_country: Mapped[str] = mapped_column(String(2))
    quantity_g: Mapped[int] = mapped_column(BigInteger)
    intended_use: Mapped[str] = mapped_column(Text)
    source_not_primary_mining: Mapped[bool] = mapped_column(Boolean)
    source_statement: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[ApprovalStatus] = mapped_column(
        enum_type(ApprovalStatus, "status"), default=ApprovalStatus.ACTIVE
    )
    #: Why it was revoked (empty otherwise).
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default=sa_text("''"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    importer: Mapped[Dealer] = relationship()
    issued_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """Name the approval by its number."""
        return self.number

    @validates("quantity_g")
    def _check_quantity(self, _key: str, value: int) -> int:
        require(isinstance(value, int) and value > 0, "quantity must be whole grams > 0")
        return value

    @validates("source_not_primary_mining")
    def _check_statement(self, _key: str, value: bool) -> bool:
        require(value is True, "consent requires the statement that the mercury is not from "
                "primary mining or chlor-alkali surplus")
        return value


class ExportConsent(Base):
    """The importing country's written consent to an export (Minamata Convention, Article 3(6))."""

    __tablename__ = "export_consents"
    __table_args__ = (
        positive("quantity_g"),
        CheckConstraint("length(importer_country) = 2", name="importer_country_iso2"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    exporter_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    importer_name: Mapped[str] = mapped_column(String(200))
    importer_country: Mapped[str] = mapped_column(String(2))
    quantity_g: Mapped[int] = mapped_column(BigInteger)
    intended_use: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[ApprovalStatus] = mapped_column(
        enum_type(ApprovalStatus, "status"), default=ApprovalStatus.ACTIVE
    )
    #: Why it was revoked (empty otherwise).
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default=sa_text("''"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    exporter: Mapped[Dealer] = relationship()
    issued_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """Name the consent by its number."""
        return self.number

    @validates("quantity_g")
    def _check_quantity(self, _key: str, value: int) -> int:
        require(isinstance(value, int) and value > 0, "quantity must be whole grams > 0")
        return value
