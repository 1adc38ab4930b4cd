"""Data for the end-to-end browser test: a short haul in Osh, its GPX route, label photos, a beacon's trip.

The trip is short (under four kilometres) because its fixes are sent as fast as the gateway
takes them, starting at the recorded departure: the whole trip must lie within the gateway's
tolerance for fixes from the future (five minutes) to be judged like a live one. A test cannot
wait for the truck to really drive, so the arrival the officer records seconds later comes
before the trip's last fixes (the timeline shows them after it).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scanner_app.labels import make_label, render_image
from tests.gateway.helpers import free_port
from tests.gateway.seed import GatewayProcess
from tracker.db import make_engine
from tracker.domain import geography as geo
from tracker.domain.devices import issue_beacon_key
from tracker.models import Alert, Checkpoint, CheckpointKind, Declaration, User

#: The consignee's bonded warehouse on the Kara-Suu road, 3.6 km north of the Osh customs post.
WAREHOUSE = geo.Site("OSH-BCS", "Bishkek Chemical Supply, Osh bonded warehouse", CheckpointKind.WAREHOUSE,
                     40.5597, 72.8125, 300)
#: The road from the Osh post to the warehouse (the start of the M41 towards Kara-Suu).
SHORT_HAUL = (geo.site("OSH"), geo.Waypoint(40.5370, 72.8030), geo.Waypoint(40.5480, 72.8075),
              geo.Waypoint(40.5597, 72.8125))
#: The truck leaves the road 18 s after departure, 1.5 km to the side, for 3.9 minutes (corridor: 500 m).
DEVIATION = "0.3:3.9:1500"
SPEED_KMH = 50
PERIOD_S = 15


def add_warehouse(session: Session, officer_login: str) -> Checkpoint:
    """Register the warehouse as a checkpoint and post ``officer_login`` there too; commit."""
    site = WAREHOUSE
    warehouse = Checkpoint(code=site.code, name=site.name, kind=site.kind, lat=site.lat, lon=site.lon,
                           radius_m=site.radius_m, country="KG")
    officer = session.scalars(select(User).where(User.login == officer_login)).one()
    officer.checkpoints.append(warehouse)
    session.add(warehouse)
    session.commit()
    return warehouse


def short_haul_gpx() -> bytes:
    """Return the short haul as a GPX track, as a trader's navigation app would export it."""
    points = "\n".join(f'      <trkpt lat="{w.lat:.6f}" lon="{w.lon:.6f}"/>' for w in SHORT_HAUL)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<gpx version="1.1" creator="mercury-tracking tests" xmlns="http://www.topografix.com/GPX/1/1">\n'
            f'  <trk><name>Osh customs post - OSH-BCS warehouse</name><trkseg>\n{points}\n'
            f'  </trkseg></trk>\n</gpx>\n').encode()


def label_photo(sscc: str, net_g: int) -> bytes:
    """Return a PNG of the container's printed label (what the officer's phone camera sees)."""
    buffer = io.BytesIO()
    render_image(make_label(sscc, net_g), dpi=200).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Trip:
    """What the simulated beacon did: its command's output, and the gateway's log."""

    output: str
    gateway_log: Path


def beacon_key(database_url: str, reference: str) -> str:
    """Issue the declaration's beacon a fresh key (as ``device set-key`` does) and return it."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            declaration = session.scalars(select(Declaration).where(Declaration.reference == reference)).one()
            _row, key, _revoked = issue_beacon_key(session, declaration.beacon.device_id)  # type: ignore[union-attr]
            session.commit()
            return key
    finally:
        engine.dispose()


def drive_with_deviation(database_url: str, instance: Path, reference: str, departed: datetime) -> Trip:
    """Run ``beacon-gateway serve`` on the portal's database and drive the declaration's beacon along its
    route over OsmAnd/HTTP (with the beacon's key) from ``departed``, leaving the corridor once; stop the
    gateway afterwards."""
    key = beacon_key(database_url, reference)
    port = free_port()
    gateway = GatewayProcess(database_url, instance, GATEWAY_HTTP_PORT=port)
    try:
        start = (departed + timedelta(seconds=1)).replace(microsecond=0)  # OsmAnd sends whole seconds
        command = [sys.executable, "-m", "beacon_gateway.cli", "simulate", "--declaration", reference,
                   "--protocol", "osmand", "--token", key, "--to", f"http://127.0.0.1:{port}", "--deviate", DEVIATION,
                   "--speed", str(SPEED_KMH), "--period", str(PERIOD_S), "--departed", start.isoformat(),
                   "--start-at", "0", "--no-realtime", "--seed", "6"]
        done = subprocess.run(command, env=gateway_env(database_url, instance), capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"simulate failed: {done.stderr}"
        return Trip(done.stderr, Path(gateway.log.name))
    finally:
        gateway.terminate()


def gateway_env(database_url: str, instance: Path) -> dict[str, str]:
    """Return the environment a gateway command reads the portal's database from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return {**env, "DATABASE_URL": database_url, "TRACKER_INSTANCE_PATH": str(instance)}


def wait_for_alert(sessions: sessionmaker[Session], declaration_id: int, kind: str, timeout: float = 20) -> Alert:
    """Wait until the declaration has an alert of ``kind``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            alert = session.scalars(select(Alert).where(Alert.declaration_id == declaration_id,
                                                        Alert.kind == kind)).first()
            if alert is not None:
                return alert
        assert time.monotonic() < deadline, f"no {kind} alert on declaration {declaration_id}"
        time.sleep(0.2)
