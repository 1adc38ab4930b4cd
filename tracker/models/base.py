"""Declarative base, naming convention and portable column types."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, CheckConstraint, DateTime, Enum, MetaData, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON everywhere, stored as JSONB on PostgreSQL so it can be indexed.
PortableJSON = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Base class of every tracker model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        label = getattr(self, "label", None) or getattr(self, "id", None)
        return f"<{type(self).__name__} {label}>"


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC: aware datetimes in, aware UTC datetimes out.

    SQLite keeps no zone, so naive values are refused on the way in rather than
    guessed; values read back are marked UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Geometry(TypeDecorator[BaseGeometry]):
    """A shapely geometry stored as WKT text, longitude before latitude (x, y).

    Text keeps SQLite and PostgreSQL identical; spatial work happens in shapely.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: BaseGeometry | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        geometry = load_wkt(value) if isinstance(value, str) else value
        if geometry.is_empty:
            raise ValueError("empty geometry")
        return geometry.wkt

    def process_result_value(self, value: str | None, dialect: Dialect) -> BaseGeometry | None:
        return None if value is None else wkt.loads(value)


def load_wkt(text: str) -> BaseGeometry:
    """Parse WKT, raising ``ValueError`` with the reason when it is malformed."""
    try:
        return wkt.loads(text)
    except ShapelyError as exc:
        raise ValueError(f"malformed WKT: {exc}") from exc


def one_of(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    """Return a CHECK constraint limiting ``column`` to ``values`` (a portable enum)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_allowed")


def positive(column: str, allow_null: bool = False) -> CheckConstraint:
    """Return a CHECK constraint requiring ``column`` > 0 (masses are grams > 0)."""
    condition = f"{column} > 0"
    if allow_null:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_positive")


def lat_lon_checks(lat: str = "lat", lon: str = "lon") -> tuple[CheckConstraint, ...]:
    """Return CHECK constraints keeping a coordinate pair on the globe."""
    return (
        CheckConstraint(f"{lat} IS NULL OR ({lat} >= -90 AND {lat} <= 90)", name=f"{lat}_range"),
        CheckConstraint(f"{lon} IS NULL OR ({lon} >= -180 AND {lon} <= 180)", name=f"{lon}_range"),
    )


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition`` holds (Python-side validation)."""
    if not condition:
        raise ValueError(message)


def values_of(enum_like: Any) -> tuple[str, ...]:
    """Return the string values of a ``StrEnum`` class."""
    return tuple(member.value for member in enum_like)


def enum_type(enum_cls: Any, name: str) -> Enum:
    """Return a portable enum column type: VARCHAR plus a CHECK constraint in the database.

    Python refuses an unknown value on flush (``validate_strings``) and the database
    refuses it too, so a raw SQL insert cannot slip past.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        validate_strings=True,
        values_callable=values_of,
    )
