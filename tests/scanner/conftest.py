"""Scanner fixtures: a real tracker served over HTTP for the checkpoint station and its outbox.

Photos of real barcodes are under tests/data/barcodes (the zxing project's test images).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.scanner.tracker_server import LiveTracker, running_tracker


@pytest.fixture
def live_tracker(tmp_path: Path) -> Iterator[LiveTracker]:
    """The real tracker app on a file SQLite database, served over HTTP on a free port, with a station
    token for checkpoint TKT-ST and four flasks on an in-transit declaration (tests/scanner/tracker_server.py)."""
    with running_tracker(tmp_path) as tracker:
        yield tracker
