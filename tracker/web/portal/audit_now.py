"""Portal pages: audit_now (being built)."""
from __future__ import annotations

from tracker.web.portal.blueprint import bp  # noqa: F401
