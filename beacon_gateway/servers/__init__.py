"""The gateway's listeners: HTTP (native JSON, OsmAnd), TCP (NMEA, Teltonika, GT06), MQTT.

Every listener hands positions to one ``Ingest`` and answers the device only when the
returned outcome says they are committed.
"""
from __future__ import annotations

import asyncio
from typing import Sequence

from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.auth import tcp_login_refusal
from beacon_gateway.position import Position
from beacon_gateway.writer import BatchWriter, Outcome


class Ingest:
    """What a listener may do: store positions (awaiting the commit) and check a TCP device login."""

    def __init__(self, writer: BatchWriter, sessions: sessionmaker[Session]) -> None:
        self.writer = writer
        self.sessions = sessions

    async def store(self, positions: Sequence[Position], token: str | None = None) -> Outcome:
        """Store the positions; returns once committed, raises ``NotStored`` when they were not."""
        return await asyncio.wrap_future(self.writer.submit(positions, token))

    async def login_refusal(self, device_id: str, protocol: str, address: str | None) -> str | None:
        """Return why a TCP device login is refused, or None (checked on a worker thread)."""
        return await asyncio.get_running_loop().run_in_executor(
            None, tcp_login_refusal, self.sessions, device_id, protocol, address)
