"""Licences, import approvals and dealers' containers (licensing admin)."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
