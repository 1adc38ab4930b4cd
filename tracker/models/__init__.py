"""The tracker's data model: SQLAlchemy 2 typed declarations, no Flask."""
from tracker.models.base import Base, utcnow
from tracker.models.containers import FLASK_NET_G, Container
from tracker.models.custody import CustodyEvent, SaleAnswer, Transaction
from tracker.models.declarations import (
    DEFAULT_CORRIDOR_M,
    AuthorisedStop,
    Declaration,
    DeclarationItem,
    ExpectedCheckpoint,
    PlaceRole,
    RoutePlace,
)
from tracker.models.enums import (
    AccountEventKind,
    OPEN_DECLARATION_STATUSES,
    CrossingDirection,
    StockEntryKind,
    Activity,
    AlertSeverity,
    AlertStatus,
    ApprovalStatus,
    BeaconProtocol,
    CheckpointKind,
    ContainerStatus,
    ContainerType,
    CustodyKind,
    DeclarationKind,
    DeclarationStatus,
    DeviceKind,
    LicenseStatus,
    Role,
    SaleAnswerKind,
    SaleState,
    TransactionKind,
)
from tracker.models.parties import (
    HOME_COUNTRY,
    Dealer,
    ExportConsent,
    ImportApproval,
    License,
    LicenseActivity,
    LicenseEvent,
)
from tracker.models.evidence import (
    ChainHead,
    ChainSignature,
    CustomsRecord,
    EvidenceSeal,
    IdempotentReply,
    StockEntry,
)
from tracker.models.archives import PositionArchive
from tracker.models.device_messages import DeviceMessage, DeviceTraffic
from tracker.models.notifications import (
    Channel,
    DeliveryState,
    FollowSubject,
    Notification,
    NotificationFanout,
    NotificationSettings,
    OutboxMessage,
    Subscription,
    WebhookEndpoint,
)
from tracker.models.places import Checkpoint
from tracker.models.tracking import Alert, AlertEvent, Beacon, Position
from tracker.models.watch import DeclarationWatch
from tracker.models.users import AccountEvent, DeviceToken, User, UserSession, officer_checkpoints
from tracker.models.zones import Zone, ZoneKind

__all__ = [
    "Channel", "DeliveryState", "FollowSubject", "Notification", "NotificationFanout", "NotificationSettings",
    "OutboxMessage", "Subscription", "WebhookEndpoint",
    "DeviceMessage", "DeviceTraffic", "DeclarationWatch", "PositionArchive",
    "PlaceRole",
    "RoutePlace",
    "AccountEvent", "AccountEventKind", "UserSession",
    "Activity", "Alert", "AlertEvent", "AlertSeverity", "AlertStatus", "ApprovalStatus", "AuthorisedStop",
    "Base", "Beacon", "BeaconProtocol", "Checkpoint", "CheckpointKind", "Container",
    "ContainerStatus", "ContainerType", "CustodyEvent", "CustodyKind", "DEFAULT_CORRIDOR_M",
    "Dealer", "Declaration", "DeclarationItem", "DeclarationKind", "DeclarationStatus",
    "DeviceKind", "DeviceToken", "ExpectedCheckpoint", "ExportConsent", "FLASK_NET_G", "HOME_COUNTRY",
    "ImportApproval", "License", "LicenseActivity", "LicenseEvent", "LicenseStatus", "OPEN_DECLARATION_STATUSES",
    "Position", "Role", "SaleAnswer", "SaleAnswerKind", "SaleState", "Zone", "ZoneKind", "Transaction", "TransactionKind", "User", "officer_checkpoints", "utcnow",
    "ChainHead", "ChainSignature", "CrossingDirection", "EvidenceSeal", "CustomsRecord", "IdempotentReply", "StockEntry", "StockEntryKind",
]
