"""Portal pages of traders: declarations (list and filing step by step), the report of receipt,
and the transaction register with the dealer's book stock.

The views live in ``trader_declarations``, ``trader_drafts``, ``trader_receipt`` and ``trader_register``; importing
them here adds them to the portal's blueprint.
"""
from __future__ import annotations

from tracker.web.portal import (  # noqa: F401
    trader_declarations, trader_drafts, trader_receipt, trader_register,
)
