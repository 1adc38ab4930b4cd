"""The transaction register: sales, purchases, reversals and corrections; book stock."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
