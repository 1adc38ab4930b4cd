"""The gateway's listeners: HTTP (native JSON, OsmAnd), TCP (NMEA, Teltonika, GT06), MQTT.

Every listener hands positions to one ``Ingest`` and answers the device only when the
returned outcome says they are committed.
"""
from __future__ import annotations

import asyncio
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway import metrics
from beacon_gateway.auth import key_refusal, tcp_login_refusal
from beacon_gateway.evidence import Evidence, EvidenceBound
from beacon_gateway.position import Position
from beacon_gateway.writer import BatchWriter, NotStored, Outcome

HEALTH_TIMEOUT_S = 3.0  # a database that takes longer to answer SELECT 1 counts as unreachable


class Ingest:
    """What a listener may do: store positions (awaiting the commit) and check a TCP device login."""

    def __init__(self, writer: BatchWriter, sessions: sessionmaker[Session],
                 stall_s: float = 15.0, bound: EvidenceBound | None = None) -> None:
        self.writer = writer
        self.sessions = sessions
        self.stall_s = stall_s
        metrics.watch_writer(lambda: self.writer.waiting(), lambda: self.writer.oldest_wait_s())
        self.bound = bound or EvidenceBound()

    async def store(self, positions: Sequence[Position], token: str | None = None) -> Outcome:
        """Store the positions; returns once committed, raises ``NotStored`` when they were not."""
        return await asyncio.wrap_future(self.writer.submit(positions, token))

    async def keep(self, evidence: Evidence, address: str | None = None) -> None:
        """Keep a message that is not a position (within the device's bound); returns once committed,
        raises ``NotStored`` when it was not."""
        kept = self.bound.bounded(evidence, evidence.device_id or f"address {address}")
        await asyncio.wrap_future(self.writer.submit((), evidence=(kept,)))

    async def login_refusal(self, device_id: str, protocol: str, address: str | None) -> str | None:
        """Return why a TCP device login is refused, or None; ``NotStored`` when the database is away."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, tcp_login_refusal, self.sessions, device_id, protocol, address)
        except SQLAlchemyError as exc:
            raise NotStored(f"the database did not answer: {exc}") from exc

    async def key_refusal(self, device_id: str, key: str) -> tuple[int, str] | None:
        """Return (HTTP status, why) when ``key`` is not the beacon's live key, or None;
        ``NotStored`` when the database is away."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, key_refusal, self.sessions, device_id, key)
        except SQLAlchemyError as exc:
            raise NotStored(f"the database did not answer: {exc}") from exc

    async def problem(self) -> str | None:
        """Return why ingestion cannot commit in time (a message waiting too long, database unreachable), or None."""
        problem = self.writer.problem(self.stall_s)
        if problem is not None:
            return problem
        try:
            await asyncio.wait_for(asyncio.to_thread(self._select_one), HEALTH_TIMEOUT_S)
        except (SQLAlchemyError, asyncio.TimeoutError) as exc:
            return f"the database is unreachable: {type(exc).__name__}"
        return None

    def _select_one(self) -> None:
        with self.sessions() as session:
            session.execute(text("SELECT 1"))
