"""Flows by border crossing count every border crossing on the route: origin and destination too."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD
from tracker.domain.audit.flows import FlowFilter, flow_declarations, flows
from tracker.domain.chain import append_to_chain
from tracker.domain.demo import load_demo
from tracker.models import (
    CheckpointKind,
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    ExpectedCheckpoint,
    Role,
    User,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

DEPARTED = datetime(2026, 3, 28, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def moved(db: Session, make_declaration: Callable[..., Declaration], make_checkpoint: Callable[..., Any],
          make_user: Callable[..., User]) -> dict[str, Any]:
    """Four departed declarations whose border crossings are only their origin or destination:

    an import Torugart → (Naryn) → Bishkek, seen at Torugart; an export Osh → Ak-Jol;
    a transit Torugart → (Bishkek) → Ak-Jol; and a domestic Osh → Bishkek (no crossing).
    """
    def place(code: str, lat: float, lon: float, border: bool = False) -> Any:
        kind = CheckpointKind.BORDER_CROSSING if border else CheckpointKind.CUSTOMS_POST
        return make_checkpoint(code=f"{code}-{uuid.uuid4().hex[:4]}", name=code.title(), kind=kind, lat=lat, lon=lon)

    torugart, akjol = place("TORUGART", 40.56, 75.39, True), place("AKJOL", 43.04, 74.71, True)
    osh, naryn, bishkek = place("OSH", 40.528, 72.799), place("NARYN", 41.429, 75.991), place("BISHKEK", 42.875, 74.59)

    def declare(kind: DeclarationKind, origin: Any, destination: Any, *between: Any) -> Declaration:
        d = make_declaration(kind=kind, origin=origin, destination=destination, departed_at=DEPARTED,
                             status=DeclarationStatus.IN_TRANSIT)
        d.expected_checkpoints = [ExpectedCheckpoint(seq=i, checkpoint=c) for i, c in enumerate(between)]
        db.flush()
        return d

    imported = declare(DeclarationKind.IMPORT, torugart, bishkek, naryn)
    officer = make_user(Role.CUSTOMS_OFFICER, checkpoints=[torugart])
    append_to_chain(db, CustodyEvent(client_event_id=str(uuid.uuid4()), kind=CustodyKind.DEPARTURE,
                                     container_id=imported.items[0].container_id, checkpoint_id=torugart.id,
                                     declaration_id=imported.id, event_time=DEPARTED, event_time_zone="+06:00",
                                     seal_intact=True, officer_id=officer.id))
    db.flush()
    return dict(imported=imported, exported=declare(DeclarationKind.EXPORT, osh, akjol),
                transit=declare(DeclarationKind.TRANSIT, torugart, akjol, bishkek),
                domestic=declare(DeclarationKind.DOMESTIC, osh, bishkek), torugart=torugart, akjol=akjol)


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUDITOR)


def crossing_rows(db: Session, user: User) -> dict[str, tuple[int, int, int]]:
    """Each crossing row by key: declarations, declared grams, declarations seen there."""
    return {r.key: (r.declarations, r.declared_g, r.extra["crossed_declarations"])
            for r in flows(db, user, "crossing", FlowFilter())}


def test_a_border_crossing_origin_or_destination_counts_as_a_crossing(
        db: Session, moved: dict[str, Any], auditor: User) -> None:
    t, a = moved["torugart"].id, moved["akjol"].id
    assert crossing_rows(db, auditor) == {f"{t}:import": (2, 69_000, 1), f"{a}:export": (2, 69_000, 0)}
    entering = db.scalars(flow_declarations(auditor, "crossing", f"{t}:import", FlowFilter())).all()
    assert {d.id for d in entering} == {moved["imported"].id, moved["transit"].id}
    imports_only = FlowFilter(kind=DeclarationKind.IMPORT)
    assert [r.key for r in flows(db, auditor, "crossing", imports_only)] == [f"{t}:import"]


def test_the_import_is_on_the_portal_page_and_in_the_api(
        db: Session, client: FlaskClient, auth: Any, moved: dict[str, Any], auditor: User) -> None:
    t = moved["torugart"]
    auth.sign_in_as(auditor)
    page = client.get("/audit/flows?kind=import").get_data(as_text=True)
    table = re.search(r'id="flows-crossing">(.*?)</table>', page, re.S)
    assert table is not None and f'data-key="{t.id}:import"' in table.group(1) and t.code in table.group(1)
    records = client.get("/audit/flows/records", query_string={"group": "crossing", "key": f"{t.id}:import",
                                                                "kind": "import"}).get_data(as_text=True)
    assert moved["imported"].reference in records and moved["transit"].reference not in records
    client.post("/logout", data={"csrf_token": auth.csrf_token("/")})
    assert client.post("/api/v1/session", json={"login": auditor.login, "password": PASSWORD}).status_code == 200
    body = client.get("/api/v1/audit/flows?group=crossing&kind=import").json
    [row] = body["items"]
    assert (row["crossing"]["code"], row["direction"], row["declarations"]) == (t.code, "import", 1)
    listed = client.get(row["declarations_url"]).json
    assert [d["id"] for d in listed["items"]] == [moved["imported"].id]


def test_the_demo_import_from_torugart_enters_at_torugart(db: Session) -> None:
    load_demo(db)
    auditor = db.scalars(select(User).where(User.role == Role.AUDITOR)).first()
    assert auditor is not None
    rows = {(r.names["crossing"]["code"], r.names["direction"]): r for r in flows(db, auditor, "crossing",
                                                                                    FlowFilter())}
    imported = rows[("TORUGART", "import")]
    [declaration] = db.scalars(flow_declarations(auditor, "crossing", imported.key, FlowFilter())).all()
    assert declaration.kind == DeclarationKind.IMPORT and declaration.origin.code == "TORUGART"
    assert declaration.destination.code == "BISHKEK"
    assert imported.declared_g == declaration.declared_net_g and imported.extra["crossed_declarations"] == 1
