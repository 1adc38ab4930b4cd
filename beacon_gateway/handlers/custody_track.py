"""Settle custody events that found no beacon position, once the fixes around them arrive."""
from __future__ import annotations

from datetime import datetime

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch
from tracker.domain.custody_track import settle_with_new_fixes


class SettleCustodyTrack:
    """Compare again the custody events of the batch's declarations still waiting for a beacon fix.

    A beacon that buffered its fixes offline (or reported just after the scan) delivers
    them after the custody event; the "no beacon position at custody" alert then closes,
    or turns into "beacon not with the cargo" when the fix lies too far away.
    """

    name = "custody_track"
    needs_savepoint = True

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to read here: the distance limit is the tracker's setting (CUSTODY_BEACON_DISTANCE_M)."""

    def __call__(self, batch: Batch) -> None:
        """Settle the waiting alerts of every beacon that delivered new fixes in this batch."""
        earliest: dict[int, datetime] = {}
        for ping in batch.pings:
            if ping.stored and ping.beacon_id is not None:
                since = earliest.get(ping.beacon_id)
                fix_time = ping.position.fix_time
                earliest[ping.beacon_id] = fix_time if since is None else min(since, fix_time)
        if earliest:
            batch.opened_alerts += settle_with_new_fixes(batch.session, earliest, batch.now)
