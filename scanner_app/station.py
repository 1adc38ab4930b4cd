"""The checkpoint station: frames in, one custody event per container sighting out.

For each frame: skip a photo already processed (same bytes), decode, keep the valid
SSCCs, drop those seen at this checkpoint within the debounce window, and for each new
visit look the container up on the tracker (declaration, status), then store the custody
events, the sightings and the photo in the outbox in one transaction (committed to disk),
and only then print them as saved. What was seen is remembered in the outbox file
(:mod:`scanner_app.memory`), so a station restarted on the same photos or the same
containers records nothing twice. A :class:`~scanner_app.outbox.Sender` thread delivers
the outbox to the tracker in the background, whether the network is there or not.
"""
from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from scanner_app.client import TrackerClient, TrackerError, Unreachable
from scanner_app.decode import decode
from scanner_app.decoded import Decoded, ImageError
from scanner_app.frames import Frame
from scanner_app.gs1 import container_reads
from scanner_app.memory import DEBOUNCE_WINDOW_S, Memory
from scanner_app.outbox import Outbox, insert_event

log = logging.getLogger(__name__)

#: How long a declaration look-up may hold up the frame loop when the network is bad.
LOOKUP_TIMEOUT_S = 3.0
#: Look-ups answered with a server error (5xx) are tried this often before recording without one.
LOOKUP_ATTEMPTS = 3
KINDS = ("departure", "arrival", "inspection")


def ssccs_in(codes: Iterable[Decoded]) -> set[str]:
    """Return the valid container SSCCs among ``codes`` (a label's GS1-128 and QR code count once).

    Reads whose check digit fails are left out (and logged): never recorded as a container.
    """
    reads = container_reads(codes)
    for rejected in reads.rejected:
        log.warning("rejected read %r: %s", rejected.decoded.text, rejected.reason)
    return set(reads.ssccs)


@dataclass
class StationSettings:
    """What a station records for each sighting."""

    checkpoint: str
    kind: str = "inspection"
    seal_intact: bool = True
    device: str = field(default_factory=socket.gethostname)
    debounce_s: float = DEBOUNCE_WINDOW_S    # seconds out of sight before a container is a new visit


@dataclass(frozen=True)
class Sighting:
    """A saved custody event, as shown to the officer."""

    client_event_id: str
    sscc: str
    frame: str
    container: dict[str, Any] | None    # the tracker's record (None: not registered, or not asked)
    looked_up: bool                     # False when the tracker could not be asked

    @property
    def declaration(self) -> dict[str, Any] | None:
        """The open declaration the container travels under, as the tracker said."""
        return (self.container or {}).get("declaration")


