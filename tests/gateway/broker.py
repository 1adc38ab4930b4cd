"""The project's own Mosquitto, started with the shipped configuration, for the MQTT tests.

``beacon_gateway/mosquitto/mosquitto.conf`` is used as it is, but for the lines a site
adapts: the listener (a free port on 127.0.0.1), the persistence folder (a temporary one)
and the log (a file beside it). The shared broker is never touched. A module that wants
its MQTT tests on this broker overrides ``mqtt_url``:

    from mosquitto_broker import shipped_broker  # noqa: F401 - the fixture
    @pytest.fixture(scope="session")
    def mqtt_url(shipped_broker): return shipped_broker.url
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.gateway.helpers import free_port

SHIPPED = Path(__file__).resolve().parents[2] / "beacon_gateway" / "mosquitto" / "mosquitto.conf"
IN_CI = os.environ.get("CI", "").lower() == "true"


class Broker:
    """A Mosquitto process on ``port`` with its store in ``folder``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"mqtt://127.0.0.1:{port}"
        self.config = folder / "mosquitto.conf"
        self.config.write_text(adapted(SHIPPED.read_text(), port, folder))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        """Start the broker and wait until it accepts connections."""
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.log()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop the broker cleanly (it saves its store)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def log(self) -> str:
        """The broker's log so far."""
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def adapted(config: str, port: int, folder: Path) -> str:
    """Return the shipped configuration with this test's listener, store and log."""
    for setting, value in (("listener", f"{port} 127.0.0.1"), ("persistence_location", f"{folder}/"),
                           ("log_dest", f"file {folder}/mosquitto.log")):
        config, found = re.subn(rf"^{setting} .*$", f"{setting} {value}", config, count=1, flags=re.M)
        assert found, f"the shipped mosquitto.conf has no {setting} line"
    return config


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False



@pytest.fixture(scope="session")
def shipped_broker() -> Iterator[Broker]:
    """Mosquitto with the shipped configuration, for the session; stopped and deleted at the end."""
    if shutil.which("mosquitto") is None:
        reason = "mosquitto not installed (apt-get install mosquitto)"
        if IN_CI:
            pytest.fail(f"CI=true requires {reason}", pytrace=False)
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="mercury-mqtt-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(folder, "mosquitto")  # as root, mosquitto drops to its own user
        except LookupError:
            pass  # no such user: mosquitto stays root
    broker = Broker(folder, free_port())
    try:
        yield broker.start()
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
