"""Words for the domain's enum values, in the user's language.

Templates show every status, kind, role and severity through the ``label`` filter, never
the raw value: ``{{ d.status|label }}``; and every checkpoint through the ``place`` filter,
never its English ``name``: ``{{ d.origin|place }}``. A value missing here is shown with its
underscores turned into spaces, so a new enum value is visible at once (and the i18n test
lists it as untranslated).
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Mapping

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from tracker.domain.alert_kinds import AlertKind, kind_of
from tracker.domain.place_names import Named, place_name
from tracker.models import (
    AccountEventKind,
    Activity,
    AlertSeverity,
    AlertStatus,
    ApprovalStatus,
    CheckpointKind,
    ContainerStatus,
    ContainerType,
    CrossingDirection,
    CustodyKind,
    DeclarationKind,
    DeclarationStatus,
    DeviceKind,
    LicenseStatus,
    Role,
    SaleState,
    StockEntryKind,
    TransactionKind,
    ZoneKind,
)
from tracker.web.i18n import current_language, translated

LABELS: dict[type[Enum], dict[str, Any]] = {
    Role: {"trader": _l("Trader"), "customs_officer": _l("Customs officer"),
           "auditor": _l("Auditor, Ministry of Finance"), "licensing_admin": _l("Licensing authority")},
    Activity: {"production": _l("production"), "import": _l("import"), "export": _l("export"),
               "domestic_trade": _l("domestic trade"), "transit": _l("transit"),
               "storage": _l("storage"), "use": _l("use")},
    LicenseStatus: {"active": _l("active"), "suspended": _l("suspended"), "revoked": _l("revoked"),
                    "expired": _l("expired")},
    ApprovalStatus: {"active": _l("active"), "exhausted": _l("exhausted"), "expired": _l("expired"),
                     "revoked": _l("revoked")},
    ContainerType: {"flask_34_5kg": _l("flask, 34.5 kg"), "drum": _l("drum"), "bottle": _l("bottle"), "other": _l("other")},
    ContainerStatus: {"in_stock": _l("in stock"), "in_transit": _l("in transit"), "emptied": _l("emptied"),
                      "retired": _l("retired")},
    CheckpointKind: {"production_site": _l("production site"), "customs_post": _l("customs post"),
                     "border_crossing": _l("border crossing"), "warehouse": _l("warehouse")},
    DeclarationKind: {"domestic": _l("domestic"), "import": _l("import"), "export": _l("export"),
                      "transit": _l("transit")},
    DeclarationStatus: {"draft": _l("draft"), "submitted": _l("submitted"), "approved": _l("approved"),
                        "rejected": _l("rejected"), "in_transit": _l("in transit"), "arrived": _l("arrived"),
                        # A declaration (ru: декларация, feminine) is "закрыта", an alert "закрыто".
                        "closed": lazy_pgettext("declaration status", "closed"), "cancelled": _l("cancelled")},
    AlertSeverity: {"info": _l("info"), "warning": _l("warning"), "critical": _l("critical")},
    AlertStatus: {"open": _l("open"), "acknowledged": _l("acknowledged"), "explained": _l("explained"),
                  "closed": _l("closed")},
    CustodyKind: {"departure": _l("departure"), "arrival": _l("arrival"), "inspection": _l("inspection"),
                  "handover": _l("handover")},
    TransactionKind: {"sale": _l("sale"), "reversal": _l("reversal"), "correction": _l("correction")},
    SaleState: {"pending": _l("awaits the buyer"), "confirmed": _l("confirmed"), "disputed": _l("disputed")},
    DeviceKind: {"beacon": _l("beacon"), "station": _l("station")},
    StockEntryKind: {"production": _l("production"), "use": _l("declared use")},
    CrossingDirection: {"import": _l("import"), "export": _l("export")},
    ZoneKind: {"dead_zone": _l("dead zone"), "prohibited": _l("prohibited zone")},
    AccountEventKind: {"created": _l("account opened"), "role_changed": _l("role changed"),
                       "deactivated": _l("deactivated"), "reactivated": _l("reactivated"),
                       "password_reset": _l("password reset"), "signed_in": _l("signed in"),
                       "sign_in_failed": _l("sign-in failed"),
                       "sign_in_limited": _l("sign-in refused: too many failures")},
}



def label(value: Enum | str | None) -> str:
    """Name an enum value (or an alert kind) in the user's language."""
    if value is None:
        return "—"
    if isinstance(value, Enum) and not isinstance(value, AlertKind):
        word = LABELS.get(type(value), {}).get(value.value)
        return translated(word) if word is not None else str(value.value).replace("_", " ")
    kind = kind_of(value)
    if kind is not None:  # an alert kind: its wording is a domain message
        return gettext(kind.wording.template)
    return str(value).replace("_", " ")


def place(checkpoint: Named | Mapping[str, Any] | None) -> str:
    """Name a checkpoint in the user's language (its English name where it has none there)."""
    return place_name(checkpoint, current_language())


def init_app(app: Flask) -> None:
    """Register the ``label`` and ``place`` template filters."""
    app.add_template_filter(label, "label")
    app.add_template_filter(place, "place")
