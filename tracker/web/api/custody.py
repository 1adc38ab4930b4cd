"""Custody events from officers and checkpoint stations (idempotent on client event id)."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