class Station:
    """Decode frames, remember what was seen, look containers up, and record custody events in the outbox."""

    def __init__(self, settings: StationSettings, outbox: Outbox, client: TrackerClient,
                 on_saved: Callable[[Sighting], None] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.outbox, self.client = settings, outbox, client
        self.memory = Memory(outbox, settings.checkpoint, settings.debounce_s)
        self.clock = clock
        self.started = clock()  # camera and video frame times count from here (seconds since the epoch)
        self.on_saved = on_saved or (lambda sighting: None)
        self.stopping = threading.Event()
        self.saved = self.photos_skipped = 0

    def run(self, frames: Iterable[Frame]) -> int:
        """Process frames until they end or :meth:`stop`; return how many events were saved in all."""
        for frame in frames:
            if self.stopping.is_set():
                break
            self.saved += len(self.process(frame))
        return self.saved

    def stop(self) -> None:
        """Stop after the current frame (its events are already saved)."""
        self.stopping.set()

    def process(self, frame: Frame) -> list[Sighting]:
        """Save one event per container starting a new visit in ``frame``; a photo already processed is skipped."""
        if self._processed_before(frame):
            return []
        at, ssccs = self.time_of(frame), self.read(frame)
        candidates = self.memory.new_visits(ssccs, at)
        if not candidates and not self.memory.to_write(ssccs, at) and frame.digest is None:
            return []  # nothing new and nothing to remember: no disk write for this frame
        sightings = self._save(frame, at, ssccs, {sscc: self._look_up(sscc) for sscc in candidates})
        for sighting in sightings:
            self.on_saved(sighting)
        return sightings

    def _save(self, frame: Frame, at: float, ssccs: set[str],
              found: dict[str, tuple[dict[str, Any] | None, bool]]) -> list[Sighting]:
        """Commit together the events of the new visits (``found``: looked up), the sightings and the photo."""
        with self.outbox.transaction() as db:
            # Checked again under the write lock: another process on this outbox may have recorded them.
            sightings = [self._record(db, sscc, frame, *found[sscc])
                         for sscc in self.memory.new_visits(found, at, db)]
            due = {s.sscc for s in sightings} | set(self.memory.to_write(ssccs, at))
            self.memory.remember(db, due, at, (frame.digest, frame.name) if frame.digest else None)
        return sightings

    def time_of(self, frame: Frame) -> float:
        """Return when ``frame`` was seen, in seconds since the epoch, as the memory counts time.

        A photo or video file's frame: when it was taken, but never later than now (a file
        dated in the future must not hold a container off for days). A camera's frame, or a
        video's whose length is unknown: the station's start plus the frame's time in its source.
        """
        if frame.taken_at is not None:
            return min(frame.taken_at, self.clock())
        return self.started + frame.seconds

    def read(self, frame: Frame) -> set[str]:
        """Return the valid container SSCCs in a frame (none when it is not a readable image)."""
        if frame.pixels is None:
            log.warning("%s: not a readable image, skipped", frame.name)
            return set()
        try:
            return ssccs_in(decode(frame.pixels))
        except ImageError as exc:
            log.warning("%s: %s", frame.name, exc)
            return set()

    def _processed_before(self, frame: Frame) -> bool:
        """Tell (and count) whether ``frame`` is a photo whose bytes were already processed."""
        first_name = self.memory.photo_processed(frame.digest) if frame.digest else None
        if first_name is not None:
            log.info("%s: the same photo as %s, already processed; skipped", frame.name, first_name)
            self.photos_skipped += 1
        return first_name is not None

    def _record(self, db: sqlite3.Connection, sscc: str, frame: Frame,
                container: dict[str, Any] | None, looked_up: bool) -> Sighting:
        """Store the custody event of a new visit inside the frame's transaction."""
        event = self.event(sscc, (container or {}).get("declaration"))
        if frame.digest is not None:  # the tracker keeps which photo the event was read from
            event["photo_digest"] = frame.digest.hex()
        return Sighting(insert_event(db, event), sscc, frame.name, container, looked_up)

    def event(self, sscc: str, declaration: dict[str, Any] | None) -> dict[str, Any]:
        """Return the custody event body for a sighting of ``sscc`` now."""
        remarks = f"recorded by station {self.settings.device}"
        if declaration is None:
            remarks += "; no declaration known to the station when seen"
        return {
            "sscc": sscc, "checkpoint": self.settings.checkpoint, "kind": self.settings.kind,
            "seal_intact": self.settings.seal_intact, "device": self.settings.device[:64],
            "event_time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "remarks": remarks,
        }

    def _look_up(self, sscc: str) -> tuple[dict[str, Any] | None, bool]:
        """Ask the tracker about ``sscc``; a server hiccup (5xx) is asked again, briefly."""
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            try:
                return self.client.container(sscc, timeout=LOOKUP_TIMEOUT_S, kind=self.settings.kind), True
            except TrackerError as exc:
                if not isinstance(exc, Unreachable) or exc.status is None or attempt == LOOKUP_ATTEMPTS:
                    log.info("could not look up %s (%s); recording anyway", sscc, exc)
                    break
                time.sleep(0.1 * attempt)
        return None, False


def _verdict(container: dict[str, Any], checkpoint: str) -> str:
    """Say what the tracker's custody check answered for this station's event here (its reasons too)."""
    check = container.get("custody_check") or {}
    reasons = "; ".join(check.get("reasons") or [])
    if check.get("verdict") == "allowed":
        return "expected here"
    if check.get("verdict") == "allowed_with_alert":
        return f"expected here, WITH ALERTS: {reasons}"
    if check.get("verdict") == "refused":
        return f"REFUSED at {checkpoint}: {reasons}"
    return "custody check not answered"


def describe(sighting: Sighting, checkpoint: str) -> str:
    """Return the line shown to the officer for a saved event."""
    head = f"SAVED {sighting.sscc} event {sighting.client_event_id}"
    declaration = sighting.declaration
    if not sighting.looked_up:
        return f"{head}: declaration not known yet (tracker unreachable; the event waits in the outbox)"
    if sighting.container is None:
        return f"{head}: NOT REGISTERED on the tracker"
    if declaration is None:
        return f"{head}: NO OPEN DECLARATION for this container"
    here = _verdict(sighting.container or {}, checkpoint)
    return (f"{head}: declaration {declaration.get('reference') or declaration.get('id')} "
            f"({declaration.get('status')}, {declaration.get('origin')} -> {declaration.get('destination')}), {here}")
