"""The station's memory: restarted on the same photos, outbox and containers, it records nothing twice."""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import cv2
import pytest
from sqlalchemy import select

from scanner_app.client import TrackerClient
from scanner_app.commands.station import DEFAULT_DEBOUNCE
from scanner_app.cli import build_parser
from scanner_app.frames import Frame, open_frames
from scanner_app.memory import Memory
from scanner_app.outbox import Outbox, Sender
from scanner_app.outbox_schema import VERSION
from scanner_app.station import Station, StationSettings
from tracker.domain.gs1 import make_sscc
from tracker.models import CustodyEvent

from tests.scanner.test_outbox import CHECKOUT, event_for, outbox_rows, station_command, wait_until
from tests.scanner.test_station import label_frame, run_station, stored_events, write_token, write_video
from tests.scanner.tracker_server import CHECKPOINT, LiveTracker

START = 1_800_000_000.0  # the station's clock at its first start, in the tests that set it


def write_photos(folder: Path, ssccs: list[str], per_container: int = 2) -> list[Path]:
    """Photos of each container's label, ``per_container`` shots each (different bytes), in name order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for sscc in ssccs:
        for shot in range(per_container):
            frame = label_frame(sscc)
            cv2.putText(frame, f"shot {len(paths)}", (400, 460), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
            paths.append(folder / f"IMG_{len(paths):04d}.jpg")
            cv2.imwrite(str(paths[-1]), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return paths


def date_photo(photo: Path, taken_at: float) -> None:
    """Give a photo file the time it was taken, as a camera's card does."""
    os.utime(photo, (taken_at, taken_at))


def containers_for(tracker: LiveTracker, unregistered: int) -> list[str]:
    """The tracker's four flasks and some containers it has never heard of (each opens an alert there)."""
    return tracker.ssccs + [make_sscc(0, "4700078", n) for n in range(1, unregistered + 1)]


def station_at(tracker: LiveTracker, outbox: Outbox, clock: float, device: str = "lane 1") -> Station:
    """A station at CHECKPOINT with the default debounce, whose clock reads ``clock`` when it starts."""
    return Station(StationSettings(checkpoint=CHECKPOINT, device=device), outbox,
                   TrackerClient(tracker.url, tracker.token), clock=lambda: clock)


def deliver(outbox: Outbox, tracker: LiveTracker) -> None:
    """Send the outbox to the tracker now."""
    assert Sender(outbox, TrackerClient(tracker.url, tracker.token)).deliver_pending() is True


def recorded_ssccs(tracker: LiveTracker) -> Counter[str]:
    """How many custody events the tracker holds per container."""
    return Counter(sscc for sscc, _, _ in stored_events(tracker))


