"""Mass balance and reconciliation reports; customs dataset import."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
