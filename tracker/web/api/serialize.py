"""Turn models into the JSON shapes the API documents."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tracker.models import (
    Alert,
    AlertEvent,
    Checkpoint,
    Container,
    Dealer,
    Declaration,
    ExportConsent,
    ImportApproval,
    License,
    LicenseEvent,
    User,
)


def iso(moment: datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp ending in Z, or None."""
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dealer_ref(dealer: Dealer) -> dict[str, Any]:
    """Return a dealer as it appears inside other records."""
    return {"id": dealer.id, "legal_name": dealer.legal_name, "country": dealer.country}


def dealer_json(dealer: Dealer) -> dict[str, Any]:
    """Return a dealer in full, with a line for each of its licences."""
    return {
        **dealer_ref(dealer), "taxpayer_number": dealer.taxpayer_number, "address": dealer.address,
        "created_at": iso(dealer.created_at),
        "licences": [{"id": licence.id, "number": licence.number, "status": licence.status.value,
                      "valid_from": licence.valid_from.isoformat(), "valid_to": licence.valid_to.isoformat()}
                     for licence in dealer.licenses],
    }


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """Return a checkpoint."""
    return {
        "code": checkpoint.code, "name": checkpoint.name, "kind": checkpoint.kind.value,
        "lat": checkpoint.lat, "lon": checkpoint.lon, "radius_m": checkpoint.radius_m,
        "country": checkpoint.country, "neighbour_country": checkpoint.neighbour_country,
        "names": dict(checkpoint.names or {}),
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
                    "received_net_g": i.received_net_g, "seal_intact": i.seal_intact}
                   for i in declaration.items],
            route=None if route is None else [[lat, lon] for lon, lat in route.coords],
            route_tolerance_m=declaration.route_tolerance_m,
            corridor_m=declaration.corridor_m,
            expected_checkpoints=[e.checkpoint.code for e in declaration.expected_checkpoints],
            authorised_stops=[{"name": s.name, "lat": s.lat, "lon": s.lon, "radius_m": s.radius_m}
                              for s in declaration.authorised_stops],
            vehicle=declaration.vehicle,
            beacon=declaration.beacon.device_id if declaration.beacon else None,
            decision_reason=declaration.decision_reason or None,
            import_approval=declaration.import_approval.number if declaration.import_approval else None,
            export_consent=declaration.export_consent.number if declaration.export_consent else None,
            submitted_at=iso(declaration.submitted_at), decided_at=iso(declaration.decided_at),
            departed_at=iso(declaration.departed_at), arrived_at=iso(declaration.arrived_at),
            received_at=iso(declaration.received_at), closed_at=iso(declaration.closed_at),
            receipt_remarks=declaration.receipt_remarks or None,
        )
    return data


def open_declaration_json(declaration: Declaration | None) -> dict[str, Any] | None:
    """Return the declaration a container is moving under, as a station needs it (or None)."""
    if declaration is None:
        return None
    return {
        "id": declaration.id, "reference": declaration.reference, "status": declaration.status.value,
        "origin": declaration.origin.code, "destination": declaration.destination.code,
        "expected_checkpoints": [e.checkpoint.code for e in declaration.expected_checkpoints],
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    """Return an alert."""
    return {
        "id": alert.id, "declaration_id": alert.declaration_id, "kind": alert.kind,
        "severity": alert.severity.value, "status": alert.status.value,
        "opened_at": iso(alert.opened_at), "closed_at": iso(alert.closed_at),
        "lat": alert.lat, "lon": alert.lon, "details": alert.details,
        "resolution": alert.resolution or None,
    }


def alert_event_json(event: AlertEvent) -> dict[str, Any]:
    """Return one step of an alert's history."""
    return {"action": event.action, "at": iso(event.at), "by": event.actor_name, "note": event.note}


def alert_with_history_json(alert: Alert) -> dict[str, Any]:
    """Return an alert with every step of its history, oldest first."""
    return {**alert_json(alert), "history": [alert_event_json(e) for e in alert.history]}


def licence_event_json(event: LicenseEvent) -> dict[str, Any]:
    """Return one change of a licence."""
    return {"action": event.action, "at": iso(event.at), "by": event.actor_name, "reason": event.reason}


def licence_json(licence: License) -> dict[str, Any]:
    """Return a licence with its history of changes."""
    return {
        "id": licence.id, "number": licence.number, "dealer": dealer_ref(licence.dealer),
        "valid_from": licence.valid_from.isoformat(), "valid_to": licence.valid_to.isoformat(),
        "annual_quota_g": licence.annual_quota_g, "activities": sorted(a.value for a in licence.activities),
        "status": licence.status.value, "status_reason": licence.status_reason or None,
        "issued_at": iso(licence.issued_at), "history": [licence_event_json(e) for e in licence.history],
    }


def approval_json(approval: ImportApproval, declared_g: int | None = None) -> dict[str, Any]:
    """Return an import approval; ``declared_g`` (mass already declared on it) adds what remains."""
    data: dict[str, Any] = {
        "id": approval.id, "number": approval.number, "importer": dealer_ref(approval.importer),
        "exporter_name": approval.exporter_name, "exporter_country": approval.exporter_country,
        "quantity_g": approval.quantity_g, "intended_use": approval.intended_use,
        "source_not_primary_mining": approval.source_not_primary_mining,
        "source_statement": approval.source_statement, "valid_until": approval.valid_until.isoformat(),
        "status": approval.status.value, "issued_at": iso(approval.issued_at),
    }
    if declared_g is not None:
        data.update(declared_g=declared_g, remaining_g=approval.quantity_g - declared_g)
    return data


def consent_json(consent: ExportConsent, declared_g: int | None = None) -> dict[str, Any]:
    """Return an export consent; ``declared_g`` (mass already declared on it) adds what remains."""
    data: dict[str, Any] = {
        "id": consent.id, "number": consent.number, "exporter": dealer_ref(consent.exporter),
        "importer_name": consent.importer_name, "importer_country": consent.importer_country,
        "quantity_g": consent.quantity_g, "intended_use": consent.intended_use,
        "valid_until": consent.valid_until.isoformat(), "status": consent.status.value,
        "issued_at": iso(consent.issued_at),
    }
    if declared_g is not None:
        data.update(declared_g=declared_g, remaining_g=consent.quantity_g - declared_g)
    return data


def user_json(user: User) -> dict[str, Any]:
    """Return the signed-in user's own account."""
    return {
        "login": user.login, "name": user.name, "role": user.role.value,
        "dealer": dealer_ref(user.dealer) if user.dealer else None,
        "checkpoints": [c.code for c in user.checkpoints],
    }
