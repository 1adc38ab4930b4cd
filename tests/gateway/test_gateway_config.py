"""The gateway's settings: GATEWAY_* names, defaults, listeners switched off by empty or 0."""
from __future__ import annotations

import pytest

from beacon_gateway.cli import main
from beacon_gateway.config import DEFAULT_HTTP_PORT, load_gateway_settings
from tracker.config import ConfigError


def test_embedded_default_is_sqlite_and_http_on_localhost_5055(tmp_path) -> None:
    settings = load_gateway_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'mercury.sqlite3'}"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", DEFAULT_HTTP_PORT)
    assert (settings.tcp_port("nmea"), settings.tcp_port("teltonika"), settings.tcp_port("gt06")) == (0, 0, 0)
    assert settings.mqtt_url == "" and settings.writer_threads_or_default == 1


def test_environment_beats_the_instance_file_and_empty_switches_off(tmp_path) -> None:
    (tmp_path / "config.toml").write_text('GATEWAY_TCP_GT06_PORT = 5023\nGATEWAY_HTTP_PORT = 8080\n')
    settings = load_gateway_settings(environ={
        "TRACKER_INSTANCE_PATH": str(tmp_path), "GATEWAY_HTTP_PORT": "",
        "GATEWAY_MQTT_URL": "mqtt://broker:1883", "DATABASE_URL": "postgresql://db/mercury"})
    assert (settings.http_port, settings.tcp_port("gt06")) == (0, 5023)
    assert settings.mqtt_url == "mqtt://broker:1883"
    assert settings.database_url == "postgresql+psycopg://db/mercury"
    assert settings.writer_threads_or_default == 2


def test_malformed_setting_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_TCP_TELTONIKA_PORT='five'"):
        load_gateway_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path),
                                       "GATEWAY_TCP_TELTONIKA_PORT": "five"})


def test_serve_refuses_a_database_that_is_not_migrated(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path))
    assert main(["serve", "--database-url", f"sqlite:///{tmp_path / 'empty.sqlite3'}"]) == 2
    assert "run `flask --app tracker db upgrade` first" in capsys.readouterr().err


def test_serve_says_when_its_port_is_taken(tmp_path, monkeypatch, capsys) -> None:
    import socket

    from tracker import migrate

    url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    migrate.upgrade(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path))
        monkeypatch.setenv("GATEWAY_HTTP_PORT", str(taken.getsockname()[1]))
        assert main(["serve", "--database-url", url]) == 2
    assert "cannot listen" in capsys.readouterr().err
