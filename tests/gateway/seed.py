"""Committed test data for gateway subprocess tests, and a running ``beacon-gateway serve``.

Subprocesses cannot see a test's rolled-back transaction, so these tests commit their
beacons (and declarations) to the session's migrated database and delete every row they
made afterwards.
"""
from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from shapely.geometry import LineString
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session

from tracker.domain.tokens import issue_token
from tracker.models import (
    Alert,
    AlertEvent,
    Beacon,
    BeaconProtocol,
    Checkpoint,
    CheckpointKind,
    Dealer,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeviceMessage,
    DeviceToken,
    DeviceTraffic,
    Position,
)

ROUTE = LineString([(72.799, 40.528), (73.0, 40.933)])  # Osh towards Jalal-Abad


class Seed:
    """Rows committed for one test, removed again by ``clean``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tag = secrets.token_hex(3)
        self.beacon_ids: list[int] = []
        self.declaration_ids: list[int] = []
        self.party_ids: tuple[list[int], list[int]] = ([], [])

    def beacon(self, protocol: BeaconProtocol = BeaconProtocol.JSON, token: bool = False) -> tuple[Beacon, str]:
        """Commit a beacon (and a token for it); return it with the token's secret."""
        with Session(self.engine, expire_on_commit=False) as session:
            beacon = Beacon(device_id=f"35{secrets.randbelow(10**13):013d}", protocol=protocol)
            session.add(beacon)
            session.flush()
            secret = issue_token(session, name="test", beacon=beacon)[1] if token else ""
            session.commit()
        self.beacon_ids.append(beacon.id)
        return beacon, secret

    def declaration(self, beacon: Beacon, departed_at: datetime) -> int:
        """Commit a declaration in transit along ROUTE carrying ``beacon``; return its id."""
        with Session(self.engine) as session:
            n = len(self.declaration_ids)
            dealer = Dealer(legal_name=f"Seed {self.tag}", taxpayer_number=f"{self.tag}-{n}", country="KG")
            origin = Checkpoint(code=f"S{self.tag}{n}a", name="Osh", kind=CheckpointKind.CUSTOMS_POST,
                                lat=40.528, lon=72.799)
            destination = Checkpoint(code=f"S{self.tag}{n}b", name="Jalal-Abad",
                                     kind=CheckpointKind.CUSTOMS_POST, lat=40.933, lon=73.0)
            declaration = Declaration(
                kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.IN_TRANSIT,
                reference=f"T{self.tag}{n:04d}", declarant=dealer, consignor=dealer, consignee=dealer,
                origin=origin, destination=destination, route=ROUTE, corridor_m=500, beacon_id=beacon.id,
                planned_departure=departed_at, planned_arrival=departed_at + timedelta(days=1),
                departed_at=departed_at)
            session.add(declaration)
            session.commit()
            self.declaration_ids.append(declaration.id)
            self.party_ids[0].append(dealer.id)
            self.party_ids[1].extend([origin.id, destination.id])
            return declaration.id

    def count(self, beacon_ids: list[int] | None = None) -> int:
        """Return how many positions the seeded beacons have."""
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count(Position.id)).where(
                Position.beacon_id.in_(beacon_ids or self.beacon_ids))) or 0)

    def fix_times(self, beacon_id: int) -> list[datetime]:
        """Return the stored fix times of one beacon, in order."""
        with Session(self.engine) as session:
            return list(session.scalars(select(Position.fix_time).where(Position.beacon_id == beacon_id)
                                        .order_by(Position.fix_time)))

    def clean(self) -> None:
        """Delete everything this seed made (and what the gateway stored for it)."""
        with Session(self.engine) as session:
            if self.engine.dialect.name == "postgresql":  # alert history is append-only: past the triggers
                session.execute(text("SET LOCAL session_replication_role = replica"))
            alerts = select(Alert.id).where(Alert.declaration_id.in_(self.declaration_ids))
            session.execute(delete(AlertEvent).where(AlertEvent.alert_id.in_(alerts)))
            session.execute(delete(Alert).where(Alert.declaration_id.in_(self.declaration_ids)))
            session.execute(delete(Position).where(Position.beacon_id.in_(self.beacon_ids)))
            session.execute(delete(DeviceTraffic).where(DeviceTraffic.beacon_id.in_(self.beacon_ids)))
            session.execute(delete(DeviceMessage).where(DeviceMessage.beacon_id.in_(self.beacon_ids)))
            session.execute(delete(Declaration).where(Declaration.id.in_(self.declaration_ids)))
            session.execute(delete(Checkpoint).where(Checkpoint.id.in_(self.party_ids[1])))
            session.execute(delete(Dealer).where(Dealer.id.in_(self.party_ids[0])))
            session.execute(delete(DeviceToken).where(DeviceToken.beacon_id.in_(self.beacon_ids)))
            session.execute(delete(Beacon).where(Beacon.id.in_(self.beacon_ids)))
            session.commit()


class GatewayProcess:
    """``beacon-gateway serve`` as a real subprocess, configured by GATEWAY_* variables."""

    def __init__(self, database_url: str, instance: Path, **settings: Any) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(DATABASE_URL=database_url, TRACKER_INSTANCE_PATH=str(instance),
                   GATEWAY_HTTP_PORT="0", GATEWAY_BATCH_MAX_WAIT_MS="5")
        self.settings = {key: str(value) for key, value in settings.items()}
        env.update(self.settings)
        self.log = open(instance.parent / f"gateway-{secrets.token_hex(2)}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "beacon_gateway.cli", "serve", "--log-level", "WARNING"],
            env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("beacon-gateway: ready")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Wait until the gateway prints ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.lines.get(timeout=max(0.01, deadline - time.monotonic())) == text:
                    return
            except queue.Empty:
                raise AssertionError(f"gateway did not say {text!r}; see {self.log.name}") from None

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM; return the exit code (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.log.close()
        return code


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    """Poll ``condition`` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