class BlackHole:
    """A port that takes connections and never answers: each tracker call waits for its timeout."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


# ---------------------------------------------------------------- the attacker's scenario
def test_station_killed_partway_and_restarted_on_the_same_folder_records_each_container_once(
        tmp_path: Path, live_tracker: LiveTracker, black_hole: BlackHole) -> None:
    containers = containers_for(live_tracker, unregistered=4)
    photos = tmp_path / "photos"
    write_photos(photos, containers)
    token_file, outbox = write_token(tmp_path, live_tracker), tmp_path / "outbox.sqlite3"
    # A tracker that never answers makes each new container take a look-up timeout: time to kill it partway.
    first = subprocess.Popen(station_command(black_hole.url, token_file, outbox, photos), cwd=CHECKOUT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(outbox_rows(outbox)) >= 2, what="two events saved")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    saved_before = len(outbox_rows(outbox))
    assert 2 <= saved_before < len(containers)

    restarted = run_station(live_tracker.url, token_file, outbox, photos)
    assert restarted.returncode == 0, restarted.stderr
    assert f"saved {len(containers) - saved_before} events" in restarted.stdout
    assert f"0 pending, {len(containers)} sent, 0 rejected" in restarted.stdout
    assert recorded_ssccs(live_tracker) == Counter(containers)   # every container once, on the tracker


def test_station_run_twice_on_the_same_folder_records_nothing_the_second_time(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    containers = containers_for(live_tracker, unregistered=1)
    photos, token_file, outbox = tmp_path / "photos", write_token(tmp_path, live_tracker), tmp_path / "o.sqlite3"
    write_photos(photos, containers)
    assert run_station(live_tracker.url, token_file, outbox, photos).returncode == 0
    again = run_station(live_tracker.url, token_file, outbox, photos)
    assert again.returncode == 0, again.stderr
    assert f"saved 0 events; {2 * len(containers)} photos already processed" in again.stdout
    assert recorded_ssccs(live_tracker) == Counter(containers)


# ---------------------------------------------------------------- the debounce window
def test_container_seen_again_after_the_window_is_a_new_visit_and_is_recorded(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask = live_tracker.ssccs[0]
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    frame = Frame(label_frame(flask), 0.0, "camera 0 frame 0")
    assert len(station_at(live_tracker, outbox, START).process(frame)) == 1
    # Restarted five minutes later, the container still at the gate: the same visit.
    assert station_at(live_tracker, outbox, START + 300).process(frame) == []
    # Restarted more than ten minutes after it was last seen: a new visit.
    assert len(station_at(live_tracker, outbox, START + 300 + 601).process(frame)) == 1
    deliver(outbox, live_tracker)
    assert recorded_ssccs(live_tracker) == {flask: 2}


def test_photos_keep_the_time_they_were_taken_however_late_the_folder_is_processed_again(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask = live_tracker.ssccs[0]
    shots = write_photos(tmp_path / "photos", [flask], per_container=3)
    for shot, taken_at in zip(shots, (START, START + 1, START + 700)):
        date_photo(shot, taken_at)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    frames = list(open_frames(str(shots[0].parent)))
    assert len(station_at(live_tracker, outbox, START + 3_600).process(frames[0])) == 1   # then killed
    # Restarted the next day on the same folder: the second shot is the same visit, the third a new one.
    again = station_at(live_tracker, outbox, START + 86_400)
    assert [[s.sscc for s in again.process(f)] for f in frames] == [[], [], [flask]]
    deliver(outbox, live_tracker)
    assert recorded_ssccs(live_tracker) == {flask: 2}


def test_a_photo_dated_in_the_future_does_not_hold_a_container_off(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask = live_tracker.ssccs[0]
    (photo,) = write_photos(tmp_path / "photos", [flask], per_container=1)
    date_photo(photo, START + 10 * 86_400)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    assert station_at(live_tracker, outbox, START).run(open_frames(str(photo.parent))) == 1
    camera = Frame(label_frame(flask), 0.0, "camera 0 frame 0")
    assert len(station_at(live_tracker, outbox, START + 700).process(camera)) == 1


def test_within_one_run_a_container_gone_longer_than_the_window_is_a_new_visit(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask, other = live_tracker.ssccs[:2]
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    frames = [Frame(label_frame(sscc), seconds, f"camera 0 frame {n}")
              for n, (sscc, seconds) in enumerate([(flask, 0), (flask, 590), (other, 900), (flask, 1191)])]
    station = Station(StationSettings(checkpoint=CHECKPOINT, device="lane 1", debounce_s=600), outbox,
                      TrackerClient(live_tracker.url, live_tracker.token), clock=lambda: START)
    assert [[s.sscc for s in station.process(frame)] for frame in frames] == [[flask], [], [other], [flask]]


# ---------------------------------------------------------------- photos are known by their bytes
def test_the_same_photo_under_another_name_is_not_processed_twice(tmp_path: Path, live_tracker: LiveTracker) -> None:
    containers = live_tracker.ssccs[:2]
    originals = write_photos(tmp_path / "card", containers, per_container=1)
    copies = tmp_path / "copied-next-day"
    copies.mkdir()
    for n, photo in enumerate(originals):   # re-copied under other names, plus a second copy in the folder
        shutil.copy(photo, copies / f"renamed-{n}.JPG")
        shutil.copy(photo, copies / f"renamed-{n}-copy.jpeg")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    assert station_at(live_tracker, outbox, START).run(open_frames(str(originals[0].parent))) == 2
    a_day_later = station_at(live_tracker, outbox, START + 86_400)   # the sightings are long forgotten
    assert a_day_later.run(open_frames(str(copies))) == 0
    assert a_day_later.photos_skipped == 4
    deliver(outbox, live_tracker)
    assert recorded_ssccs(live_tracker) == Counter(containers)


# ---------------------------------------------------------------- two stations at one checkpoint
def test_two_stations_at_one_checkpoint_each_remember_only_what_they_saw(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    containers = live_tracker.ssccs[:2]
    photos = write_photos(tmp_path / "photos", containers, per_container=1)[0].parent
    lanes = {lane: Outbox(tmp_path / f"{lane}.sqlite3") for lane in ("lane 1", "lane 2")}
    for lane, outbox in lanes.items():
        assert station_at(live_tracker, outbox, START, device=lane).run(open_frames(str(photos))) == 2
        assert station_at(live_tracker, outbox, START + 60, device=lane).run(open_frames(str(photos))) == 0
        deliver(outbox, live_tracker)
    # Each station records each container once; the tracker, told by both, holds one event per station.
    assert recorded_ssccs(live_tracker) == {sscc: 2 for sscc in containers}
    with live_tracker.sessions() as session:
        devices = Counter(session.scalars(select(CustodyEvent.device)).all())
    assert devices == {"lane 1": 2, "lane 2": 2}


# ---------------------------------------------------------------- the memory's size
def test_memory_forgets_sightings_older_than_the_window_but_keeps_photos(tmp_path: Path) -> None:
    memory = Memory(Outbox(tmp_path / "outbox.sqlite3"), CHECKPOINT, window_s=600)
    with memory.outbox.transaction() as db:
        for n in range(2_000):
            memory.remember(db, {make_sscc(0, "4700078", n)}, START + n / 10, (n.to_bytes(32, "big"), f"{n}.jpg"))
    assert memory.size() == (2_000, 2_000)
    with memory.outbox.transaction() as db:
        memory.remember(db, {"376104250021234569"}, START + 200 + 600)
    # Only the sightings of the last ten minutes are left; every photo is still known.
    assert memory.size() == (1, 2_000)
    assert memory.photo_processed((1).to_bytes(32, "big")) == "1.jpg"


# ---------------------------------------------------------------- outbox files of the previous version
PREVIOUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    answered_at REAL,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (state, id);
"""


