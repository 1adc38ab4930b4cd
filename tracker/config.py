"""Configuration from environment variables and an optional instance file.

Nothing here imports Flask: the beacon gateway and the CLI read the same settings.
Precedence: explicit overrides > environment > ``instance/config.toml`` > defaults.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
CONFIG_FILE_NAME = "config.toml"
SECRET_KEY_FILE_NAME = "secret_key"
SQLITE_FILE_NAME = "mercury.sqlite3"
EVIDENCE_KEY_FILE_NAME = "evidence-signing-key.pem"


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """The settings every part of the system reads."""

    instance_path: Path
    database_url: str
    secret_key: str
    receipt_tolerance_permille: int = 1
    receipt_tolerance_min_g: int = 50
    #: The heaviest mass one record may carry (quota, approval, container, measured mass): 100 t.
    mass_ceiling_g: int = 100_000_000
    #: Event times and book entries may lie this many days back (a station's offline outbox) ...
    plausible_past_days: int = 30
    #: ... and this many minutes ahead of the server's clock (clock drift).
    plausible_future_minutes: int = 5
    #: Hours a departure may lie outside its planned window before the officer must override it.
    custody_window_tolerance_h: float = 2.0
    #: Beyond this many metres between a custody event and the declaration's beacon, it is not with the cargo.
    custody_beacon_distance_m: int = 2000
    #: Time zone the portal shows times in when the user has chosen none.
    time_zone: str = "Asia/Bishkek"
    #: Base-map tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty: no tiles
    #: (the map draws corridors, tracks and markers on a plain background).
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    #: A portal session ends after this many minutes without a request.
    session_timeout_minutes: int = 30
    #: A portal session ends this many hours after sign-in, however busy (besides the idle timeout).
    session_lifetime_hours: int = 12
    #: Failed sign-ins one account may have within SIGN_IN_LOCK_MINUTES before it must wait.
    sign_in_max_failures: int = 5
    sign_in_lock_minutes: int = 15
    #: Failed sign-ins one address may have (Flask-Limiter's notation) before it must wait.
    sign_in_address_limit: str = "20 per 10 minutes"
    #: Where the per-address counts live: memory:// (per web process), or redis://, memcached://.
    rate_limit_storage_uri: str = "memory://"
    #: Reverse proxies in front of the portal whose X-Forwarded-For gives the client's address.
    trusted_proxies: int = 0
    #: Send the session cookie over HTTPS only (set it wherever the portal is served over HTTPS).
    session_cookie_secure: bool = False
    #: The owner role's URL, used for migrations and for applying grants (default: ``database_url``).
    migration_database_url: str = ""
    #: Ed25519 private key that signs the evidence chains' heads (PEM); None: the instance folder's.
    evidence_key_file: Path | None = None
    #: Mail server for notifications; empty: the e-mail channel is off (the bell and webhooks still work).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    #: Upgrade the SMTP connection with STARTTLS before signing in (port 587 servers).
    smtp_starttls: bool = False
    mail_from: str = "mercury-tracking@localhost"
    #: The portal's address as users reach it, for links in e-mails and webhooks.
    portal_url: str = "http://127.0.0.1:5000"
    #: Let webhooks reach loopback and private networks (tests, an internal system); off: refused (SSRF).
    webhook_allow_private: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def owner_database_url(self) -> str:
        """Return the URL migrations and grants run with: the owner role's, else the application's."""
        return self.migration_database_url or self.database_url

    @property
    def signing_key_path(self) -> Path:
        """Return where the evidence signing key lives (configured, else in the instance folder)."""
        return self.evidence_key_file or self.instance_path / EVIDENCE_KEY_FILE_NAME


def normalise_database_url(url: str) -> str:
    """Return ``url`` with the PostgreSQL driver made explicit (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_sqlite_url(instance_path: Path) -> str:
    """Return the embedded default database: a SQLite file in the instance folder."""
    return f"sqlite:///{instance_path / SQLITE_FILE_NAME}"


def read_instance_file(instance_path: Path) -> dict[str, Any]:
    """Read ``config.toml`` from the instance folder, or nothing when it is absent."""
    path = instance_path / CONFIG_FILE_NAME
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def ensure_secret_key(instance_path: Path) -> str:
    """Return the instance's secret key, generating it on first use (mode 0600)."""
    path = instance_path / SECRET_KEY_FILE_NAME
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from overrides, the environment and the instance file."""
    overrides = dict(overrides or {})
    environ = os.environ if environ is None else environ
    instance_path = Path(
        overrides.get("INSTANCE_PATH")
        or environ.get("TRACKER_INSTANCE_PATH")
        or DEFAULT_INSTANCE_PATH
    )
    file_values = read_instance_file(instance_path)

    def pick(name: str, default: Any = None) -> Any:
        for source in (overrides, environ, file_values):
            if source.get(name) not in (None, ""):
                return source[name]
        return default

    instance_path.mkdir(parents=True, exist_ok=True)
    url = pick("DATABASE_URL") or default_sqlite_url(instance_path)
    secret = pick("SECRET_KEY") or ensure_secret_key(instance_path)
    known = {"INSTANCE_PATH", "DATABASE_URL", "SECRET_KEY", "TIME_ZONE", "CUSTODY_WINDOW_TOLERANCE_H", "MAP_TILE_URL",
             "MAP_TILE_ATTRIBUTION", "SESSION_TIMEOUT_MINUTES", "SESSION_COOKIE_SECURE",
             "SESSION_LIFETIME_HOURS", "SIGN_IN_MAX_FAILURES", "SIGN_IN_LOCK_MINUTES", "SIGN_IN_ADDRESS_LIMIT",
             "RATE_LIMIT_STORAGE_URI", "TRUSTED_PROXIES", "MIGRATION_DATABASE_URL", "EVIDENCE_KEY_FILE",
             "MASS_CEILING_G", "PLAUSIBLE_PAST_DAYS", "PLAUSIBLE_FUTURE_MINUTES", "CUSTODY_BEACON_DISTANCE_M",
             "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS", "MAIL_FROM", "PORTAL_URL",
             "WEBHOOK_ALLOW_PRIVATE"}
    extra = {k: v for src in (file_values, overrides) for k, v in src.items() if k not in known}
    return Settings(
        instance_path=instance_path,
        database_url=normalise_database_url(str(url)),
        secret_key=str(secret),
        receipt_tolerance_permille=int(pick("RECEIPT_TOLERANCE_PERMILLE", 1)),
        receipt_tolerance_min_g=int(pick("RECEIPT_TOLERANCE_MIN_G", 50)),
        mass_ceiling_g=_positive_int("MASS_CEILING_G", pick("MASS_CEILING_G", 100_000_000)),
        plausible_past_days=_positive_int("PLAUSIBLE_PAST_DAYS", pick("PLAUSIBLE_PAST_DAYS", 30)),
        plausible_future_minutes=_count("PLAUSIBLE_FUTURE_MINUTES", pick("PLAUSIBLE_FUTURE_MINUTES", 5)),
        custody_window_tolerance_h=_hours("CUSTODY_WINDOW_TOLERANCE_H", pick("CUSTODY_WINDOW_TOLERANCE_H", 2)),
        custody_beacon_distance_m=_positive_int("CUSTODY_BEACON_DISTANCE_M", pick("CUSTODY_BEACON_DISTANCE_M", 2000)),
        time_zone=_time_zone(str(pick("TIME_ZONE", "Asia/Bishkek"))),
        map_tile_url=str(pick("MAP_TILE_URL", "")),
        map_tile_attribution=str(pick("MAP_TILE_ATTRIBUTION", "")),
        session_cookie_secure=str(pick("SESSION_COOKIE_SECURE", "")).lower() in {"1", "true", "yes", "on"},
        session_timeout_minutes=_positive_int("SESSION_TIMEOUT_MINUTES", pick("SESSION_TIMEOUT_MINUTES", 30)),
        session_lifetime_hours=_positive_int("SESSION_LIFETIME_HOURS", pick("SESSION_LIFETIME_HOURS", 12)),
        sign_in_max_failures=_positive_int("SIGN_IN_MAX_FAILURES", pick("SIGN_IN_MAX_FAILURES", 5)),
        sign_in_lock_minutes=_positive_int("SIGN_IN_LOCK_MINUTES", pick("SIGN_IN_LOCK_MINUTES", 15)),
        sign_in_address_limit=_rate_limit(str(pick("SIGN_IN_ADDRESS_LIMIT", "20 per 10 minutes"))),
        rate_limit_storage_uri=str(pick("RATE_LIMIT_STORAGE_URI", "memory://")),
        trusted_proxies=_count("TRUSTED_PROXIES", pick("TRUSTED_PROXIES", 0)),
        migration_database_url=normalise_database_url(str(pick("MIGRATION_DATABASE_URL", ""))),
        evidence_key_file=Path(pick("EVIDENCE_KEY_FILE")) if pick("EVIDENCE_KEY_FILE") else None,
        smtp_host=str(pick("SMTP_HOST", "")),
        smtp_port=_positive_int("SMTP_PORT", pick("SMTP_PORT", 25)),
        smtp_user=str(pick("SMTP_USER", "")),
        smtp_password=str(pick("SMTP_PASSWORD", "")),
        smtp_starttls=_flag(pick("SMTP_STARTTLS", "")),
        mail_from=str(pick("MAIL_FROM", "mercury-tracking@localhost")),
        portal_url=str(pick("PORTAL_URL", "http://127.0.0.1:5000")).rstrip("/"),
        webhook_allow_private=_flag(pick("WEBHOOK_ALLOW_PRIVATE", "")),
        extra=extra,
    )


def _flag(value: Any) -> bool:
    """Return whether a setting says yes (1, true, yes, on)."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _hours(name: str, value: Any) -> float:
    """Return ``value`` as a number of hours from 0 to a week, else raise ConfigError."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number of hours") from None
    if not 0 <= hours <= 168:
        raise ConfigError(f"{name}: {value!r} is not within 0..168 hours")
    return hours


def _rate_limit(value: str) -> str:
    """Return ``value`` when it reads as a rate limit such as "20 per 10 minutes", else raise ConfigError."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"SIGN_IN_ADDRESS_LIMIT: {value!r} is not a rate such as '20 per 10 minutes'") from exc
    return value


def _time_zone(name: str) -> str:
    """Return ``name`` when it is an IANA time zone, else raise ConfigError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIME_ZONE: {name!r} is not an IANA time zone (e.g. Asia/Bishkek)") from exc
    return name


def _count(name: str, value: Any) -> int:
    """Return ``value`` as a whole number >= 0, else raise ConfigError naming the setting."""
    if str(value).strip().isdigit():
        return int(str(value).strip())
    raise ConfigError(f"{name}: {value!r} is not a whole number >= 0")


def _positive_int(name: str, value: Any) -> int:
    """Return ``value`` as a positive integer, else raise ConfigError naming the setting."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ConfigError(f"{name}: {value!r} is not a positive whole number")
    return number
