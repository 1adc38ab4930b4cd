"""``scanner station``: run a checkpoint station on a camera, a video or a folder of photos."""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Iterator

from scanner_app.client import Rejected, TrackerClient, Unreachable, read_token
from scanner_app.frames import Frame, SourceError, is_live, open_frames
from scanner_app.outbox import Backoff, Outbox, Sender
from scanner_app.outbox_schema import OutboxVersionError
from scanner_app.station import (
    KINDS,
    LOOKUP_TIMEOUT_S,
    Sighting,
    Station,
    StationSettings,
    describe,
)

HELP = "Run a checkpoint station on a camera, a video or a folder of photos"
DEFAULT_OUTBOX = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") \
    / "mercury-scanner" / "outbox.sqlite3"
DEFAULT_DEBOUNCE = "10m"
DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
#: A container back the next day is a new visit; and the memory keeps a window's sightings.
LONGEST_DEBOUNCE_S = 24 * 3600.0


def duration(text: str) -> float:
    """Read a debounce such as ``10m``, ``90s``, ``1.5h`` or ``600`` (seconds); return seconds, 0 < s <= 24 h."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
    seconds = float(match[1]) * DURATION_UNITS[match[2]] if match else 0.0
    if not 0 < seconds <= LONGEST_DEBOUNCE_S:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 10m, 90s or 1h (at most 24h)")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--checkpoint", required=True, help="code of this station's checkpoint")
    parser.add_argument("--source", required=True, help="camera index (0), a video file, or a folder of photos")
    parser.add_argument("--tracker", required=True, help="tracker base URL, e.g. https://tracker.example")
    parser.add_argument("--token-file", required=True, type=Path, help="file holding the station's device token")
    parser.add_argument("--kind", choices=KINDS, default="inspection", help="custody event kind (inspection)")
    parser.add_argument("--outbox", type=Path, default=Path(os.environ.get("SCANNER_OUTBOX", DEFAULT_OUTBOX)),
                        help=f"outbox SQLite file (SCANNER_OUTBOX, default {DEFAULT_OUTBOX})")
    parser.add_argument("--seal-broken", action="store_true", help="record the seals as broken")
    parser.add_argument("--device", help="station name sent with each event (host name)")
    parser.add_argument("--debounce", type=duration, metavar="DURATION",
                        default=os.environ.get("SCANNER_DEBOUNCE", DEFAULT_DEBOUNCE),
                        help="how long a container must be out of sight at this checkpoint before it is recorded "
                             "again, also across restarts: 10m, 90s, 1h, at most 24h "
                             f"(SCANNER_DEBOUNCE, default {DEFAULT_DEBOUNCE})")
    # The previous version's name for the same setting, in seconds; kept so that old start scripts still run.
    parser.add_argument("--window", type=duration, dest="debounce", help=argparse.SUPPRESS)
    parser.add_argument("--retry-max", type=float, default=300.0,
                        help="longest wait between delivery attempts, seconds (300)")
    parser.add_argument("--resend-rejected", action="store_true",
                        help="send events the tracker refused again (once the cause is fixed on the tracker)")
    parser.add_argument("--no-wait", action="store_true",
                        help="with a file or folder, exit when the frames end instead of waiting for delivery")


class StartError(Exception):
    """The station cannot start: bad source, token file or token (one line for the operator)."""


def run(args: argparse.Namespace) -> int:
    """Run the station until the frames end (and the outbox is delivered) or SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        client, frames = _connect(args)
    except StartError as exc:
        print(f"scanner station: {exc}", file=sys.stderr)
        return 2
    try:
        outbox = Outbox(args.outbox)
    except (OutboxVersionError, sqlite3.DatabaseError) as exc:
        print(f"scanner station: cannot use the outbox {args.outbox}: {exc}", file=sys.stderr)
        return 2
    if args.resend_rejected:
        print(f"{outbox.requeue_rejected()} refused event(s) queued again", flush=True)
    sender = Sender(outbox, client, Backoff(base=min(1.0, args.retry_max), cap=args.retry_max))
    station = Station(_settings(args), outbox, client, on_saved=lambda s: _announce(s, args.checkpoint, sender))
    interrupted = _stop_on_signals(station, sender)
    sender.start()
    failure = None
    try:
        station.run(frames)
        if not (is_live(args.source) or args.no_wait):
            _wait_for_delivery(outbox, sender, interrupted)
    except SourceError as exc:  # the camera stopped giving pictures; what was saved stays saved
        failure = str(exc)
    finally:
        sender.stop()
        sender.join(timeout=30)
        counts = outbox.counts()
        outbox.close()
    print(f"saved {station.saved} events; {station.photos_skipped} photos already processed; outbox: "
          f"{counts['pending']} pending, {counts['sent']} sent, {counts['rejected']} rejected", flush=True)
    if failure:
        print(f"scanner station: {failure}", file=sys.stderr)
    return 1 if failure else 0


def _connect(args: argparse.Namespace) -> tuple[TrackerClient, Iterator[Frame]]:
    """Open the token and the source, and check the token with the tracker when it answers."""
    try:
        client = TrackerClient(args.tracker, read_token(args.token_file))
        frames = open_frames(args.source)
    except (OSError, ValueError) as exc:  # SourceError is a ValueError
        raise StartError(str(exc)) from exc
    problem = _token_problem(client, args.checkpoint)
    if problem:
        raise StartError(problem)
    return client, frames


def _settings(args: argparse.Namespace) -> StationSettings:
    return StationSettings(checkpoint=args.checkpoint, kind=args.kind, seal_intact=not args.seal_broken,
                           debounce_s=args.debounce, **({"device": args.device} if args.device else {}))


def _announce(sighting: Sighting, checkpoint: str, sender: Sender) -> None:
    """Show a saved event, and try to send it now rather than at the end of a long backoff."""
    print(describe(sighting, checkpoint), flush=True)
    sender.wake()


def _token_problem(client: TrackerClient, checkpoint: str) -> str | None:
    """Check with the tracker, when it can be reached, that the token is this checkpoint's station."""
    try:
        device = client.device(timeout=LOOKUP_TIMEOUT_S)
    except Rejected as exc:
        return f"the tracker refuses the token: {exc}"
    except Unreachable as exc:
        logging.getLogger(__name__).warning("tracker not reachable (%s); starting offline", exc)
        return None
    if device.get("kind") != "station" or device.get("checkpoint") != checkpoint:
        return f"the token is for {device.get('kind')} {device.get('checkpoint') or device.get('name')}, " \
               f"not the station of checkpoint {checkpoint}"
    return None


def _stop_on_signals(station: Station, sender: Sender) -> threading.Event:
    """Make SIGTERM and SIGINT end the station cleanly; everything saved is already on disk."""
    interrupted = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
        interrupted.set()
        station.stop()
        sender.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return interrupted


def _wait_for_delivery(outbox: Outbox, sender: Sender, interrupted: threading.Event) -> None:
    """After a finite source, keep the sender going until the outbox is delivered (or a signal)."""
    sender.wake()
    while outbox.counts()["pending"] and not interrupted.is_set():
        interrupted.wait(0.2)

