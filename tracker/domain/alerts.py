"""Alerts: opening them (from rules, the gateway, custody) and their history.

Every step (opened, acknowledged, explained, closed) is kept as an ``AlertEvent``
with who did it and when; an alert's own status only says where it stands now.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tracker.domain.errors import Conflict, ValidationFailed
from tracker.models import Alert, AlertEvent, AlertSeverity, AlertStatus, Declaration, User, utcnow

SYSTEM = "system"


def _step(alert: Alert, action: str, actor: User | None, note: str, at: datetime) -> AlertEvent:
    event = AlertEvent(action=action, at=at, actor=actor,
                       actor_name=actor.login if actor is not None else SYSTEM, note=note)
    alert.history.append(event)
    return event


def open_alert(
    session: Session,
    *,
    kind: str,
    severity: AlertSeverity | str,
    declaration: Declaration | None = None,
    details: dict[str, Any] | None = None,
    lat: float | None = None,
    lon: float | None = None,
    actor: User | None = None,
    at: datetime | None = None,
    note: str = "",
) -> Alert:
    """Open an alert and record who (or which rule: ``actor=None``) opened it."""
    at = at or utcnow()
    alert = Alert(kind=kind, severity=AlertSeverity(severity), declaration=declaration,
                  details=dict(details or {}), lat=lat, lon=lon, opened_at=at, status=AlertStatus.OPEN)
    session.add(alert)
    _step(alert, "opened", actor, note or kind, at)
    session.flush()
    return alert


def _refuse_closed(alert: Alert) -> None:
    if alert.status == AlertStatus.CLOSED:
        raise Conflict(f"alert {alert.label} is closed")


def acknowledge_alert(session: Session, alert: Alert, actor: User, note: str = "") -> Alert:
    """Mark that someone has seen the alert and is looking into it."""
    _refuse_closed(alert)
    at = utcnow()
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = actor
    alert.acknowledged_at = at
    _step(alert, "acknowledged", actor, note, at)
    session.flush()
    return alert


def explain_alert(session: Session, alert: Alert, actor: User, explanation: str) -> Alert:
    """Record a trader's explanation (of a delay, a shortage, a stop)."""
    _refuse_closed(alert)
    if not explanation.strip():
        raise ValidationFailed({"explanation": "say what happened"})
    alert.status = AlertStatus.EXPLAINED
    _step(alert, "explained", actor, explanation.strip(), utcnow())
    session.flush()
    return alert


def close_alert(session: Session, alert: Alert, actor: User | None, resolution: str,
                at: datetime | None = None) -> Alert:
    """Close the alert with a resolution; ``actor=None`` means a rule closed it."""
    _refuse_closed(alert)
    at = at or utcnow()
    alert.status = AlertStatus.CLOSED
    alert.closed_at = max(at, alert.opened_at)
    alert.resolution = resolution
    alert.resolved_by = actor
    _step(alert, "closed", actor, resolution, alert.closed_at)
    session.flush()
    return alert
