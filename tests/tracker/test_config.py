"""Configuration: environment first, instance file next, a generated secret key."""
from __future__ import annotations

import stat
from pathlib import Path

from tracker.config import load_settings


def test_defaults_to_sqlite_in_instance_and_generates_a_private_secret_key(tmp_path: Path) -> None:
    settings = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'mercury.sqlite3'}"
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == settings.secret_key and len(settings.secret_key) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert again.secret_key == settings.secret_key
    other = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path / "other")})
    assert other.secret_key != settings.secret_key


def test_environment_overrides_instance_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('DATABASE_URL = "sqlite:////srv/file.db"\nSECRET_KEY = "from-file"\n')
    from_file = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert from_file.database_url == "sqlite:////srv/file.db" and from_file.secret_key == "from-file"
    from_env = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path),
                                      "DATABASE_URL": "postgresql://hg@db.example/mercury"})
    assert from_env.database_url == "postgresql+psycopg://hg@db.example/mercury"
    assert not (tmp_path / "secret_key").exists()


def test_portal_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path), "SESSION_COOKIE_SECURE": "true",
                                      "TIME_ZONE": "Asia/Tashkent", "SESSION_TIMEOUT_MINUTES": "15",
                                      "MAP_TILE_URL": "https://tiles.example.kg/{z}/{x}/{y}.png"})
    assert settings.session_cookie_secure and settings.time_zone == "Asia/Tashkent"
    assert settings.session_timeout_minutes == 15
    assert settings.map_tile_url == "https://tiles.example.kg/{z}/{x}/{y}.png"
    defaults = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert not defaults.session_cookie_secure and defaults.time_zone == "Asia/Bishkek"
    assert defaults.map_tile_url == ""


def test_bad_portal_settings_are_refused_naming_the_setting(tmp_path: Path) -> None:
    import pytest

    from tracker.config import ConfigError

    for name, value in (("TIME_ZONE", "Bishkek"), ("SESSION_TIMEOUT_MINUTES", "0"),
                        ("SESSION_TIMEOUT_MINUTES", "half an hour")):
        with pytest.raises(ConfigError, match=name):
            load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path), name: value})
