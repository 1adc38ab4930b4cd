"""De-duplicate and store: one row per beacon and fix time, written in one statement per batch.

``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite alike) makes a message delivered
twice, or by two gateway processes at once, change nothing.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import Insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch, Ping
from tracker.db import among
from tracker.models import Declaration, DeclarationStatus
from tracker.models import Position as PositionRow

#: statuses of a declaration whose beacon was (or is) travelling with it
TRAVELLED = (DeclarationStatus.IN_TRANSIT, DeclarationStatus.ARRIVED, DeclarationStatus.CLOSED)


class Trip(NamedTuple):
    """When a beacon travelled with a declaration (arrived_at None: still travelling)."""

    declaration_id: int
    departed_at: datetime
    arrived_at: datetime | None


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC (cheaply when it already is: the decoders give UTC)."""
    return moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)


def _key(ping: Ping) -> tuple[int | None, datetime]:
    return ping.beacon_id, utc(ping.position.fix_time)


class Deduplicate:
    """Mark the second ping of the same beacon and fix time in a batch as a duplicate."""

    name = "deduplicate"
    needs_savepoint = False  # no SQL

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: the beacon and the fix time identify a fix."""

    def __call__(self, batch: Batch) -> None:
        """Keep the first of each (beacon, fix time); the database keeps out stored ones."""
        seen: set[tuple[int | None, datetime]] = set()
        for ping in batch.live():
            key = _key(ping)
            if key in seen:
                ping.duplicate = True
            seen.add(key)


class StorePositions:
    """Insert the batch's new fixes with their raw message, flags and declaration in transit."""

    name = "store"
    needs_savepoint = True

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: batch size is the writer's concern."""

    def __call__(self, batch: Batch) -> None:
        """Write every authenticated, unrefused ping; note which declarations got new fixes."""
        pings = [p for p in batch.live() if p.beacon_id is not None and not p.duplicate]
        if pings:
            self._insert(batch, pings)
        batch.stored = True

    @staticmethod
    def _insert(batch: Batch, pings: list[Ping]) -> None:
        # One order for every writer, so two processes never wait on each other's rows in a cycle.
        pings.sort(key=_key)
        trips = trips_of(batch.session, {ping.beacon_id for ping in pings if ping.beacon_id})
        for ping in pings:
            ping.declaration_id = declaration_at(trips.get(ping.beacon_id or 0, []), ping.position.fix_time)
        if batch.session.get_bind().dialect.name == "postgresql":
            result = batch.session.execute(JSON_INSERT, {"rows": _json_rows(pings), "now": batch.now})
        else:
            result = batch.session.execute(_insert_statement(batch.session), [_row(p, batch.now) for p in pings])
        inserted = _normalised(result.all())  # RETURNING names only the rows really inserted
        for ping in pings:
            ping.stored = _key(ping) in inserted
            ping.duplicate = not ping.stored
            if ping.stored and ping.declaration_id is not None:
                since = batch.affected.get(ping.declaration_id)
                fix_time = ping.position.fix_time
                batch.affected[ping.declaration_id] = fix_time if since is None else min(since, fix_time)


def _normalised(rows: Any) -> set[tuple[int, datetime]]:
    return {(beacon_id, utc(fix_time)) for beacon_id, fix_time in rows}


#: column -> PostgreSQL type of the batch's JSON rows. The whole batch goes as one JSON
#: document, one parameter, built by the C encoder: a thousand fixes are one short constant
#: statement, and neither the driver nor the server handles fifteen thousand parameters.
#: Floats are written by ``repr``, the shortest text that reads back as the same double.
_JSON_TYPES = {
    "beacon_id": "integer", "declaration_id": "integer", "fix_time": "timestamptz", "lat": "float8",
    "lon": "float8", "speed_kmh": "float8", "course": "float8", "altitude_m": "float8",
    "accuracy_m": "float8", "hdop": "float8", "satellites": "integer", "flags": "jsonb",
    "protocol": "text", "raw": "text",
}
_PICKED = ", ".join("decode(raw, 'hex')" if c == "raw" else c for c in _JSON_TYPES)
JSON_INSERT = text(
    f"INSERT INTO positions ({', '.join(_JSON_TYPES)}, received_at) SELECT {_PICKED}, :now"
    " FROM json_to_recordset(CAST(:rows AS json)) AS given("
    + ", ".join(f"{c} {t}" for c, t in _JSON_TYPES.items())
    + ") ON CONFLICT (beacon_id, fix_time) DO NOTHING RETURNING beacon_id, fix_time")


def _json_rows(pings: list[Ping]) -> str:
    """Return the pings as the JSON document of ``JSON_INSERT`` (raw bytes in hex)."""
    rows = []
    for ping in pings:
        p = ping.position
        rows.append({
            "beacon_id": ping.beacon_id, "declaration_id": ping.declaration_id,
            "fix_time": p.fix_time.isoformat(), "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh,
            "course": p.course, "altitude_m": p.altitude_m, "accuracy_m": p.accuracy_m, "hdop": p.hdop,
            "satellites": p.satellites, "flags": p.flags, "protocol": str(p.protocol), "raw": p.raw.hex(),
        })
    return json.dumps(rows, allow_nan=False, separators=(",", ":"))


def _insert_statement(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    table = PositionRow.__table__
    statement = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
    return (statement.on_conflict_do_nothing(index_elements=["beacon_id", "fix_time"])
            .returning(table.c.beacon_id, table.c.fix_time))


def _row(ping: Ping, now: datetime) -> dict[str, Any]:
    position = ping.position
    return {
        "beacon_id": ping.beacon_id, "declaration_id": ping.declaration_id,
        "fix_time": position.fix_time, "received_at": now, "lat": position.lat, "lon": position.lon,
        "speed_kmh": position.speed_kmh, "course": position.course, "altitude_m": position.altitude_m,
        "accuracy_m": position.accuracy_m, "hdop": position.hdop, "satellites": position.satellites,
        "flags": list(position.flags), "protocol": position.protocol, "raw": bytes(position.raw),
    }


def trips_of(session: Session, beacon_ids: set[int]) -> dict[int, list[Trip]]:
    """Return, per beacon, the declarations it has travelled with (departed ones)."""
    rows = session.execute(
        select(Declaration.beacon_id, Declaration.id, Declaration.departed_at, Declaration.arrived_at)
        .where(among(session, Declaration.beacon_id, sorted(beacon_ids)), Declaration.status.in_(TRAVELLED),
               Declaration.departed_at.is_not(None)))
    trips: dict[int, list[Trip]] = defaultdict(list)
    for beacon_id, declaration_id, departed_at, arrived_at in rows:
        trips[beacon_id].append(Trip(declaration_id, departed_at, arrived_at))
    return trips


def declaration_at(trips: list[Trip], fix_time: datetime) -> int | None:
    """Return the declaration the beacon was travelling with at ``fix_time`` (the latest departed)."""
    during = [t for t in trips if t.departed_at <= fix_time and (t.arrived_at is None or fix_time <= t.arrived_at)]
    return max(during, key=lambda t: t.departed_at).declaration_id if during else None