def previous_version_outbox(path: Path, events: list[tuple[str, dict[str, object], str]]) -> None:
    """Write an outbox as the station before the memory did: (client event id, body, state) rows."""
    with sqlite3.connect(path) as db:
        db.executescript(PREVIOUS_SCHEMA)
        db.executemany("INSERT INTO events (client_event_id, payload, state, created_at) VALUES (?, ?, ?, 0)",
                       [(cid, json.dumps({**body, "client_event_id": cid}), state) for cid, body, state in events])
    db.close()


def test_outbox_of_the_previous_version_is_upgraded_in_place_losing_nothing(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask = live_tracker.ssccs[0]
    seen = datetime.fromtimestamp(START, timezone.utc).isoformat()
    path = tmp_path / "outbox.sqlite3"
    previous_version_outbox(path, [("sent-one", event_for(flask, event_time=seen), "sent"),
                                   ("waiting", event_for(live_tracker.ssccs[1]), "pending"),
                                   ("odd", {"sscc": "x"}, "rejected")])
    outbox = Outbox(path)
    assert [(e.client_event_id, e.state) for e in outbox.events()] == [
        ("sent-one", "sent"), ("waiting", "pending"), ("odd", "rejected")]
    assert outbox.read("PRAGMA user_version") == [(VERSION,)]
    # The events already recorded are remembered: the same flask, still at the gate, is not recorded again.
    frame = Frame(label_frame(flask), 0.0, "camera 0 frame 0")
    assert station_at(live_tracker, outbox, START + 120).process(frame) == []
    outbox.close()
    assert [e.client_event_id for e in Outbox(path).pending()] == ["waiting"]   # reopening changes nothing


def test_outbox_of_a_newer_station_or_not_an_outbox_is_refused_in_one_line(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    newer, not_sqlite = tmp_path / "newer.sqlite3", tmp_path / "notes.txt"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    db.close()
    not_sqlite.write_text("this is not an outbox\n" * 100)
    token_file = write_token(tmp_path, live_tracker)
    for outbox, reason in ((newer, "written by a newer station"), (not_sqlite, "not a database")):
        result = run_station(live_tracker.url, token_file, outbox, tmp_path)
        assert result.returncode == 2 and reason in result.stderr and "Traceback" not in result.stderr
    assert not_sqlite.read_text() == "this is not an outbox\n" * 100


# ---------------------------------------------------------------- the setting
def test_debounce_setting_takes_minutes_seconds_or_hours_and_defaults_to_ten_minutes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    required = ["station", "--checkpoint", CHECKPOINT, "--source", "0", "--tracker", "http://t", "--token-file", "t"]
    monkeypatch.delenv("SCANNER_DEBOUNCE", raising=False)
    assert DEFAULT_DEBOUNCE == "10m" and build_parser().parse_args(required).debounce == 600
    for given, seconds in (("90s", 90), ("1.5h", 5400), ("2m", 120), ("45", 45)):
        assert build_parser().parse_args(required + ["--debounce", given]).debounce == seconds
    assert build_parser().parse_args(required + ["--window", "10"]).debounce == 10   # the old name, seconds
    monkeypatch.setenv("SCANNER_DEBOUNCE", "15m")
    assert build_parser().parse_args(required).debounce == 900


@pytest.mark.parametrize("given", ["0", "0m", "-5m", "ten minutes", "10 d", "nan", "inf", "", "25h", "9" * 400])
def test_debounce_setting_refuses_what_is_not_a_positive_duration(
        given: str, capsys: pytest.CaptureFixture[str]) -> None:
    required = ["station", "--checkpoint", CHECKPOINT, "--source", "0", "--tracker", "http://t", "--token-file", "t"]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(required + [f"--debounce={given}"])
    assert exit_.value.code == 2 and "not a duration such as 10m" in capsys.readouterr().err


def test_events_from_photos_carry_the_photo_digest_to_the_tracker(tmp_path: Path, live_tracker: LiveTracker) -> None:
    (photo,) = write_photos(tmp_path / "photos", live_tracker.ssccs[:1], per_container=1)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    station_at(live_tracker, outbox, START).run(open_frames(str(photo.parent)))
    deliver(outbox, live_tracker)
    with live_tracker.sessions() as session:
        assert session.scalars(select(CustodyEvent.photo_digest)).all() == [
            hashlib.sha256(photo.read_bytes()).hexdigest()]


def test_a_video_processed_again_the_next_day_records_only_what_was_not_recorded(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    first, second = live_tracker.ssccs[:2]
    video = write_video(tmp_path / "gate.avi", [(first, 30), (None, 10), (second, 30)])
    date_photo(video, START)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    killed = station_at(live_tracker, outbox, START + 3_600)
    assert [s.sscc for frame in itertools.islice(open_frames(str(video)), 35) for s in killed.process(frame)] == [first]
    assert station_at(live_tracker, outbox, START + 86_400).run(open_frames(str(video))) == 1
    deliver(outbox, live_tracker)
    assert recorded_ssccs(live_tracker) == Counter([first, second])


def test_two_station_processes_on_one_outbox_record_a_container_once(tmp_path: Path, live_tracker: LiveTracker) -> None:
    flask = live_tracker.ssccs[0]
    frame = Frame(label_frame(flask), 0.0, "camera 0 frame 0")
    path = tmp_path / "outbox.sqlite3"
    first = station_at(live_tracker, Outbox(path), START)

    class FirstGoesWhileWeAsk(TrackerClient):
        """The other process records the flask while this one is still asking the tracker about it."""

        def container(self, sscc: str, timeout: float | None = None,
                      kind: str | None = None) -> dict[str, object] | None:
            assert len(first.process(frame)) == 1
            return super().container(sscc, timeout, kind)

    second = Station(StationSettings(checkpoint=CHECKPOINT, device="lane 1"), Outbox(path),
                     FirstGoesWhileWeAsk(live_tracker.url, live_tracker.token), clock=lambda: START)
    assert second.process(frame) == []
    assert [e.payload["sscc"] for e in Outbox(path).events()] == [flask]
