"""What the station has seen, kept in its outbox file so that a restart records nothing twice.

Two memories, both written in the same transaction as the custody events they cause:

- **Sightings**: per checkpoint and container, the time it was last seen. A container
  seen again before it has been out of sight for the debounce window is the same visit
  and records nothing. Sightings older than the window are pruned, so the table holds
  only the containers seen in the last window.
- **Photos**: the SHA-256 of each photo file processed. A photo is identified by its
  bytes, not its name: a renamed or re-copied file is the same photo and is skipped.
  These are kept (32 bytes and a name per photo): they grow with the photos given to
  the station, not with the time it runs (camera and video frames are not kept), and
  a photo forgotten would be recorded again, in a chain that is never rewritten.

Times are seconds since the epoch (:meth:`scanner_app.station.Station.time_of`): when a
photo or video frame was taken, or the station's start plus the frame's time in its
camera, so a video debounces by its own timeline, and a file processed again days later
meets its own sightings again (unless later frames have pruned them).
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

from scanner_app.outbox import Outbox

#: A container must be out of sight this long (seconds) before it is seen as a new visit.
DEBOUNCE_WINDOW_S = 600.0
#: A container still in view has its last sighting rewritten at most this often (seconds).
TOUCH_INTERVAL_S = 1.0
#: Sightings older than the window are deleted at most this often (seconds of frame time).
PRUNE_INTERVAL_S = 60.0


class Memory:
    """The sightings of one checkpoint and the photos processed, in an outbox file."""

    def __init__(self, outbox: Outbox, checkpoint: str, window_s: float = DEBOUNCE_WINDOW_S) -> None:
        self.outbox, self.checkpoint, self.window_s = outbox, checkpoint, window_s
        self._written: dict[str, float] = {}    # last sighting time written, per container
        self._pruned_at = float("-inf")

    def photo_processed(self, digest: bytes) -> str | None:
        """Return the name under which a photo with these bytes was processed, or None."""
        rows = self.outbox.read("SELECT name FROM photos WHERE digest = ?", (digest,))
        return rows[0][0] if rows else None

    def new_visits(self, ssccs: Iterable[str], at: float, db: sqlite3.Connection | None = None) -> list[str]:
        """Return, sorted, the containers of ``ssccs`` not seen at this checkpoint within the window before ``at``.

        Pass ``db`` inside :meth:`Outbox.transaction` to check again under the write lock.
        """
        ssccs = sorted(set(ssccs))
        if not ssccs:
            return []
        sql = (f"SELECT sscc, seen_at FROM sightings WHERE checkpoint = ? "
               f"AND sscc IN ({', '.join('?' * len(ssccs))})")
        params = (self.checkpoint, *ssccs)
        last = dict(db.execute(sql, params).fetchall() if db else self.outbox.read(sql, params))
        return [s for s in ssccs if s not in last or at - last[s] > self.window_s]

    def to_write(self, ssccs: Iterable[str], at: float) -> list[str]:
        """Return the containers in view whose remembered sighting is due to be moved to ``at``."""
        interval = min(TOUCH_INTERVAL_S, self.window_s / 10)
        return sorted(s for s in set(ssccs) if at - self._written.get(s, float("-inf")) >= interval)

    def remember(self, db: sqlite3.Connection, ssccs: Iterable[str], at: float,
                 photo: tuple[bytes, str] | None = None) -> None:
        """Write, inside an open transaction, the sightings at ``at`` and the photo (digest, name) processed."""
        rows = [(self.checkpoint, sscc, at) for sscc in ssccs]
        db.executemany("INSERT INTO sightings (checkpoint, sscc, seen_at) VALUES (?, ?, ?) ON CONFLICT "
                       "(checkpoint, sscc) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)", rows)
        if photo is not None:
            db.execute("INSERT OR IGNORE INTO photos (digest, name, processed_at) VALUES (?, ?, ?)",
                       (photo[0], photo[1], at))
        self._written.update((sscc, at) for _, sscc, _ in rows)
        if at - self._pruned_at >= PRUNE_INTERVAL_S:
            self.prune(db, at)

    def prune(self, db: sqlite3.Connection, at: float) -> None:
        """Forget, inside an open transaction, sightings (of any checkpoint) older than the window before ``at``."""
        db.execute("DELETE FROM sightings WHERE seen_at < ?", (at - self.window_s,))
        self._written = {s: t for s, t in self._written.items() if at - t <= self.window_s}
        self._pruned_at = at

    def size(self) -> tuple[int, int]:
        """Return how many sightings and photos are remembered."""
        return (self.outbox.read("SELECT count(*) FROM sightings")[0][0],
                self.outbox.read("SELECT count(*) FROM photos")[0][0])
