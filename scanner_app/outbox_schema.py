"""The outbox file's tables, and the in-place upgrade of a file written by an earlier station.

The file's version is SQLite's ``user_version``: 0 for a new file and for a file written
before the station had a memory (events only), :data:`VERSION` after the upgrade. The
upgrade is one transaction: a crash halfway leaves the file as it was, and nothing in
``events`` is touched. The events already in an old file seed the sighting memory, so a
station upgraded in the middle of a run does not record those containers again.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime

#: The layout this version of the station reads and writes.
VERSION = 2

EVENTS = (
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        client_event_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        answered_at REAL,
        answer TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS events_pending ON events (state, id)",
)

# Sightings: one row per checkpoint and container, its last sighting (seconds since the epoch);
# pruned once older than the debounce window. Photos: the SHA-256 of every photo file processed.
MEMORY = (
    """CREATE TABLE IF NOT EXISTS sightings (
        checkpoint TEXT NOT NULL,
        sscc TEXT NOT NULL,
        seen_at REAL NOT NULL,
        PRIMARY KEY (checkpoint, sscc)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS photos (
        digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
        name TEXT NOT NULL,
        processed_at REAL NOT NULL
    ) WITHOUT ROWID""",
)


class OutboxVersionError(Exception):
    """The outbox file was written by a newer station than this one."""


def upgrade(db: sqlite3.Connection) -> None:
    """Create the tables, or bring an older outbox file to :data:`VERSION` in place, atomically."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise OutboxVersionError(f"the outbox was written by a newer station (layout {version}, "
                                     f"this station knows up to {VERSION}): upgrade the station")
        if version < VERSION:
            for statement in EVENTS + MEMORY:
                db.execute(statement)
            _seed_sightings(db)
            db.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _seed_sightings(db: sqlite3.Connection) -> None:
    """Remember the latest recorded event per checkpoint and container as its last sighting."""
    latest: dict[tuple[str, str], float] = {}
    for (payload,) in db.execute("SELECT payload FROM events"):
        key_and_time = _sighting_of(payload)
        if key_and_time:
            key, seen_at = key_and_time
            latest[key] = max(seen_at, latest.get(key, seen_at))
    db.executemany("INSERT INTO sightings (checkpoint, sscc, seen_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (checkpoint, sscc) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
                   [(checkpoint, sscc, seen_at) for (checkpoint, sscc), seen_at in latest.items()])


def _sighting_of(payload: str) -> tuple[tuple[str, str], float] | None:
    """Return ((checkpoint, sscc), event time) of a stored event body; None when it lacks them."""
    try:
        event = json.loads(payload)
        when = datetime.fromisoformat(event["event_time"])
        return (str(event["checkpoint"]), str(event["sscc"])), when.timestamp()
    except (ValueError, TypeError, KeyError):
        return None
