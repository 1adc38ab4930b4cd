"""Turn models into the JSON shapes the API documents."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tracker.models import Alert, Checkpoint, Container, Dealer, Declaration, User


def iso(moment: datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp ending in Z, or None."""
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dealer_ref(dealer: Dealer) -> dict[str, Any]:
    """Return a dealer as it appears inside other records."""
    return {"id": dealer.id, "legal_name": dealer.legal_name, "country": dealer.country}


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """Return a checkpoint."""
    return {
        "code": checkpoint.code, "name": checkpoint.name, "kind": checkpoint.kind.value,
        "lat": checkpoint.lat, "lon": checkpoint.lon, "radius_m": checkpoint.radius_m,
        "country": checkpoint.country, "neighbour_country": checkpoint.neighbour_country,
    }


def container_json(container: Container) -> dict[str, Any]:
    """Return a container."""
    return {
        "sscc": container.sscc, "container_type": container.container_type.value,
        "tare_g": container.tare_g, "capacity_g": container.capacity_g, "net_g": container.net_g,
        "seal_number": container.seal_number, "status": container.status.value,
        "owner": dealer_ref(container.owner), "custodian": dealer_ref(container.custodian),
    }


def declaration_json(declaration: Declaration, full: bool = False) -> dict[str, Any]:
    """Return a declaration; ``full`` adds items, route and checkpoints."""
    data: dict[str, Any] = {
        "id": declaration.id, "reference": declaration.reference,
        "kind": declaration.kind.value, "status": declaration.status.value,
        "declarant": dealer_ref(declaration.declarant), "consignor": dealer_ref(declaration.consignor),
        "consignee": dealer_ref(declaration.consignee),
        "origin": declaration.origin.code, "destination": declaration.destination.code,
        "declared_net_g": declaration.declared_net_g,
        "planned_departure": iso(declaration.planned_departure),
        "planned_arrival": iso(declaration.planned_arrival),
        "created_at": iso(declaration.created_at),
    }
    if full:
        route = declaration.route
        data.update(
            items=[{"sscc": i.container.sscc, "declared_net_g": i.declared_net_g,
                    "received_net_g": i.received_net_g} for i in declaration.items],
            route=None if route is None else [[lat, lon] for lon, lat in route.coords],
            corridor_m=declaration.corridor_m,
            expected_checkpoints=[e.checkpoint.code for e in declaration.expected_checkpoints],
            authorised_stops=[{"name": s.name, "lat": s.lat, "lon": s.lon, "radius_m": s.radius_m}
                              for s in declaration.authorised_stops],
            vehicle=declaration.vehicle,
            beacon=declaration.beacon.device_id if declaration.beacon else None,
            decision_reason=declaration.decision_reason or None,
        )
    return data


def alert_json(alert: Alert) -> dict[str, Any]:
    """Return an alert."""
    return {
        "id": alert.id, "declaration_id": alert.declaration_id, "kind": alert.kind,
        "severity": alert.severity.value, "status": alert.status.value,
        "opened_at": iso(alert.opened_at), "closed_at": iso(alert.closed_at),
        "lat": alert.lat, "lon": alert.lon, "details": alert.details,
        "resolution": alert.resolution or None,
    }


def user_json(user: User) -> dict[str, Any]:
    """Return the signed-in user's own account."""
    return {
        "login": user.login, "name": user.name, "role": user.role.value,
        "dealer": dealer_ref(user.dealer) if user.dealer else None,
        "checkpoints": [c.code for c in user.checkpoints],
    }
