"""The licensing authority's pages (auditors read them, without the forms).

Each part lives in its own module; importing them here adds their views to the blueprint:
dealers with their first licence (``admin_dealers``), licences (``admin_licences``), approvals,
consents and the decision on a declaration (``admin_approvals``), users and devices
(``admin_accounts``), a beacon's kept messages (``admin_device_messages``), checkpoints and
zones (``admin_places``).
"""
from __future__ import annotations

from tracker.web.portal import (  # noqa: F401  (register the views on bp)
    admin_accounts,
    admin_approvals,
    admin_dealers,
    admin_device_messages,
    admin_licences,
    admin_places,
)
