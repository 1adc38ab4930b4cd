"""The station's durable outbox: custody events wait here until the tracker has them.

SQLite in WAL mode with ``synchronous=FULL``: :meth:`Outbox.add` returns only after the
event is committed to disk, so an event shown as saved survives a crash, ``kill -9`` or
a power cut. An event leaves the "pending" state only when the tracker has answered
for it: "sent" (201, or 200 for a replay of the same client event id) or "rejected"
(a permanent 4xx, kept with the answer for the operator; never deleted). Delivery is
at least once; the tracker's idempotency on ``client_event_id`` makes it exactly once.

The same file keeps the station's memory (:mod:`scanner_app.memory`): what it has seen,
written in the same transaction as the events it caused (:meth:`Outbox.transaction`).
Its layout and the upgrade of older files are in :mod:`scanner_app.outbox_schema`.
"""
from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from scanner_app.client import Rejected, TrackerClient, Unreachable
from scanner_app.outbox_schema import upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxEvent:
    """One stored custody event."""

    id: int
    client_event_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None


class Outbox:
    """A SQLite file of custody events waiting for (or done with) delivery; safe across threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: we open transactions ourselves, so each add is one explicit commit.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            upgrade(self._db)
        except BaseException:  # not an outbox, or a newer one: leave the file as it was
            self._db.close()
            raise

    def close(self) -> None:
        """Close the file (everything is already committed)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the file for one write: all done on the connection given is committed together, or none."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Return the rows of one query (the memory's look-ups), between other threads' writes."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def add(self, payload: dict[str, Any]) -> str:
        """Store a new event durably and return its client event id (a UUID, set here if absent)."""
        with self.transaction() as db:
            return insert_event(db, payload)

    def pending(self, limit: int = 100, after_id: int = 0) -> list[OutboxEvent]:
        """Return the oldest events still waiting for the tracker (recorded after ``after_id``), in order."""
        return self._select("WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))

    def events(self) -> list[OutboxEvent]:
        """Return every stored event in order (for reports and tests)."""
        return self._select("ORDER BY id", ())

    def counts(self) -> dict[str, int]:
        """Return how many events are pending, sent and rejected."""
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM events GROUP BY state").fetchall()
        return {"pending": 0, "sent": 0, "rejected": 0, **dict(rows)}

    def mark_sent(self, client_event_id: str, answer: dict[str, Any]) -> None:
        """Record that the tracker has the event (first time or replay)."""
        self._answer(client_event_id, "sent", answer)

    def mark_rejected(self, client_event_id: str, answer: dict[str, Any]) -> None:
        """Record that the tracker refused the event for good; it stays here for the operator."""
        self._answer(client_event_id, "rejected", answer)

    def mark_failed(self, client_event_id: str, error: str) -> None:
        """Count a failed attempt; the event stays pending."""
        with self._lock:
            self._db.execute("UPDATE events SET attempts = attempts + 1, last_error = ? "
                             "WHERE client_event_id = ? AND state = 'pending'", (error[:500], client_event_id))

    def requeue_rejected(self) -> int:
        """Put refused events back in the queue (e.g. once the container is registered); return how many."""
        with self._lock:
            return self._db.execute("UPDATE events SET state = 'pending' WHERE state = 'rejected'").rowcount

    def _answer(self, client_event_id: str, state: str, answer: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE events SET state = ?, attempts = attempts + 1, answered_at = ?, answer = ? "
                "WHERE client_event_id = ? AND state = 'pending'",
                (state, time.time(), json.dumps(answer, sort_keys=True), client_event_id))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[OutboxEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, client_event_id, payload, state, attempts, last_error FROM events " + where,
                params).fetchall()
        return [OutboxEvent(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]


def insert_event(db: sqlite3.Connection, payload: dict[str, Any]) -> str:
    """Insert a new pending event inside an open transaction; return its client event id."""
    payload = {**payload, "client_event_id": payload.get("client_event_id") or str(uuid.uuid4())}
    db.execute("INSERT INTO events (client_event_id, payload, created_at) VALUES (?, ?, ?)",
               (payload["client_event_id"], json.dumps(payload, sort_keys=True), time.time()))
    return str(payload["client_event_id"])


#: Answers that say the event itself is wrong (malformed, conflicting, invalid): retrying cannot help.
#: Anything else (401/403 token, 404 checkpoint or route unknown, ...) may be fixed on the tracker
#: later, so the event is kept pending and retried.
PERMANENT_REFUSALS = frozenset({400, 409, 413, 422})


class Backoff:
    """Exponential backoff with jitter: each delay is 50-100 % of base * 2^failures, capped.

    The jitter spreads the retries of many stations coming back online at once.
    """

    def __init__(self, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> None:
        self.base, self.cap, self.failures = base, cap, 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 30))
        self.failures += 1
        return ceiling * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Forget the failures (the tracker answered)."""
        self.failures = 0


class Sender(threading.Thread):
    """Deliver the outbox's pending events to the tracker in recorded order, retrying with backoff.

    Runs as a daemon thread; :meth:`stop` ends it between two requests. A request cut
    off halfway is simply sent again later: the tracker answers the replay with 200.
    """

    def __init__(self, outbox: Outbox, client: TrackerClient, backoff: Backoff | None = None,
                 idle_poll: float = 5.0) -> None:
        super().__init__(name="outbox-sender", daemon=True)
        self.outbox, self.client = outbox, client
        self.backoff = backoff or Backoff()
        self.idle_poll = idle_poll
        self.online: bool | None = None
        self._wake, self._stopping = threading.Event(), threading.Event()

    def wake(self) -> None:
        """Send now: a new event was added."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the thread to end after the request in flight (if any)."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Deliver until stopped; wait idly when the outbox is empty, back off when the tracker is not there."""
        while not self._stopping.is_set():
            try:
                delivered = self.deliver_pending()
            except Exception:  # noqa: BLE001  (the thread must outlive any surprise; events stay pending)
                log.exception("outbox delivery failed; retrying later")
                delivered = False
            delay = self.idle_poll if delivered else self.backoff.next_delay()
            self._wake.wait(delay)
            self._wake.clear()

    def deliver_pending(self) -> bool:
        """Send every pending event once, oldest first; return True when the tracker took them all.

        A network failure ends the round (the rest would fail too); an event the tracker
        holds back (unknown container, bad token) stays pending and the next one is tried.
        """
        last_id, all_taken = 0, True
        while batch := self.outbox.pending(after_id=last_id):
            for event in batch:
                if self._stopping.is_set():
                    return False
                outcome = self._deliver(event)
                if outcome is None:
                    return False
                all_taken &= outcome
                last_id = event.id
        return all_taken

    def _deliver(self, event: OutboxEvent) -> bool | None:
        """Send one event: True when answered for good, False when held back, None when unreachable."""
        try:
            status, answer = self.client.post_custody_event(event.payload)
        except Unreachable as exc:
            self.outbox.mark_failed(event.client_event_id, str(exc))
            self._set_online(False, str(exc))
            return None
        except Rejected as exc:
            self._set_online(True)
            if exc.status not in PERMANENT_REFUSALS:
                log.warning("tracker holds back event %s: %s (retrying later)", event.client_event_id, exc)
                self.outbox.mark_failed(event.client_event_id, str(exc))
                return False
            log.error("tracker refused event %s for good: %s (kept in the outbox)", event.client_event_id, exc)
            self.outbox.mark_rejected(event.client_event_id, {"status": exc.status, **exc.body})
            return True
        self.outbox.mark_sent(event.client_event_id, answer)
        self._set_online(True)
        self.backoff.reset()
        log.info("delivered event %s (%s)", event.client_event_id, "new" if status == 201 else "already there")
        for alert in answer.get("alerts") or []:  # e.g. not expected here, seal broken: tell the officer
            log.warning("tracker alert for %s: %s", event.payload.get("sscc"), alert)
        return True

    def _set_online(self, online: bool, error: str = "") -> None:
        if online != self.online:
            if online:
                log.info("tracker reachable: syncing the outbox")
            else:
                log.warning("tracker not reachable (%s): events wait in the outbox", error)
        self.online = online
