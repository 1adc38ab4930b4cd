"""Phone photos of container labels, decoded on the server."""
from __future__ import annotations

from tracker.web.api import bp  # noqa: F401
