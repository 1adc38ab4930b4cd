"""Notifications: what the fan-out row costs when an alert opens, and how fast the deliverer works.

    .venv/bin/python bench/notifications.py [--alerts 2000]

On PostgreSQL (database ``mercury_bench_notify``, made and dropped): 20 users (traders of the
declaring dealer, officers posted on the route, auditors mailed, administrators with a
webhook). Prints:

1. opening alerts (``open_alert``, 100 per transaction) with the fan-out row, and without it
   (the hook replaced by a no-op): microseconds per alert — the cost on the gateway's hot path;
2. the deliverer's fan-out: alerts/s and notifications + outbox rows written per second;
3. the deliverer's sending with one process: e-mails to a local aiosmtpd server and signed
   webhooks to a local HTTP receiver, messages/s (both receivers run in this process, sharing
   its interpreter with the deliverer: a lower bound).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from shapely.geometry import LineString  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchdb import drop_database, fresh_database  # noqa: E402
from tests.tracker.notification_servers import SmtpServer, WebhookReceiver  # noqa: E402
from tracker.db import make_session_factory  # noqa: E402
from tracker.domain import alerts  # noqa: E402
from tracker.domain.alert_kinds import AlertKind  # noqa: E402
from tracker.domain.notifications import following  # noqa: E402
from tracker.domain.notifications.deliverer import Deliverer  # noqa: E402
from tracker.domain.notifications.email import MailServer  # noqa: E402
from tracker.domain.notifications.fanout import fan_out  # noqa: E402
from tracker.models import (  # noqa: E402
    Checkpoint, CheckpointKind, Dealer, Declaration, DeclarationKind, DeclarationStatus, OutboxMessage, Role, User,
)

NAME = "mercury_bench_notify"
CHUNK = 100
ROUNDS = 5


def seed(session: Session, hook_url: str) -> Declaration:
    """A declaration Osh → Bishkek and the 20 people its alerts concern."""
    osh = Checkpoint(code="OSH", name="Osh", kind=CheckpointKind.CUSTOMS_POST, lat=40.528, lon=72.799, radius_m=500)
    bishkek = Checkpoint(code="BSK", name="Bishkek", kind=CheckpointKind.CUSTOMS_POST, lat=42.875, lon=74.59,
                         radius_m=500)
    seller = Dealer(legal_name="Seller LLC", taxpayer_number="00000000000001", country="KG")
    buyer = Dealer(legal_name="Buyer LLC", taxpayer_number="00000000000002", country="KG")
    start = datetime.now(timezone.utc)
    declaration = Declaration(kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.IN_TRANSIT,
                              declarant=seller, consignor=seller, consignee=buyer, origin=osh, destination=bishkek,
                              route=LineString([(72.799, 40.528), (74.59, 42.875)]), reference="26KGHG00000000010",
                              planned_departure=start, planned_arrival=start + timedelta(days=1))
    session.add(declaration)
    people = [(Role.TRADER, {"dealer_id": None, "dealer": seller})] * 5 + [(Role.TRADER, {"dealer": buyer})] * 5 \
        + [(Role.CUSTOMS_OFFICER, {"checkpoints": [osh]})] * 5 + [(Role.AUDITOR, {})] * 3 \
        + [(Role.LICENSING_ADMIN, {})] * 2
    for n, (role, extra) in enumerate(people):
        user = User(login=f"user{n}", name=f"User {n}", role=role, password_hash="x",
                    dealer=extra.get("dealer"), checkpoints=extra.get("checkpoints", []))
        session.add(user)
        session.flush()
        if role == Role.AUDITOR:
            following.choose(session, user, True, True, f"user{n}@example.kg")
        if role == Role.LICENSING_ADMIN:
            following.add_webhook(session, user, hook_url, allow_private=True)
    session.commit()
    return declaration


def open_many(session: Session, declaration: Declaration, count: int) -> float:
    """Open ``count`` critical alerts, CHUNK per commit; return microseconds per alert."""
    began = time.perf_counter()
    for done in range(0, count, CHUNK):
        for _ in range(min(CHUNK, count - done)):
            alerts.open_alert(session, kind=AlertKind.LICENCE_SUSPENDED, declaration=declaration)
        session.commit()
    return (time.perf_counter() - began) / count * 1e6


def main(argv: list[str] | None = None) -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    count = parser.parse_args(argv).alerts
    engine = fresh_database(NAME, pool_size=4)
    smtp, hook = SmtpServer(), WebhookReceiver()
    smtp.up()
    hook.start()
    try:
        sessions = make_session_factory(engine)
        with sessions() as session:
            declaration = seed(session, hook.url)
            open_many(session, declaration, CHUNK)                   # warm up
            real, times = alerts.NotificationFanout, {"without": [], "with": []}
            for _ in range(ROUNDS):                                  # alternate, so load on the machine hits both
                alerts.NotificationFanout = lambda alert: alert      # type: ignore[assignment,misc]  (no fan-out row)
                times["without"].append(open_many(session, declaration, count // ROUNDS))
                alerts.NotificationFanout = real                     # type: ignore[misc]
                times["with"].append(open_many(session, declaration, count // ROUNDS))
        without, with_row = statistics.median(times["without"]), statistics.median(times["with"])
        print(f"open_alert, {count} alerts each way in transactions of {CHUNK}, median of {ROUNDS} alternating runs: "
              f"{without:.0f} µs without the fan-out row, {with_row:.0f} µs with it "
              f"({with_row - without:+.0f} µs, {100 * (with_row / without - 1):+.1f} %)")
        with sessions() as session:
            began, fanned = time.perf_counter(), 0
            while (batch := fan_out(session, email_on=True)):
                session.commit()
                fanned += batch
            took = time.perf_counter() - began
            rows = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        print(f"fan-out: {fanned} alerts in {took:.1f} s = {fanned / took:.0f} alerts/s "
              f"(20 users each; {rows} outbox rows written)")
        deliverer = Deliverer(sessions, lambda message, url: _plain(), MailServer("127.0.0.1", smtp.port), "http://x",
                              allow_private=True)
        began, sent = time.perf_counter(), 0
        while (done := deliverer.run_once()).busy:
            sent += done.sent
        took = time.perf_counter() - began
        print(f"delivery, one deliverer: {sent} messages ({len(smtp.mailbox.messages)} e-mails, "
              f"{len(hook.received)} webhooks) in {took:.1f} s = {sent / took:.0f} messages/s")
    finally:
        smtp.down()
        hook.stop()
        drop_database(engine, NAME)


def _plain():  # type: ignore[no-untyped-def]
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["Subject"] = "alert"
    mail.set_content("alert\n")
    return mail


if __name__ == "__main__":
    main()
