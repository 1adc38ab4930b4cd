"""The checkpoint station: photos or video in, one custody event per container visit out."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from scanner_app.client import TrackerClient
from scanner_app.frames import Frame, SourceError, open_frames
from scanner_app.labels import Label, make_label, render_image
from scanner_app.outbox import Outbox
from scanner_app.memory import Memory
from scanner_app.station import Station, StationSettings, describe
from tracker.domain.gs1 import make_sscc
from tracker.models import Container, ContainerType, CustodyEvent, Dealer

from tests.scanner.test_outbox import CHECKOUT, outbox_rows, station_command, wait_until
from tests.scanner.tracker_server import CHECKPOINT, LiveTracker, TcpProxy

FRAME_SIZE = (640, 480)


def label_frame(sscc: str | None) -> np.ndarray:
    """A 640x480 camera frame: the label on a grey background, or just the background."""
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 170, np.uint8)
    if sscc is not None:
        label = np.array(render_image(make_label(sscc, 34_500), dpi=100).convert("RGB"))
        height, width = label.shape[:2]
        frame[40:40 + height, 30:30 + width] = label
    return frame


def write_video(path: Path, scenes: list[tuple[str | None, int]], fps: int = 30) -> Path:
    """Write an MJPEG video of (SSCC or None, number of frames) scenes."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, FRAME_SIZE)
    assert writer.isOpened()
    for sscc, frames in scenes:
        frame = label_frame(sscc)
        for _ in range(frames):
            writer.write(frame)
    writer.release()
    return path


def write_token(tmp_path: Path, tracker: LiveTracker) -> Path:
    token_file = tmp_path / "station.token"
    token_file.write_text(tracker.token + "\n")
    return token_file


def run_station(tracker_url: str, token_file: Path, outbox: Path, source: Path,
                *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(station_command(tracker_url, token_file, outbox, source) + list(extra),
                          cwd=CHECKOUT, capture_output=True, text=True, timeout=180)


def stored_events(tracker: LiveTracker) -> list[tuple[str, str, str]]:
    """(SSCC, kind, checkpoint) of every custody event the tracker holds, in id order."""
    with tracker.sessions() as session:
        events = session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)).all()
        return [(e.sscc, e.kind.value, e.checkpoint.code) for e in events]


def test_memory_makes_one_visit_per_container_until_it_is_gone_for_the_window(tmp_path: Path) -> None:
    memory = Memory(Outbox(tmp_path / "outbox.sqlite3"), CHECKPOINT, window_s=2.0)

    def sighting(ssccs: set[str], at: float) -> list[str]:
        new = memory.new_visits(ssccs, at)
        with memory.outbox.transaction() as db:
            memory.remember(db, ssccs, at)
        return new

    seen = [sighting({"A"} | ({"B"} if 10 <= n < 20 else set()), n / 30) for n in range(30)]
    assert [s for s in seen if s] == [["A"], ["B"]]
    assert sighting({"A"}, 1.0 + 2.5) == ["A"]     # A out of sight for 2.5 s: a new visit
    assert sighting({"B"}, 3.6) == ["B"]           # B last seen at 0.63 s


