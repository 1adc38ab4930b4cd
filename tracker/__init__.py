"""Mercury shipment tracking: the system of record and its web portal.

``flask --app tracker`` finds :func:`create_app`. Importing this package does not
import Flask, so the beacon gateway can use ``tracker.models`` and ``tracker.domain``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> "Flask":
    """Create the tracker's Flask application (see :mod:`tracker.web.app`)."""
    from tracker.web.app import build_app

    return build_app(test_config)
