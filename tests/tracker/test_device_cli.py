"""Registering beacons and stations from the command line; their tokens work once, until revoked."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from tracker import create_app
from tracker.db import make_engine, make_session_factory
from tracker.models import Checkpoint, CheckpointKind, Dealer

TOKEN = re.compile(r"(mt_[A-Za-z0-9_-]+)")


@pytest.fixture
def fresh_app(tmp_path: Path) -> Flask:
    """An app on a new SQLite file with one checkpoint and one dealer."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    session = make_session_factory(make_engine(app.config["DATABASE_URL"]))()
    session.add(Checkpoint(code="AKJOL", name="Ak-Jol", kind=CheckpointKind.BORDER_CROSSING,
                           lat=43.04, lon=74.71, radius_m=500, country="KG", neighbour_country="KZ"))
    session.add(Dealer(legal_name="Khaidarkan Mercury Combine OJSC", taxpayer_number="01207199310028"))
    session.commit()
    session.close()
    return app


def _token(output: str) -> str:
    match = TOKEN.search(output)
    assert match, output
    return match.group(1)


def test_station_token_from_the_cli_identifies_its_checkpoint_until_revoked(fresh_app: Flask) -> None:
    runner, client = fresh_app.test_cli_runner(), fresh_app.test_client()
    result = runner.invoke(args=["device", "add-station", "--checkpoint", "AKJOL", "--name", "lane 2"])
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {_token(result.output)}"}
    answer = client.get("/api/v1/device", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["checkpoint"] == "AKJOL"
    token_id = re.search(r"station token (\d+)", result.output).group(1)  # type: ignore[union-attr]
    assert runner.invoke(args=["device", "revoke", token_id]).exit_code == 0
    assert client.get("/api/v1/device", headers=headers).status_code == 401
    listing = runner.invoke(args=["device", "list"]).output
    assert "AKJOL" in listing and "revoked" in listing


def test_beacon_registered_from_the_cli_gets_a_working_token(fresh_app: Flask) -> None:
    result = fresh_app.test_cli_runner().invoke(args=[
        "device", "add-beacon", "--device-id", "356938035643809", "--protocol", "osmand",
        "--owner", "01207199310028", "--period", "60"])
    assert result.exit_code == 0, result.output
    answer = fresh_app.test_client().get("/api/v1/device",
                                         headers={"Authorization": f"Bearer {_token(result.output)}"})
    assert answer.get_json()["beacon"] == "356938035643809"


def test_device_cli_refuses_unknown_places_and_duplicates_with_one_line(fresh_app: Flask) -> None:
    runner = fresh_app.test_cli_runner()
    unknown = runner.invoke(args=["device", "add-station", "--checkpoint", "NOWHERE"])
    assert unknown.exit_code == 1 and "no checkpoint NOWHERE" in unknown.output
    args = ["device", "add-beacon", "--device-id", "861234050188765", "--protocol", "teltonika"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=args)
    assert again.exit_code == 1 and "already registered" in again.output
    bad_owner = runner.invoke(args=["device", "add-beacon", "--device-id", "1", "--protocol", "gt06",
                                    "--owner", "000"])
    assert bad_owner.exit_code == 1 and "no dealer" in bad_owner.output


def test_set_key_prints_the_traccar_client_url_once_and_revokes_the_old_key(fresh_app: Flask) -> None:
    runner, client = fresh_app.test_cli_runner(), fresh_app.test_client()
    first = _token(runner.invoke(args=["device", "add-beacon", "--device-id", "356938035643809",
                                       "--protocol", "osmand"]).output)
    result = runner.invoke(args=["device", "set-key", "--device-id", "356938035643809",
                                 "--gateway-url", "https://gw.example:5055/"])
    assert result.exit_code == 0, result.output
    key = _token(result.output)
    assert f"Traccar Client server URL: https://gw.example:5055/?key={key}" in result.output
    assert client.get("/api/v1/device", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/api/v1/device", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    shown = runner.invoke(args=["device", "show", "--device-id", "356938035643809"]).output
    assert "must send its key" in shown and "revoked" in shown and "live" in shown
    assert key not in shown and first not in shown               # only hashes are kept
    missing = runner.invoke(args=["device", "set-key", "--device-id", "000"])
    assert missing.exit_code == 1 and "no beacon 000" in missing.output


def test_set_networks_keeps_valid_cidrs_and_refuses_anything_else(fresh_app: Flask) -> None:
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["device", "add-beacon", "--device-id", "861234050188765",
                               "--protocol", "teltonika"]).exit_code == 0
    args = ["device", "set-networks", "--device-id", "861234050188765"]
    result = runner.invoke(args=[*args, "203.0.113.0/24", "2001:DB8::/32", "198.51.100.7"])
    assert result.exit_code == 0, result.output
    assert "203.0.113.0/24, 2001:db8::/32, 198.51.100.7/32" in result.output
    for bad in ("10.0.0.1/8", "not-a-network", "10.0.0.0/33", "1" * 200):
        refused = runner.invoke(args=[*args, "192.0.2.0/24", bad])
        assert refused.exit_code == 1 and "CIDR" in refused.output, bad
    shown = runner.invoke(args=["device", "show", "--device-id", "861234050188765"]).output
    assert "identified by IMEI" in shown and "networks: 203.0.113.0/24, 2001:db8::/32" in shown
    assert "any address" in runner.invoke(args=args).output
