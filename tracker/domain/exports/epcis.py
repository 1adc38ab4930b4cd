"""Custody events as an EPCIS 2.0 JSON-LD document of ObjectEvents (GS1 EPCIS 2.0, CBV 2.0).

Identifiers
    Containers: the GS1 Digital Link URI ``https://id.gs1.org/00/<SSCC>``, which EPCIS 2.0
    accepts beside EPC URIs. The EPC URI ``urn:epc:id:sscc:<prefix>.<extension+serial>``
    needs the length of the GS1 company prefix inside the SSCC, and the tracker does not
    record it (``gs1.make_sscc`` takes the prefix but only the 18 digits are stored; the demo
    uses 9-digit prefixes, real ones run 6 to 12), so guessing it could name another
    company's container. The Digital Link form needs only the 18 digits.
    Checkpoints, dealers and declarations have no GLN here: they are named by URIs under
    ``base_uri`` (the tracker's own), e.g. ``<base>checkpoints/AKJOL``,
    ``<base>dealers/KG/01207199310028``, ``<base>declarations/<reference>``.

Vocabulary (CBV 2.0 bare words, as the EPCIS 2.0 JSON binding writes them)
    departure → bizStep ``departing``, disposition ``in_transit`` (no bizLocation: on the road)
    arrival → ``arriving``, ``in_progress``; bizLocation the checkpoint
    inspection → ``inspecting``, ``in_transit``; bizLocation the checkpoint
    handover → ``accepting`` (possession changes hands), ``in_transit``
    A seal found broken makes the disposition ``non_conformant`` whatever the step.
    Source and destination: the declaration's consignor and consignee (``owning_party``),
    origin and destination checkpoints (``location``), and for a handover the parties
    giving and taking the container (``possessing_party``).
    bizTransaction: the declaration, typed ``<base>voc/TransportDeclaration`` (the CBV types
    — po, inv, desadv, bol … — are commercial documents; a licensing movement declaration is none).
    What EPCIS has no field for (seal, measured mass, remarks, the evidence chain hash) is
    carried as ``mercury:`` extension properties, the prefix declared in the document's @context.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.domain.exports import chunked, stream_rows
from tracker.domain.exports.csv_tables import Scope, custody_scope_filter
from tracker.models import Checkpoint, CustodyEvent, CustodyKind, Dealer, Declaration, utcnow

MEDIA_TYPE = "application/ld+json"
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
DIGITAL_LINK_SSCC = "https://id.gs1.org/00/"
BIZ_STEP = {
    CustodyKind.DEPARTURE: "departing",
    CustodyKind.ARRIVAL: "arriving",
    CustodyKind.INSPECTION: "inspecting",
    CustodyKind.HANDOVER: "accepting",
}
DISPOSITION = {
    CustodyKind.DEPARTURE: "in_transit",
    CustodyKind.ARRIVAL: "in_progress",
    CustodyKind.INSPECTION: "in_transit",
    CustodyKind.HANDOVER: "in_transit",
}
BROKEN_SEAL = "non_conformant"


class Identifiers:
    """The URIs of the tracker's own records under ``base_uri`` (ending in a slash)."""

    def __init__(self, base_uri: str) -> None:
        self.base = base_uri if base_uri.endswith("/") else base_uri + "/"

    def container(self, sscc: str) -> str:
        return DIGITAL_LINK_SSCC + sscc

    def checkpoint(self, checkpoint: Checkpoint) -> str:
        return f"{self.base}checkpoints/{quote(checkpoint.code, safe='')}"

    def dealer(self, dealer: Dealer) -> str:
        return f"{self.base}dealers/{dealer.country}/{quote(dealer.taxpayer_number, safe='')}"

    def declaration(self, declaration: Declaration) -> str:
        return f"{self.base}declarations/{quote(declaration.reference or str(declaration.id), safe='')}"

    def event(self, event: CustodyEvent) -> str:
        try:
            return uuid.UUID(event.client_event_id).urn
        except ValueError:
            return f"{self.base}custody-events/{event.id}"

    @property
    def vocabulary(self) -> str:
        return f"{self.base}voc/"

    @property
    def declaration_type(self) -> str:
        return f"{self.vocabulary}TransportDeclaration"


