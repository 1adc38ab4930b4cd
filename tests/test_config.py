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
