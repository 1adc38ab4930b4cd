"""The load benchmark's data: the demo grown to a year of traffic at a busy post, and its users.

Used by ``bench/load.py``. Rows go in a day at a time through bulk inserts; the custody
events' hashes are random (the bench database's chains are not meant to verify), and a
broken seal opens its alert with the event's id in its details, as the custody rules do.
"""
from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tracker.domain import geography as geo
from tracker.domain import passwords
from tracker.domain.gs1 import make_sscc
from tracker.domain.references import make_reference
from tracker.domain.users import create_user
from tracker.models import (
    Alert,
    Checkpoint,
    Container,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationItem,
    ExpectedCheckpoint,
    Role,
    User,
)
from tracker.models.users import officer_checkpoints

PASSWORD = "mercury flasks 2809 at the gate"
BUSY_POSTS = ("KHD-GATE", "OSH", "JALALABAD")
#: The load users' time zone: their "today" (the checkpoint page's day) starts at its midnight. UTC, so that
#: a run in the European afternoon finds a day of traffic at the post, not the first hour of Bishkek's day.
TIME_ZONE = "UTC"


# ---------------------------------------------------------------- a year of traffic
@dataclass
class Traffic:
    """What growing the demo added: counts, and one container and declaration to ask about."""

    declarations: int = 0
    containers: int = 0
    events: int = 0
    alerts: int = 0
    events_today: int = 0
    sscc: str = ""
    declaration_id: int = 0


def _hash() -> str:
    return secrets.token_hex(32)


