"""The station's outbox: nothing saved is lost (kill -9, network cuts), nothing is delivered twice."""
from __future__ import annotations

import json
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest

from scanner_app.client import TrackerClient, Unreachable
from scanner_app.labels import make_label, render_image
from scanner_app.outbox import Backoff, Outbox, Sender
from tracker.domain.gs1 import make_sscc

from tests.scanner.tracker_server import CHECKPOINT, LiveTracker, TcpProxy

CHECKOUT = Path(__file__).resolve().parents[2]


def event_for(sscc: str, days_ago: float = 1, **extra: object) -> dict[str, object]:
    """A custody event body as the station records it, ``days_ago`` days before now (Kyrgyz time)."""
    moment = datetime.now(timezone(timedelta(hours=6))) - timedelta(days=days_ago)
    return {"sscc": sscc, "checkpoint": CHECKPOINT, "kind": "inspection", "seal_intact": True,
            "event_time": moment.isoformat(timespec="seconds"), "device": "test station", **extra}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (a hang guard, not a timing test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def closed_port() -> int:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- the outbox alone
def test_saved_event_is_still_there_after_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    client_event_id = outbox.add(event_for("376104250021234569"))
    outbox.close()
    (event,) = Outbox(tmp_path / "outbox.sqlite3").pending()
    assert event.client_event_id == client_event_id and event.payload["client_event_id"] == client_event_id
    assert event.payload["sscc"] == "376104250021234569" and len(client_event_id) == 36


def test_event_is_on_disk_when_add_returns_even_if_the_process_is_killed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    code = ("import os, signal, sys\nfrom scanner_app.outbox import Outbox\n"
            f"ids = [Outbox({str(path)!r}).add({{'sscc': str(n)}}) for n in range(3)]\n"
            "print(','.join(ids), flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CHECKOUT, timeout=60)
    assert result.returncode == -signal.SIGKILL
    assert [e.client_event_id for e in Outbox(path).pending()] == result.stdout.strip().split(",")


def test_answered_events_leave_the_queue_but_stay_recorded(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    first, second, third = (outbox.add(event_for(str(n))) for n in range(3))
    outbox.mark_sent(first, {"id": 1})
    outbox.mark_rejected(second, {"status": 422, "message": "unknown container"})
    assert [e.client_event_id for e in outbox.pending()] == [third]
    assert outbox.counts() == {"pending": 1, "sent": 1, "rejected": 1}
    assert [e.state for e in outbox.events()] == ["sent", "rejected", "pending"]


def test_refused_events_can_be_queued_again(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    refused = outbox.add(event_for("376104250021234569"))
    outbox.mark_rejected(refused, {"status": 422, "message": "checkpoint not known yet"})
    assert outbox.requeue_rejected() == 1
    assert [e.client_event_id for e in outbox.pending()] == [refused]


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=30.0, rng=random.Random(5))
    delays = [backoff.next_delay() for _ in range(8)]
    for n, delay in enumerate(delays):
        ceiling = min(30.0, 2.0 ** n)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_unreachable_tracker_leaves_events_pending_with_the_error(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(event_for("376104250021234569"))
    sender = Sender(outbox, TrackerClient(f"http://127.0.0.1:{closed_port()}", "mt_x", timeout=2))
    assert sender.deliver_pending() is False
    (event,) = outbox.pending()
    assert event.attempts == 1 and "refused" in (event.last_error or "").lower()
    assert sender.online is False


# ---------------------------------------------------------------- against a real tracker
def station_command(tracker_url: str, token_file: Path, outbox: Path, source: Path,
                    checkpoint: str = CHECKPOINT) -> list[str]:
    """The command line of a station at ``checkpoint`` reading ``source``."""
    return [sys.executable, "-m", "scanner_app.cli", "station", "--checkpoint", checkpoint,
            "--source", str(source), "--tracker", tracker_url, "--token-file", str(token_file),
            "--outbox", str(outbox), "--kind", "inspection", "--retry-max", "0.2"]


def outbox_rows(path: Path) -> list[tuple[str, str]]:
    """Read (client_event_id, state) straight from the outbox file, as another process sees it."""
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT client_event_id, state FROM events ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # table not created yet
            return []


def test_station_killed_between_decode_and_send_delivers_exactly_once_on_restart(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    photos, empty = tmp_path / "photos", tmp_path / "nothing-more"
    photos.mkdir(), empty.mkdir()
    for n, sscc in enumerate(live_tracker.ssccs[:3]):
        render_image(make_label(sscc, 34_500), dpi=150).save(photos / f"{n:03d}.png")
    token_file, outbox = tmp_path / "token", tmp_path / "outbox.sqlite3"
    token_file.write_text(live_tracker.token + "\n")
    network = TcpProxy(live_tracker.port)  # not started: the tracker is out of reach

    station = subprocess.Popen(station_command(network.url, token_file, outbox, photos), cwd=CHECKOUT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: len(outbox_rows(outbox)) == 3, what="three events in the outbox")
    finally:
        station.send_signal(signal.SIGKILL)
        station.wait(timeout=30)
    saved = outbox_rows(outbox)
    assert [state for _, state in saved] == ["pending"] * 3
    assert live_tracker.custody_event_ids() == {}

    network.start()
    try:
        restarted = subprocess.run(station_command(network.url, token_file, outbox, empty), cwd=CHECKOUT,
                                   capture_output=True, text=True, timeout=120)
    finally:
        network.stop()
    assert restarted.returncode == 0, restarted.stderr
    assert "0 pending, 3 sent, 0 rejected" in restarted.stdout
    assert live_tracker.custody_event_ids() == {client_event_id: 1 for client_event_id, _ in saved}


def test_replay_after_a_lost_answer_is_acknowledged_not_duplicated(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    client_event_id = outbox.add(event_for(live_tracker.ssccs[0]))
    client = TrackerClient(live_tracker.url, live_tracker.token)
    # The tracker stored it, but the answer never reached the station (cut, or kill -9 before marking).
    assert client.post_custody_event(outbox.pending()[0].payload)[0] == 201
    assert Sender(outbox, client).deliver_pending() is True
    assert outbox.counts()["sent"] == 1
    assert live_tracker.custody_event_ids() == {client_event_id: 1}


def test_flapping_network_delivers_every_event_exactly_once(tmp_path: Path, live_tracker: LiveTracker) -> None:
    network = TcpProxy(live_tracker.port)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sender = Sender(outbox, TrackerClient(network.url, live_tracker.token, timeout=2),
                    Backoff(base=0.02, cap=0.2, rng=random.Random(1)), idle_poll=0.1)
    flapping = threading.Event()

    def flap() -> None:
        rng = random.Random(7)
        while not flapping.is_set():
            network.start()
            time.sleep(rng.uniform(0.02, 0.15))
            network.stop()  # cuts requests and answers in flight
            time.sleep(rng.uniform(0.02, 0.15))

    flapper = threading.Thread(target=flap, daemon=True)
    sender.start(), flapper.start()
    ids = []
    for n in range(24):
        ids.append(outbox.add(event_for(live_tracker.ssccs[n % 4], remarks=f"sighting {n}")))
        sender.wake()
        time.sleep(0.03)
    flapping.set()
    flapper.join(timeout=10)
    network.start()
    try:
        wait_until(lambda: outbox.counts()["pending"] == 0, what="the outbox to drain")
    finally:
        sender.stop()
        sender.join(timeout=10)
        network.stop()
    assert outbox.counts() == {"pending": 0, "sent": 24, "rejected": 0}
    assert live_tracker.custody_event_ids() == {client_event_id: 1 for client_event_id in ids}
    assert sum(e.attempts for e in outbox.events()) > 24  # the network really did fail some sends


def test_event_the_tracker_refuses_is_kept_and_does_not_block_the_others(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    refused = outbox.add(event_for(live_tracker.ssccs[0], kind="teleport"))
    accepted = outbox.add(event_for(live_tracker.ssccs[1]))
    assert Sender(outbox, TrackerClient(live_tracker.url, live_tracker.token)).deliver_pending() is True
    states = {e.client_event_id: e.state for e in outbox.events()}
    assert states == {refused: "rejected", accepted: "sent"}
    assert live_tracker.custody_event_ids() == {accepted: 1}


def test_an_event_held_offline_past_the_plausible_window_is_refused_once_and_kept_not_retried(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    too_old = outbox.add(event_for(live_tracker.ssccs[0], days_ago=31))
    late_but_fine = outbox.add(event_for(live_tracker.ssccs[1], days_ago=29))  # a long network cut
    sender = Sender(outbox, TrackerClient(live_tracker.url, live_tracker.token))
    assert sender.deliver_pending() is True
    assert {e.client_event_id: e.state for e in outbox.events()} == {too_old: "rejected", late_but_fine: "sent"}
    assert sender.deliver_pending() is True and outbox.pending() == []  # nothing left to send again
    (refused,) = [e for e in outbox.events() if e.state == "rejected"]
    assert refused.attempts == 1 and live_tracker.custody_event_ids() == {late_but_fine: 1}
    with sqlite3.connect(outbox.path) as db:
        (answer,) = db.execute("SELECT answer FROM events WHERE client_event_id = ?", (too_old,)).fetchone()
    assert '"status": 422' in answer and "event_time" in answer and "more than 30 days ago" in answer
def test_event_the_custody_check_refuses_is_rejected_once_with_its_reasons_and_not_retried(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    # The station's post is a checkpoint on the way: a departure is recorded at the origin only.
    refused = outbox.add(event_for(live_tracker.ssccs[0], kind="departure",
                                   event_time=datetime.now(timezone.utc).isoformat(timespec="seconds")))
    sender = Sender(outbox, TrackerClient(live_tracker.url, live_tracker.token))
    assert sender.deliver_pending() is True
    assert sender.deliver_pending() is True  # nothing left to send: the refusal is not retried
    (event,) = outbox.events()
    assert (event.client_event_id, event.state, event.attempts) == (refused, "rejected", 1)
    with sqlite3.connect(outbox.path) as db:
        (answer,) = db.execute("SELECT answer FROM events").fetchone()
    body = json.loads(answer)
    assert body["status"] == 409 and body["error"] == "custody_refused"
    assert body["reasons"] == [f"{live_tracker.reference} departs from OSH-ST, not from {CHECKPOINT}"]
    assert live_tracker.custody_event_ids() == {}


def test_event_for_an_unregistered_container_is_delivered_and_the_tracker_alerts(
        tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    client_event_id = outbox.add(event_for(make_sscc(0, "4700078", 1)))
    assert Sender(outbox, TrackerClient(live_tracker.url, live_tracker.token)).deliver_pending() is True
    assert outbox.counts()["sent"] == 1 and live_tracker.custody_event_ids() == {client_event_id: 1}
    with sqlite3.connect(outbox.path) as db:
        (answer,) = db.execute("SELECT answer FROM events").fetchone()
    assert "custody_unregistered_container" in answer


def test_unknown_token_keeps_events_pending(tmp_path: Path, live_tracker: LiveTracker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(event_for(live_tracker.ssccs[0]))
    sender = Sender(outbox, TrackerClient(live_tracker.url, "mt_revoked-or-mistyped"))
    assert sender.deliver_pending() is False
    assert outbox.counts()["pending"] == 1 and live_tracker.custody_event_ids() == {}


def test_unreachable_error_is_a_retry_not_a_rejection() -> None:
    with pytest.raises(Unreachable):
        TrackerClient(f"http://127.0.0.1:{closed_port()}", "mt_x", timeout=2).container("376104250021234569")
