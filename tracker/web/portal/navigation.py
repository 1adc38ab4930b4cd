"""The portal's menu: which pages each role sees, in order."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from tracker.models import Role

TRADER, OFFICER, AUDITOR, ADMIN = Role.TRADER, Role.CUSTOMS_OFFICER, Role.AUDITOR, Role.LICENSING_ADMIN


@dataclass(frozen=True)
class MenuItem:
    """One link of the menu: the view it opens, its words, and the roles that see it."""

    endpoint: str
    text: Any
    roles: frozenset[Role]


MENU = (
    MenuItem("portal.home", _l("Overview"), frozenset({TRADER, OFFICER, AUDITOR, ADMIN})),
    MenuItem("portal.checkpoint", _l("Checkpoint"), frozenset({OFFICER})),
    MenuItem("portal.scan", _l("Scan"), frozenset({OFFICER})),
    MenuItem("portal.declarations", _l("Declarations"), frozenset({TRADER, OFFICER, AUDITOR, ADMIN})),
    MenuItem("portal.new_declaration", _l("New declaration"), frozenset({TRADER})),
    MenuItem("portal.alerts", _l("Alerts"), frozenset({TRADER, OFFICER, AUDITOR, ADMIN})),
    MenuItem("portal.audit_now", _l("Now"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.audit_flows", _l("Flows"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.audit_balance", _l("Mass balance"), frozenset({AUDITOR, ADMIN, TRADER})),
    MenuItem("portal.audit_reconciliation", _l("Reconciliation"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.register", _l("Register and stock"), frozenset({TRADER, AUDITOR, ADMIN})),
    MenuItem("portal.containers", _l("Containers"), frozenset({TRADER, AUDITOR, ADMIN})),
    MenuItem("portal.dealers", _l("Dealers"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.licences", _l("Licences"), frozenset({TRADER, AUDITOR, ADMIN})),
    MenuItem("portal.approvals", _l("Approvals and consents"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.users", _l("Users"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.devices", _l("Devices"), frozenset({AUDITOR, ADMIN})),
    MenuItem("portal.checkpoints", _l("Checkpoints and zones"), frozenset({AUDITOR, ADMIN})),
)


def menu_for(role: Role) -> list[MenuItem]:
    """Return the menu items ``role`` sees whose pages exist in this app."""
    views = current_app.view_functions
    return [item for item in MENU if role in item.roles and item.endpoint in views]


def has_view(endpoint: str) -> bool:
    """Tell whether this app has the view ``endpoint`` (a page another module may add)."""
    return endpoint in current_app.view_functions


def init_app(app: Flask) -> None:
    """Give templates ``menu`` (the signed-in user's links), ``active_endpoint`` and ``has_view``."""
    app.add_template_global(has_view, "has_view")

    @app.context_processor
    def navigation() -> dict[str, Any]:
        user = getattr(current_user, "user", None) if current_user else None
        return {"menu": menu_for(user.role) if user is not None else [],
                "active_endpoint": request.endpoint}
