"""Alerts: opening them (from rules, the gateway, custody) and their history.

Every step (opened, acknowledged, explained, closed) is kept as an ``AlertEvent``
with who did it and when; an alert's own status only says where it stands now.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.access import Action, alert_filter, may
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.text import text
from tracker.models import (
    Alert,
    AlertEvent,
    AlertSeverity,
    AlertStatus,
    Declaration,
    NotificationFanout,
    User,
    utcnow,
)

SYSTEM = "system"


def _step(alert: Alert, action: str, actor: User | None, note: str, at: datetime) -> AlertEvent:
    event = AlertEvent(action=action, at=at, actor=actor,
                       actor_name=actor.login if actor is not None else SYSTEM, note=note)
    alert.history.append(event)
    return event


def open_alert(
    session: Session,
    *,
    kind: AlertKind | str,
    severity: AlertSeverity | str | None = None,
    declaration: Declaration | None = None,
    details: dict[str, Any] | None = None,
    lat: float | None = None,
    lon: float | None = None,
    actor: User | None = None,
    at: datetime | None = None,
    note: str = "",
) -> Alert:
    """Open an alert and record who (or which rule: ``actor=None``) opened it.

    The severity is the kind's own (:class:`AlertKind`) unless one is given. Whoever must
    be told of it is worked out later by the notifications deliverer, from the one fan-out
    row written here with the alert (so nothing is lost, and opening stays cheap).
    """
    at = at or utcnow()
    kind = AlertKind(kind)
    alert = Alert(kind=kind.value, severity=AlertSeverity(severity or kind.severity), declaration=declaration,
                  details=dict(details or {}), lat=lat, lon=lon, opened_at=at, status=AlertStatus.OPEN)
    session.add(alert)
    _step(alert, "opened", actor, note or kind.value, at)
    session.add(NotificationFanout(alert=alert))
    session.flush()
    return alert


def _refuse_closed(alert: Alert) -> None:
    if alert.status == AlertStatus.CLOSED:
        raise Conflict(text("alert {alert} is closed", alert=alert.label))


def acknowledge_alert(session: Session, alert: Alert, actor: User, note: str = "",
                      at: datetime | None = None) -> Alert:
    """Mark that someone has seen the alert and is looking into it."""
    _refuse_closed(alert)
    at = at or utcnow()
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = actor
    alert.acknowledged_at = at
    _step(alert, "acknowledged", actor, note, at)
    session.flush()
    return alert


def explain_alert(session: Session, alert: Alert, actor: User, explanation: str,
                  at: datetime | None = None) -> Alert:
    """Record a trader's explanation (of a delay, a shortage, a stop)."""
    _refuse_closed(alert)
    if not explanation.strip():
        raise ValidationFailed({"explanation": text("say what happened")})
    alert.status = AlertStatus.EXPLAINED
    _step(alert, "explained", actor, explanation.strip(), at or utcnow())
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


def find_alert(session: Session, user: User, alert_id: int) -> Alert:
    """Return the alert if ``user`` may see it, else raise NotFound."""
    alert = session.scalars(select(Alert).where(Alert.id == alert_id, alert_filter(user))).one_or_none()
    if alert is None:
        raise NotFound(text("no alert {alert_id}", alert_id=alert_id))
    return alert


def acknowledge(session: Session, actor: User, alert_id: int, note: str = "") -> Alert:
    """Acknowledge a visible alert (customs officer or licensing admin)."""
    if not may(actor, Action.HANDLE_ALERT):
        raise Forbidden(text("only customs or the licensing authority acknowledges alerts"))
    return acknowledge_alert(session, find_alert(session, actor, alert_id), actor, note.strip())


def explain(session: Session, actor: User, alert_id: int, explanation: str) -> Alert:
    """File a trader's explanation (of a delay, a shortage) on an alert of their declaration."""
    if not may(actor, Action.EXPLAIN_ALERT):
        raise Forbidden(text("only a trader party to the declaration explains an alert"))
    return explain_alert(session, find_alert(session, actor, alert_id), actor, explanation)


def close(session: Session, actor: User, alert_id: int, resolution: str) -> Alert:
    """Close a visible alert with its resolution (customs officer or licensing admin)."""
    if not may(actor, Action.HANDLE_ALERT):
        raise Forbidden(text("only customs or the licensing authority closes alerts"))
    if not resolution.strip():
        raise ValidationFailed({"resolution": text("say how the alert was resolved")})
    return close_alert(session, find_alert(session, actor, alert_id), actor, resolution.strip())
