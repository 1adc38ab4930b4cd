"""Declaration life-cycle: edit, submit, decide, cancel, receipt; alerts handling."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
