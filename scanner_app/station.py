"""The checkpoint station: frames in, one custody event per container sighting out.

For each frame: decode, keep the valid SSCCs, drop those already seen within the
debounce window, and for each new sighting look the container up on the tracker
(declaration, status), store the custody event in the outbox (committed to disk),
and only then print it as saved. A :class:`~scanner_app.outbox.Sender` thread delivers
the outbox to the tracker in the background, whether the network is there or not.
"""
from __future__ import annotations

import logging
import socket
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
from scanner_app.outbox import Outbox

log = logging.getLogger(__name__)

#: A container seen again within this many seconds of its last sighting is the same visit.
DEBOUNCE_WINDOW_S = 10.0
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


class Debouncer:
    """Turn a stream of sightings into visits: one per container until it is gone ``window_s``."""

    def __init__(self, window_s: float = DEBOUNCE_WINDOW_S) -> None:
        self.window_s = window_s
        self._last_seen: dict[str, float] = {}

    def new_visits(self, ssccs: set[str], seconds: float) -> list[str]:
        """Record the sightings at ``seconds``; return the SSCCs that start a new visit."""
        new = sorted(s for s in ssccs if seconds - self._last_seen.get(s, float("-inf")) > self.window_s)
        self._last_seen.update(dict.fromkeys(ssccs, seconds))
        # Forget containers long gone, so a station running for weeks keeps a small table.
        self._last_seen = {s: t for s, t in self._last_seen.items() if seconds - t <= self.window_s}
        return new


@dataclass
class StationSettings:
    """What a station records for each sighting."""

    checkpoint: str
    kind: str = "inspection"
    seal_intact: bool = True
    device: str = field(default_factory=socket.gethostname)
    window_s: float = DEBOUNCE_WINDOW_S


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
    """Decode frames, debounce, look containers up, and record custody events in the outbox."""

    def __init__(self, settings: StationSettings, outbox: Outbox, client: TrackerClient,
                 on_saved: Callable[[Sighting], None] | None = None) -> None:
        self.settings, self.outbox, self.client = settings, outbox, client
        self.debouncer = Debouncer(settings.window_s)
        self.on_saved = on_saved or (lambda sighting: None)
        self.stopping = threading.Event()
        self.saved = 0

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
        """Decode one frame and save one event per container seen for the first time in a while."""
        if frame.pixels is None:
            log.warning("%s: not a readable image, skipped", frame.name)
            return []
        try:
            codes = decode(frame.pixels)
        except ImageError as exc:
            log.warning("%s: %s", frame.name, exc)
            return []
        return [self.record(sscc, frame.name) for sscc in self.debouncer.new_visits(ssccs_in(codes), frame.seconds)]

    def record(self, sscc: str, frame_name: str) -> Sighting:
        """Look the container up, store its custody event durably, then announce it as saved."""
        container, looked_up = self._look_up(sscc)
        client_event_id = self.outbox.add(self.event(sscc, (container or {}).get("declaration")))
        sighting = Sighting(client_event_id, sscc, frame_name, container, looked_up)
        self.on_saved(sighting)
        return sighting

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
                return self.client.container(sscc, timeout=LOOKUP_TIMEOUT_S), True
            except TrackerError as exc:
                if not isinstance(exc, Unreachable) or exc.status is None or attempt == LOOKUP_ATTEMPTS:
                    log.info("could not look up %s (%s); recording anyway", sscc, exc)
                    break
                time.sleep(0.1 * attempt)
        return None, False


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
    expected = declaration.get("expected_checkpoints") or []
    here = "expected here" if checkpoint in expected or checkpoint in (
        declaration.get("origin"), declaration.get("destination")) else f"NOT EXPECTED at {checkpoint}"
    return (f"{head}: declaration {declaration.get('reference') or declaration.get('id')} "
            f"({declaration.get('status')}, {declaration.get('origin')} -> {declaration.get('destination')}), {here}")