def test_station_records_one_event_per_container_from_a_folder_of_photos(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    first, second, third = live_tracker.ssccs[:3]
    sequence = [first, first, first, None, second, second, third]
    for n, sscc in enumerate(sequence):
        cv2.imwrite(str(photos / f"{n:03d}.jpg"), label_frame(sscc), [cv2.IMWRITE_JPEG_QUALITY, 80])
    (photos / "007.jpg").write_bytes(b"not really a photo")
    forged = first[:-1] + str((int(first[-1]) + 1) % 10)  # a label whose check digit is wrong
    cv2.imwrite(str(photos / "008.png"), np.array(render_image(Label(sscc=forged, net_g=34_500), dpi=100)))
    (photos / "notes.txt").write_text("ignored")
    result = run_station(live_tracker.url, write_token(tmp_path, live_tracker), tmp_path / "outbox.sqlite3", photos)
    assert result.returncode == 0, result.stderr
    saved = [line for line in result.stdout.splitlines() if line.startswith("SAVED")]
    assert [line.split()[1] for line in saved] == [first, second, third]
    assert all(f"declaration {live_tracker.reference} (in_transit" in line and "expected here" in line
               for line in saved)
    assert "007.jpg: " in result.stderr and "rejected read" in result.stderr and forged not in result.stdout
    assert stored_events(live_tracker) == [(s, "inspection", CHECKPOINT) for s in (first, second, third)]


def test_station_records_one_event_per_container_from_a_video(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    first, second = live_tracker.ssccs[:2]
    # 30 frames (one second) of each label: one event each, not 30.
    video = write_video(tmp_path / "gate.avi", [(None, 5), (first, 30), (None, 10), (second, 30), (first, 10)])
    result = run_station(live_tracker.url, write_token(tmp_path, live_tracker), tmp_path / "outbox.sqlite3", video)
    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("SAVED")] == [first, second]
    assert stored_events(live_tracker) == [(first, "inspection", CHECKPOINT), (second, "inspection", CHECKPOINT)]
    assert "0 pending, 2 sent, 0 rejected" in result.stdout


def test_station_works_through_a_network_cut_and_syncs_when_it_returns(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    first, second = live_tracker.ssccs[2:4]
    video = write_video(tmp_path / "gate.avi", [(first, 30), (None, 5), (second, 30)])
    network, outbox = TcpProxy(live_tracker.port), tmp_path / "outbox.sqlite3"
    station = subprocess.Popen(station_command(network.url, write_token(tmp_path, live_tracker), outbox, video),
                               cwd=CHECKOUT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(outbox_rows(outbox)) == 2, what="two events saved while offline")
        assert live_tracker.custody_event_ids() == {}
        network.start()  # the network returns
        stdout, stderr = station.communicate(timeout=120)
    finally:
        station.kill()
        network.stop()
    assert station.returncode == 0, stderr
    assert stdout.count("declaration not known yet (tracker unreachable") == 2
    assert "0 pending, 2 sent" in stdout
    assert live_tracker.custody_event_ids() == {event_id: 1 for event_id, _ in outbox_rows(outbox)}


def test_sigterm_stops_the_station_cleanly_keeping_unsent_events(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    video = write_video(tmp_path / "gate.avi", [(live_tracker.ssccs[0], 20)])
    network, outbox = TcpProxy(live_tracker.port), tmp_path / "outbox.sqlite3"  # network down throughout
    station = subprocess.Popen(station_command(network.url, write_token(tmp_path, live_tracker), outbox, video),
                               cwd=CHECKOUT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(outbox_rows(outbox)) == 1, what="the event saved")
        station.send_signal(signal.SIGTERM)
        stdout, _ = station.communicate(timeout=60)
    finally:
        station.kill()
    assert station.returncode == 0
    assert "saved 1 events; 0 photos already processed; outbox: 1 pending, 0 sent" in stdout
    assert [state for _, state in outbox_rows(outbox)] == ["pending"]


def test_station_shows_declaration_and_the_custody_checks_answer(tmp_path: Path, live_tracker: LiveTracker) -> None:
    lines: list[str] = []
    # A station at a checkpoint on the way, set up to record departures: the tracker's custody
    # check refuses those there (a declaration departs from its origin), and the officer sees why.
    station = Station(StationSettings(checkpoint=CHECKPOINT, device="test", kind="departure"),
                      Outbox(tmp_path / "o.sqlite3"), TrackerClient(live_tracker.url, live_tracker.token),
                      on_saved=lambda s: lines.append(describe(s, CHECKPOINT)))
    unknown, undeclared = make_sscc(0, "4700078", 5), make_sscc(0, "4700078", 6)
    with live_tracker.sessions() as session:
        owner = session.scalars(select(Dealer)).first()
        session.add(Container(sscc=undeclared, container_type=ContainerType.FLASK_34_5KG, tare_g=2_700,
                              capacity_g=34_500, net_g=34_500, owner_id=owner.id, custodian_id=owner.id))
        session.commit()
    station.run([Frame(label_frame(sscc), float(n), str(n))
                 for n, sscc in enumerate((live_tracker.ssccs[0], unknown, undeclared))])
    assert f"declaration {live_tracker.reference}" in lines[0] and f"REFUSED at {CHECKPOINT}: " in lines[0]
    assert f"{live_tracker.reference} departs from OSH-ST, not from {CHECKPOINT}" in lines[0]
    assert lines[1].startswith(f"SAVED {unknown}") and "NOT REGISTERED" in lines[1]
    assert lines[2].startswith(f"SAVED {undeclared}") and "NO OPEN DECLARATION" in lines[2]


def test_bad_source_and_token_file_exit_2_with_one_line(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("mt_x\n")
    missing = run_station("http://127.0.0.1:9", token, tmp_path / "o.sqlite3", tmp_path / "no-such.mp4")
    assert missing.returncode == 2 and "no camera, video file or folder" in missing.stderr
    empty_token = tmp_path / "empty"
    empty_token.write_text("\n")
    assert run_station("http://127.0.0.1:9", empty_token, tmp_path / "o.sqlite3", tmp_path).returncode == 2
    with pytest.raises(SourceError):
        open_frames(str(tmp_path / "missing"))


def test_station_refuses_a_token_of_another_checkpoint_or_an_unknown_token(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    token_file = write_token(tmp_path, live_tracker)
    other = subprocess.run(station_command(live_tracker.url, token_file, tmp_path / "o.sqlite3", tmp_path,
                                           checkpoint="OTHER-POST"),
                           cwd=CHECKOUT, capture_output=True, text=True, timeout=120)
    assert other.returncode == 2 and "not the station of checkpoint OTHER-POST" in other.stderr
    token_file.write_text("mt_not-a-real-token\n")
    unknown = run_station(live_tracker.url, token_file, tmp_path / "o.sqlite3", tmp_path)
    assert unknown.returncode == 2 and "refuses the token" in unknown.stderr


class _FlakyCamera:
    """A stand-in for cv2.VideoCapture of a USB camera that drops some frames, then dies."""

    def __init__(self, frames: list[np.ndarray | None]) -> None:
        self.frames = frames

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        frame = self.frames.pop(0) if self.frames else None
        return frame is not None, frame

    def get(self, _prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.frames = []


def test_camera_that_drops_frames_keeps_going_and_one_that_dies_is_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner_app import frames as frames_module

    monkeypatch.setattr(frames_module, "CAMERA_PATIENCE_S", 0.3)
    picture = label_frame(None)
    camera = _FlakyCamera([picture, None, None, picture])
    monkeypatch.setattr(frames_module.cv2, "VideoCapture", lambda index: camera)
    source = open_frames("0")
    assert [frame.name for frame in (next(source), next(source))] == ["camera 0 frame 0", "camera 0 frame 1"]
    with pytest.raises(SourceError, match="camera 0 gave no picture"):
        next(source)