def _local_time(event: CustodyEvent) -> tuple[str, str]:
    """Return the event time at its own offset (milliseconds) and the offset, as EPCIS writes them."""
    offset = event.event_time_zone
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(part) for part in offset.lstrip("+-").split(":"))
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return event.event_time.astimezone(zone).isoformat(timespec="milliseconds"), offset


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parties(session: Session, ids: Identifiers,
             event: CustodyEvent) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    sources: list[dict[str, str]] = []
    destinations: list[dict[str, str]] = []
    declaration = event.declaration
    if declaration is not None:
        sources += [{"type": "owning_party", "source": ids.dealer(declaration.consignor)},
                    {"type": "location", "source": ids.checkpoint(declaration.origin)}]
        destinations += [{"type": "owning_party", "destination": ids.dealer(declaration.consignee)},
                         {"type": "location", "destination": ids.checkpoint(declaration.destination)}]
    if event.kind == CustodyKind.HANDOVER:
        for party_id, role, target in ((event.from_party_id, "source", sources),
                                       (event.to_party_id, "destination", destinations)):
            party = session.get(Dealer, party_id) if party_id is not None else None
            if party is not None:
                target.append({"type": "possessing_party", role: ids.dealer(party)})
    return sources, destinations


def object_event(session: Session, ids: Identifiers, event: CustodyEvent) -> dict[str, Any]:
    """Return one custody event as an EPCIS 2.0 ObjectEvent (OBSERVE: the container already exists)."""
    kind = CustodyKind(event.kind)
    event_time, offset = _local_time(event)
    found: dict[str, Any] = {
        "type": "ObjectEvent", "eventID": ids.event(event), "eventTime": event_time,
        "eventTimeZoneOffset": offset, "recordTime": _utc(event.recorded_at),
        "epcList": [ids.container(event.sscc)], "action": "OBSERVE", "bizStep": BIZ_STEP[kind],
        "disposition": DISPOSITION[kind] if event.seal_intact else BROKEN_SEAL,
        "readPoint": {"id": ids.checkpoint(event.checkpoint)},
    }
    if kind != CustodyKind.DEPARTURE:
        found["bizLocation"] = {"id": ids.checkpoint(event.checkpoint)}
    if event.declaration is not None:
        found["bizTransactionList"] = [{"type": ids.declaration_type,
                                        "bizTransaction": ids.declaration(event.declaration)}]
    sources, destinations = _parties(session, ids, event)
    if sources:
        found["sourceList"] = sources
    if destinations:
        found["destinationList"] = destinations
    found.update({"mercury:sealIntact": event.seal_intact, "mercury:rowHash": event.row_hash})
    if event.measured_net_g is not None:
        found["mercury:measuredNetGrams"] = event.measured_net_g
    if event.remarks:
        found["mercury:remarks"] = event.remarks
    return found


def custody_epcis(session: Session, scope: Scope, base_uri: str, declaration_id: int | None = None) -> Iterator[str]:
    """Yield an EPCISDocument of the custody events of ``scope``, oldest first."""
    ids = Identifiers(base_uri)
    query = (select(CustodyEvent).where(custody_scope_filter(scope))
             .options(joinedload(CustodyEvent.container), joinedload(CustodyEvent.checkpoint),
                      joinedload(CustodyEvent.declaration))
             .order_by(CustodyEvent.event_time, CustodyEvent.id))
    if declaration_id is not None:
        query = query.where(CustodyEvent.declaration_id == declaration_id)
    query = scope.period.bound(query, CustodyEvent.event_time)
    head = {"@context": [EPCIS_CONTEXT, {"mercury": ids.vocabulary}], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": _utc(utcnow())}

    def pieces() -> Iterator[str]:
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "epcisBody": {"eventList": [\n'
        for n, row in enumerate(stream_rows(session, query)):
            event = object_event(session, ids, row.CustodyEvent)
            yield ("," if n else "") + json.dumps(event, ensure_ascii=False) + "\n"
        yield "]}}\n"

    return chunked(pieces())
