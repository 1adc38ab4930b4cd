"""The gateway's settings: ``GATEWAY_*`` names beside the tracker's own (``DATABASE_URL``).

Precedence is the tracker's: explicit overrides > environment > ``instance/config.toml`` >
defaults. An empty value or 0 switches a listener off. Each TCP protocol's port setting
(``GATEWAY_TCP_GT06_PORT`` ...) is named by its entry in the protocol registry.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any, Mapping

from beacon_gateway import protocols

from tracker.config import ConfigError, load_settings

DEFAULT_HTTP_PORT = 5055  # Traccar's OsmAnd port: phone apps and trackers expect it
DEFAULT_MQTT_TOPIC = "$share/gateway/beacons/+/pings"


@dataclass(frozen=True)
class GatewaySettings:
    """Everything ``beacon-gateway serve`` and the pipeline read, once, at start."""

    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    tcp_host: str = "127.0.0.1"
    tcp_ports: Mapping[str, int] = field(default_factory=dict)   # TCP protocol name -> port (0: off)
    mqtt_url: str = ""
    mqtt_topic: str = DEFAULT_MQTT_TOPIC
    mqtt_client_id: str = ""
    mqtt_session_expiry_s: int = 3600
    batch_max_positions: int = 1000
    batch_max_wait_ms: int = 20
    writer_threads: int = 0            # 0: two on PostgreSQL, one on SQLite (a single writer)
    http_max_body_bytes: int = 1_048_576
    future_tolerance_s: int = 300
    max_speed_kmh: float = 200.0
    approximate_accuracy_m: float = 500.0
    late_after_s: int = 600
    overdue_check_s: float = 60.0      # how often serve looks for silent beacons and late trips; 0: never
    health_stall_s: float = 15.0       # /health answers 503 when positions wait this long without a commit

    def tcp_port(self, protocol: str) -> int:
        """Return the port the TCP protocol ``protocol`` listens on (0: off)."""
        return self.tcp_ports.get(protocol, 0)

    @property
    def writer_threads_or_default(self) -> int:
        """Return how many batch-writer threads to run for this database."""
        if self.writer_threads > 0:
            return self.writer_threads
        return 2 if self.database_url.startswith("postgresql") else 1

    @property
    def mqtt_client_id_or_default(self) -> str:
        """Return the MQTT client id: stable across restarts so QoS 1 messages are redelivered."""
        return self.mqtt_client_id or f"beacon-gateway-{socket.gethostname()}"


#: setting name -> (field, converter); the names are the documented configuration keys.
_FIELDS: dict[str, tuple[str, type]] = {
    "GATEWAY_HTTP_HOST": ("http_host", str),
    "GATEWAY_HTTP_PORT": ("http_port", int),
    "GATEWAY_TCP_HOST": ("tcp_host", str),
    "GATEWAY_MQTT_URL": ("mqtt_url", str),
    "GATEWAY_MQTT_TOPIC": ("mqtt_topic", str),
    "GATEWAY_MQTT_CLIENT_ID": ("mqtt_client_id", str),
    "GATEWAY_MQTT_SESSION_EXPIRY_S": ("mqtt_session_expiry_s", int),
    "GATEWAY_BATCH_MAX_POSITIONS": ("batch_max_positions", int),
    "GATEWAY_BATCH_MAX_WAIT_MS": ("batch_max_wait_ms", int),
    "GATEWAY_WRITER_THREADS": ("writer_threads", int),
    "GATEWAY_HTTP_MAX_BODY_BYTES": ("http_max_body_bytes", int),
    "GATEWAY_FUTURE_TOLERANCE_S": ("future_tolerance_s", int),
    "GATEWAY_MAX_SPEED_KMH": ("max_speed_kmh", float),
    "GATEWAY_APPROXIMATE_ACCURACY_M": ("approximate_accuracy_m", float),
    "GATEWAY_LATE_AFTER_S": ("late_after_s", int),
    "GATEWAY_OVERDUE_CHECK_S": ("overdue_check_s", float),
    "GATEWAY_HEALTH_STALL_S": ("health_stall_s", float),
}


def load_gateway_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> GatewaySettings:
    """Read the gateway's settings; raises ``ConfigError`` naming a malformed one."""
    overrides = dict(overrides or {})
    environ = os.environ if environ is None else environ
    tracker = load_settings(overrides, environ)
    sources = (overrides, environ, tracker.extra)
    values: dict[str, Any] = {"database_url": tracker.database_url}
    for name, (attribute, convert) in _FIELDS.items():
        raw = _pick(name, *sources)
        if raw is not None:
            values[attribute] = _converted(name, raw, convert)
    values["tcp_ports"] = {p.name: _port(p, _pick(p.port_setting, *sources))
                           for p in protocols.every() if p.transport == "tcp" and p.port_setting}
    return GatewaySettings(**values)


def _port(protocol: protocols.Protocol, raw: Any) -> int:
    """A TCP protocol's port: its setting, else the registry's default (0: off)."""
    return protocol.default_port if raw is None else _converted(str(protocol.port_setting), raw, int)


def _converted(name: str, raw: Any, convert: type) -> Any:
    """Return ``raw`` as ``convert`` says (empty switches a port or limit off); ConfigError naming it."""
    if raw == "" and convert is not str:
        return convert(0)
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={raw!r}: expected {convert.__name__}") from exc


def _pick(name: str, *sources: Mapping[str, Any]) -> Any:
    for source in sources:
        value = source.get(name)
        if value is not None:
            return value
    return None
