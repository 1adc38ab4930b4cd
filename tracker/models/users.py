"""People who sign in, and tokens that devices present."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.enums import AccountEventKind, DeviceKind, Role

if TYPE_CHECKING:
    from tracker.models.parties import Dealer
    from tracker.models.places import Checkpoint
    from tracker.models.tracking import Beacon

officer_checkpoints = Table(
    "officer_checkpoints",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("checkpoint_id", ForeignKey("checkpoints.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person with a login and one role; a trader belongs to one dealer."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("(role = 'trader') = (dealer_id IS NOT NULL)", name="trader_has_dealer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The portal's language for this user ("en", "ru", "ky"); None: the browser's preference.
    language: Mapped[str | None] = mapped_column(String(8))
    #: IANA time zone the portal shows times in; None: the configured default (Asia/Bishkek).
    time_zone: Mapped[str | None] = mapped_column(String(64))

    dealer: Mapped[Dealer | None] = relationship()
    checkpoints: Mapped[list[Checkpoint]] = relationship(secondary=officer_checkpoints)

    @property
    def label(self) -> str:
        """Name the user by login."""
        return self.login


class UserSession(Base):
    """A signed-in session: the cookie carries its secret, only the secret's hash is kept.

    Every request looks its session up, so deleting the row ends the session at once
    (sign-out, password reset, deactivation) whatever copies of the cookie exist.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint("length(secret_hash) = 64", name="secret_hash_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        """Name the session by its user and start, never its secret."""
        return f"{self.user_id}@{self.created_at:%Y-%m-%dT%H:%M}"


class AccountEvent(Base):
    """One entry of the account audit trail: an administrator's act or a sign-in attempt.

    ``login`` is the login as typed (a failed attempt may name no account); ``user_id`` is
    set when the account exists, ``actor_id`` when an administrator acted. Append-only: on
    PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE, as on the evidence tables.
    """

    __tablename__ = "account_events"
    __table_args__ = (
        Index("ix_account_events_login_at", "login", "at"),
        Index("ix_account_events_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[AccountEventKind] = mapped_column(enum_type(AccountEventKind, "kind"))
    login: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    @property
    def label(self) -> str:
        """Name the entry by what happened to which login."""
        return f"{self.kind}:{self.login}"


class DeviceToken(Base):
    """A bearer token for a beacon or a checkpoint station; only its hash is kept."""

    __tablename__ = "device_tokens"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'beacon' AND beacon_id IS NOT NULL AND checkpoint_id IS NULL)"
            " OR (kind = 'station' AND checkpoint_id IS NOT NULL AND beacon_id IS NULL)",
            name="kind_target",
        ),
        CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DeviceKind] = mapped_column(enum_type(DeviceKind, "kind"))
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    beacon_id: Mapped[int | None] = mapped_column(ForeignKey("beacons.id"), index=True)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    beacon: Mapped[Beacon | None] = relationship(back_populates="tokens")
    checkpoint: Mapped[Checkpoint | None] = relationship()

    @property
    def label(self) -> str:
        """Name the token by its purpose, never its secret."""
        return f"{self.kind}:{self.name}"
