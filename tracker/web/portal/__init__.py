"""The portal: pages for traders, customs officers, the licensing authority and auditors.

Each module holds one role's pages (or one record's page) and adds its views to the
shared blueprint; forms post back to the portal (CSRF-protected) and call the same
domain functions as the API.
"""
from __future__ import annotations

from flask import Flask

from tracker.web.portal.blueprint import bp
from tracker.web.portal.navigation import init_app as init_navigation


def init_app(app: Flask) -> None:
    """Register every portal page and the navigation."""
    from tracker.web.portal import (  # noqa: F401  (register the views on bp)
        admin, alerts, audit_books, audit_compliance, audit_flows, audit_now, containers, declarations, home,
        live, notifications, notifications_preferences, officer, search, trader,
    )
    app.register_blueprint(bp)
    init_navigation(app)
