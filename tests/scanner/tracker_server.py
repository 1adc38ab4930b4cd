"""A real tracker served over HTTP for station tests, and a TCP proxy that cuts the network.

The tracker is the project's own app on a file SQLite database, served by werkzeug in
a thread on a free port; the proxy sits between a station and it and can be stopped
(connection refused, connections in flight cut) and started again on the same port.
"""
from __future__ import annotations

import secrets
import socket
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from tracker import create_app, migrate
from tracker.db import make_engine, make_session_factory
from tracker.domain.gs1 import make_sscc
from tracker.domain.tokens import issue_token
from tracker.models import (
    Activity,
    Checkpoint,
    CheckpointKind,
    Container,
    ContainerType,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    License,
)

CHECKPOINT = "TKT-ST"


@dataclass
class LiveTracker:
    """A running tracker: its URL, a station token for CHECKPOINT, and containers it knows."""

    url: str
    token: str
    ssccs: list[str]
    reference: str
    sessions: sessionmaker[Session]
    port: int = 0

    def custody_event_ids(self) -> Counter[str]:
        """Return how many custody events the tracker holds per client event id."""
        with self.sessions() as session:
            return Counter(session.scalars(select(CustodyEvent.client_event_id)).all())


def _seed(session: Session, containers: int) -> tuple[str, list[str], str]:
    """Two dealers, three checkpoints, an in-transit declaration of flasks, a station token."""
    dealers = [Dealer(legal_name=f"Station test {n} LLC", taxpayer_number=f"9{n:013d}", country="KG")
               for n in (1, 2)]
    for n, dealer in enumerate(dealers):
        licence = License(number=f"KG-HG-ST-{n}", dealer=dealer, valid_from=date(2026, 1, 1),
                          valid_to=date(2027, 12, 31), annual_quota_g=10_000_000)
        licence.activities = {Activity.DOMESTIC_TRADE, Activity.STORAGE}
        session.add_all([dealer, licence])
    here, origin, destination = (
        Checkpoint(code=code, name=code, kind=CheckpointKind.CUSTOMS_POST, lat=lat, lon=lon)
        for code, lat, lon in ((CHECKPOINT, 41.873, 72.941), ("OSH-ST", 40.528, 72.799), ("BSK-ST", 42.875, 74.59)))
    session.add_all([here, origin, destination])
    session.flush()
    flasks = [Container(sscc=make_sscc(0, "4700077", n), container_type=ContainerType.FLASK_34_5KG, tare_g=2_700,
                        capacity_g=34_500, net_g=34_500, owner_id=dealers[0].id, custodian_id=dealers[0].id)
              for n in range(1, containers + 1)]
    session.add_all(flasks)
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    reference = "26KGHG00000077770"
    declaration = Declaration(
        kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.IN_TRANSIT, reference=reference,
        declarant=dealers[0], consignor=dealers[0], consignee=dealers[1], origin=origin, destination=destination,
        route=LineString([(72.799, 40.528), (72.941, 41.873), (74.59, 42.875)]),
        planned_departure=start, planned_arrival=start + timedelta(days=1))
    declaration.items = [DeclarationItem(container=f, declared_net_g=34_500) for f in flasks]
    declaration.expected_checkpoints = [ExpectedCheckpoint(seq=1, checkpoint=here)]
    session.add(declaration)
    session.flush()
    _, token = issue_token(session, name="station test", checkpoint=here)
    session.commit()
    return token, [f.sscc for f in flasks], reference


@contextmanager
def running_tracker(tmp_path: Path) -> Iterator[LiveTracker]:
    """Serve the tracker app on a fresh SQLite file in ``tmp_path``, on a free port, until the block ends."""
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        token, ssccs, reference = _seed(session, containers=4)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": secrets.token_hex(16)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveTracker(f"http://127.0.0.1:{server.server_port}", token, ssccs, reference, sessions,
                          server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["tracker.engine"].dispose()
        engine.dispose()


@dataclass
class TcpProxy:
    """Forward 127.0.0.1:port to a target port; stop() is a network cut, start() its return."""

    target_port: int
    port: int = 0
    _listener: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Accept connections again on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every connection in flight, mid-request or mid-answer."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() wakes the thread blocked in accept(), close() alone does not
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
