"""Gateway fixtures: the MQTT broker the beacons publish to, and one started with the shipped configuration.

The gateway's live servers, packets and subprocesses are in tests/gateway/helpers.py and
tests/gateway/seed.py; the database fixtures (``db``, ``make_beacon`` ...) come from
tests/conftest.py.
"""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.conftest import MQTT_URL, need_service, tcp_reachable
from tests.gateway.broker import shipped_broker  # noqa: F401  (a fixture: Mosquitto with the shipped config)


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """Return MQTT_URL, skipping or failing (under CI=true) when the broker is absent."""
    parsed = urlparse(MQTT_URL or "")
    reachable = bool(MQTT_URL) and tcp_reachable(parsed.hostname or "127.0.0.1", parsed.port or 1883)
    need_service("MQTT broker", bool(MQTT_URL), reachable,
                 "set MQTT_URL=mqtt://127.0.0.1:1883 to run these tests")
    return str(MQTT_URL)
