"""The closed vocabularies of the domain (stored as text, checked in the database)."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person does in the system."""

    TRADER = "trader"
    CUSTOMS_OFFICER = "customs_officer"
    AUDITOR = "auditor"
    LICENSING_ADMIN = "licensing_admin"


class AccountEventKind(StrEnum):
    """What happened to an account: the administrator's acts and the sign-in attempts."""

    CREATED = "created"
    ROLE_CHANGED = "role_changed"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    PASSWORD_RESET = "password_reset"
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_LIMITED = "sign_in_limited"


class Activity(StrEnum):
    """What a licence allows its dealer to do with mercury."""

    PRODUCTION = "production"
    IMPORT = "import"
    EXPORT = "export"
    DOMESTIC_TRADE = "domestic_trade"
    TRANSIT = "transit"
    STORAGE = "storage"
    USE = "use"


class LicenseStatus(StrEnum):
    """Where a licence stands."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ApprovalStatus(StrEnum):
    """Where an import approval (Minamata Art. 3 consent) stands."""

    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ContainerType(StrEnum):
    """Kinds of mercury container."""

    FLASK_34_5KG = "flask_34_5kg"
    DRUM = "drum"
    BOTTLE = "bottle"
    OTHER = "other"


class ContainerStatus(StrEnum):
    """Where a container is in its life."""

    IN_STOCK = "in_stock"
    IN_TRANSIT = "in_transit"
    EMPTIED = "emptied"
    RETIRED = "retired"


class CheckpointKind(StrEnum):
    """Kinds of place where custody is recorded."""

    PRODUCTION_SITE = "production_site"
    CUSTOMS_POST = "customs_post"
    BORDER_CROSSING = "border_crossing"
    WAREHOUSE = "warehouse"


class DeclarationKind(StrEnum):
    """The movement a declaration covers."""

    DOMESTIC = "domestic"
    IMPORT = "import"
    EXPORT = "export"
    TRANSIT = "transit"


class DeclarationStatus(StrEnum):
    """The life of a movement document."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    CLOSED = "closed"
    CANCELLED = "cancelled"


#: Declarations that still hold their containers and beacon.
OPEN_DECLARATION_STATUSES = (
    DeclarationStatus.DRAFT,
    DeclarationStatus.SUBMITTED,
    DeclarationStatus.APPROVED,
    DeclarationStatus.IN_TRANSIT,
    DeclarationStatus.ARRIVED,
)


class BeaconProtocol(StrEnum):
    """How a beacon talks to the gateway."""

    JSON = "json"
    OSMAND = "osmand"
    NMEA = "nmea"
    TELTONIKA = "teltonika"
    GT06 = "gt06"
    MQTT = "mqtt"


class AlertSeverity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    """Where an alert stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    EXPLAINED = "explained"
    CLOSED = "closed"


class CustodyKind(StrEnum):
    """Why custody was recorded (maps to EPCIS bizStep)."""

    DEPARTURE = "departure"
    ARRIVAL = "arrival"
    INSPECTION = "inspection"
    HANDOVER = "handover"


class TransactionKind(StrEnum):
    """Entries of the append-only transaction register."""

    SALE = "sale"
    REVERSAL = "reversal"
    CORRECTION = "correction"


class SaleState(StrEnum):
    """Where a sale or correction stands with its buyer: it counts in the books only once confirmed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class SaleAnswerKind(StrEnum):
    """The buyer's answer to a sale or correction entered by the seller."""

    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class DeviceKind(StrEnum):
    """What a device token authenticates."""

    BEACON = "beacon"
    STATION = "station"


class StockEntryKind(StrEnum):
    """Entries of the append-only stock book besides trade: mercury made or used up."""

    PRODUCTION = "production"
    USE = "use"


class CrossingDirection(StrEnum):
    """Which way a customs border-crossing record says mercury went."""

    IMPORT = "import"
    EXPORT = "export"
