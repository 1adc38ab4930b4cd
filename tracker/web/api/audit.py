"""API: audit (being built)."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
