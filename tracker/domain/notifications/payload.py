"""What a webhook carries: the alert, in the API's words, and who it was meant for."""
from __future__ import annotations

from datetime import timezone
from typing import Any

from tracker.models import OutboxMessage

EVENT = "alert.opened"


def alert_url(portal_url: str, alert_id: int) -> str:
    """Return the portal's page of an alert."""
    return f"{portal_url}/alerts/{alert_id}"


def webhook_payload(message: OutboxMessage, portal_url: str) -> dict[str, Any]:
    """Return the JSON body of a webhook for ``message`` (keys stable: receivers parse them)."""
    notification = message.notification
    alert = notification.alert
    declaration = alert.declaration
    return {
        "event": EVENT,
        "id": message.idempotency_key,
        "notification_id": notification.id,
        "recipient": notification.user.login,
        "alert": {
            "id": alert.id, "kind": alert.kind, "severity": str(alert.severity), "status": str(alert.status),
            "opened_at": alert.opened_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "lat": alert.lat, "lon": alert.lon,
            "declaration": None if declaration is None else declaration.reference or f"#{declaration.id}",
            "details": alert.details, "url": alert_url(portal_url, alert.id),
        },
    }
