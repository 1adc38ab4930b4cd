"""The wake-up signal of the portal's live streams: one per web process.

On PostgreSQL one thread per process holds one connection that ``LISTEN``\\s on
:data:`tracker.domain.changes.CHANNEL` and wakes every waiting stream when a writer's
transaction commits; the streams then ask the database what changed. While the listener
is down (database restarting) it reconnects by itself and the streams poll meanwhile, as
they always do on SQLite.
"""
from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy.engine import make_url

from tracker.domain.changes import CHANNEL

log = logging.getLogger(__name__)
#: Seconds the listener waits before connecting again after losing its connection.
RECONNECT_S = 2.0


class Signal:
    """A generation counter that streams wait on; ``listening`` says whether NOTIFY feeds it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self.listening = False

    def wake(self) -> None:
        """Wake every stream waiting now."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def generation(self) -> int:
        """Return the current generation (read it before asking the database)."""
        with self._condition:
            return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        """Wait until a wake-up after generation ``seen``, or ``timeout`` seconds."""
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen, timeout=max(timeout, 0))


_signals: dict[str, Signal] = {}
_lock = threading.Lock()


def signal_for(database_url: str) -> Signal:
    """Return the process's signal for ``database_url``, starting its listener on PostgreSQL once."""
    with _lock:
        if database_url not in _signals:
            _signals[database_url] = Signal()
            if make_url(database_url).get_backend_name() == "postgresql":
                threading.Thread(target=_listen, args=(database_url, _signals[database_url]),
                                 name="live-listener", daemon=True).start()
        return _signals[database_url]


def _conninfo(database_url: str) -> str:
    """Return the libpq connection string of a SQLAlchemy URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _listen(database_url: str, signal: Signal) -> None:
    """Listen for ever, reconnecting after a failure; wake the streams after each notification."""
    while True:
        try:
            with psycopg.connect(_conninfo(database_url), autocommit=True, connect_timeout=5) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                signal.listening = True
                signal.wake()  # what was committed while nobody listened is read now
                for _notification in connection.notifies():
                    signal.wake()
        except Exception as exc:  # noqa: BLE001 - the listener must outlive anything; the streams poll meanwhile
            log.warning("live updates: listening on the database failed (%s); polling until it is back", exc)
        signal.listening = False
        time.sleep(RECONNECT_S)