class _Grower:
    """Adds day after day of shipments Khaidarkan gate (or Jalal-Abad) → Osh → Bishkek, a day per batch."""

    def __init__(self, session: Session, now: datetime, per_day: int, officers: dict[str, int]) -> None:
        self.session, self.now, self.per_day, self.rng = session, now, per_day, random.Random(2809)
        self.officers = officers
        self.sites = {c.code: c.id for c in session.scalars(select(Checkpoint))}
        self.combine = session.scalar(select(Dealer).where(Dealer.legal_name.like("Khaidarkan%")))
        self.buyers = list(session.scalars(select(Dealer.id).where(Dealer.country == "KG",
                                                                   Dealer.id != self.combine.id)))
        self.serial, self.reference, self.traffic = 500_000, 900_000, Traffic()
        self.route = geo.route_line(geo.section(geo.KHAIDARKAN_AKJOL, "Khaidarkan", "Bishkek")).wkt
        self.midnight = now.astimezone(ZoneInfo(TIME_ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(self, departures: list[datetime], status: str, scans: tuple[str, ...]) -> None:
        """Add the shipments leaving at ``departures``, each scanned at ``scans`` (a few statements in all)."""
        origins = ["JALALABAD" if self.rng.random() < 0.2 else "KHD-GATE" for _ in departures]
        ids = self._declarations(departures, status, origins)
        sizes = [self.rng.randint(1, 10) for _ in departures]
        every = self._containers(sum(sizes))
        flasks = [every[sum(sizes[:n]):sum(sizes[:n + 1])] for n in range(len(sizes))]
        self.session.execute(insert(DeclarationItem), [
            {"declaration_id": d, "container_id": c, "declared_net_g": 34_500}
            for d, load in zip(ids, flasks) for c, _ in load])
        self.session.execute(insert(ExpectedCheckpoint), [
            {"declaration_id": d, "seq": 0, "checkpoint_id": self.sites["OSH"]} for d in ids])
        events = [event for d, departed, origin, load in zip(ids, departures, origins, flasks)
                  for event in self._events(d, departed, origin, load, scans)]
        self._alerts(events)
        self._count(ids, flasks, events)

    def _events(self, declaration_id: int, departed: datetime, origin: str, flasks: list[tuple[int, str]],
                scans: tuple[str, ...]) -> list[dict[str, Any]]:
        places = {"departure": origin, "inspection": "OSH", "arrival": "BISHKEK"}
        events = []
        for hours, kind in zip((0, 4, 14), ("departure", "inspection", "arrival")):
            for i, (container, _sscc) in enumerate(flasks if kind in scans else ()):
                when = departed + timedelta(hours=hours, seconds=40 * i)
                if when > self.now:
                    continue
                events.append({"client_event_id": uuid.uuid4().hex, "kind": kind, "container_id": container,
                               "declaration_id": declaration_id, "checkpoint_id": self.sites[places[kind]],
                               "officer_id": self.officers[places[kind]], "event_time": when,
                               "event_time_zone": "+06:00", "recorded_at": when + timedelta(seconds=30),
                               "seal_intact": self.rng.random() >= 0.01, "remarks": "", "device": "bench",
                               "prev_hash": _hash(), "row_hash": _hash()})
        return events

    def _alerts(self, events: list[dict[str, Any]]) -> None:
        """Store the events; a broken seal opens its alert, as the custody rules do."""
        if not events:
            return
        ids = self.session.scalars(insert(CustodyEvent).returning(CustodyEvent.id, sort_by_parameter_order=True),
                                   events).all()
        alerts = [{"declaration_id": row["declaration_id"], "kind": "custody_seal_broken", "severity": "critical",
                   "status": "open", "opened_at": row["recorded_at"],
                   "details": {"custody_event_id": event_id, "client_event_id": row["client_event_id"]}}
                  for row, event_id in zip(events, ids) if not row["seal_intact"]]
        if alerts:
            self.session.execute(insert(Alert), alerts)
        self.traffic.alerts += len(alerts)

    def _count(self, ids: list[int], flasks: list[list[tuple[int, str]]], events: list[dict[str, Any]]) -> None:
        t, busy = self.traffic, {self.sites[c] for c in BUSY_POSTS}
        t.declarations += len(ids)
        t.containers += sum(len(load) for load in flasks)
        t.events += len(events)
        t.events_today += sum(1 for e in events if e["event_time"] >= self.midnight and e["checkpoint_id"] in busy)
        if ids:
            t.sscc, t.declaration_id = flasks[-1][0][1], ids[-1]

    def _containers(self, count: int) -> list[tuple[int, str]]:
        if not count:
            return []
        rows = []
        for _ in range(count):
            self.serial += 1
            rows.append({"sscc": make_sscc(3, "470000001", self.serial), "container_type": "flask_34_5kg",
                         "tare_g": 2_700, "capacity_g": 34_500, "net_g": 34_500, "status": "in_stock",
                         "owner_id": self.combine.id, "custodian_id": self.combine.id,
                         "registered_at": self.now - timedelta(days=400)})
        ids = self.session.scalars(insert(Container).returning(Container.id, sort_by_parameter_order=True),
                                   rows).all()
        return list(zip(ids, (r["sscc"] for r in rows)))

    def _declarations(self, departures: list[datetime], status: str, origins: list[str]) -> list[int]:
        rows = []
        for departed, origin in zip(departures, origins):
            self.reference += 1
            arrived = departed + timedelta(hours=14)
            rows.append({
                "reference": make_reference(departed.year, self.reference), "kind": "domestic", "status": status,
                "declarant_id": self.combine.id, "consignor_id": self.combine.id,
                "consignee_id": self.rng.choice(self.buyers), "origin_id": self.sites[origin],
                "destination_id": self.sites["BISHKEK"], "route": self.route, "corridor_m": 500,
                "planned_departure": departed - timedelta(minutes=30), "planned_arrival": arrived,
                "created_at": departed - timedelta(days=3), "submitted_at": departed - timedelta(days=2),
                "decided_at": departed - timedelta(days=1),
                "departed_at": None if status == "approved" else departed,
                "arrived_at": arrived if status == "closed" else None,
                "closed_at": arrived + timedelta(days=1) if status == "closed" else None,
                "vehicle": "", "decision_reason": "", "receipt_remarks": ""})
        if not rows:
            return []
        return list(self.session.scalars(insert(Declaration).returning(Declaration.id, sort_by_parameter_order=True),
                                         rows))


def grow(session: Session, now: datetime, days: int, per_day: int) -> Traffic:
    """Add ``days`` of closed shipments, today's on the road, and the next ones approved."""
    grower = _Grower(session, now, per_day, {code: _officer_at(session, code) for code in (*BUSY_POSTS, "BISHKEK")})
    every = timedelta(minutes=20)
    for back in range(days, 0, -1):
        first = grower.midnight - timedelta(days=back) + timedelta(hours=6)
        grower.day([first + n * every for n in range(per_day)], "closed", ("departure", "inspection", "arrival"))
    today = [grower.midnight + n * (now - grower.midnight) / per_day for n in range(per_day)]
    grower.day(today, "in_transit", ("departure", "inspection"))
    grower.day([now + timedelta(hours=6 + n) for n in range(per_day // 2)], "approved", ())
    return grower.traffic


def _officer_at(session: Session, code: str) -> int:
    """The id of a demo officer posted at checkpoint ``code``."""
    return session.scalar(select(User.id).join(officer_checkpoints).join(Checkpoint).where(
        Checkpoint.code == code).order_by(User.id).limit(1))


# ---------------------------------------------------------------- users
def make_users(session: Session, count: int, roles: list[str]) -> list[tuple[str, str]]:
    """Create ``count`` accounts split evenly between the roles; return (login, role) pairs."""
    passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    posts = list(session.scalars(select(Checkpoint).where(Checkpoint.code.in_(BUSY_POSTS))))
    combine = session.scalar(select(Dealer).where(Dealer.legal_name.like("Khaidarkan%")))
    users = []
    for n in range(count):
        role = roles[n % len(roles)]
        login = f"load.{role}.{n}"
        user = create_user(session, login=login, name=f"Load {n}", role=role, password=PASSWORD,
                           dealer=combine if role == Role.TRADER else None,
                           checkpoints=posts if role == Role.CUSTOMS_OFFICER else ())
        user.time_zone = TIME_ZONE
        users.append((login, role))
    return users
