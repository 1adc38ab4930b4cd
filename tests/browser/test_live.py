"""Live pages in a real browser: a beacon's pings through the real gateway move the marker on the auditor's
Now map and bring the off-route alert to the Now page and to the trader's declaration page, and a custody
event recorded at a post comes to its officer's checkpoint page, all without a reload."""
from __future__ import annotations

import math
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from shapely.affinity import scale
from shapely.geometry import Point
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, DemoPortal, Screenshots, Tabs, Visitor, serving_demo, untranslated
from tests.browser.trip_data import beacon_key, wait_for_alert
from tests.gateway.helpers import free_port
from tests.gateway.seed import GatewayProcess
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.custody import record_custody_event
from tracker.models import Declaration, DeclarationStatus, Position, Role, User

pytestmark = pytest.mark.browser

#: How far from the road the truck is sent, and the seconds between its fixes (2 km in 45 s: 160 km/h,
#: a fast car but no impossible jump); four fixes keep it outside for 135 s, past the 120 s before an alert.
OFF_ROAD_M, PERIOD_S, FIXES = 2000, 45, 4


@dataclass
class Trip:
    """The demo's declaration on the road: its beacon's key, its trader, and where its last fix was."""

    declaration_id: int
    device_id: str
    key: str
    trader: str
    last_fix: datetime
    lat: float
    lon: float
    route: object


@pytest.fixture
def own_portal(tmp_path: Path) -> Iterator[DemoPortal]:
    """A demo portal of this test's own (what the test records stays there)."""
    with serving_demo(tmp_path) as portal:
        yield portal


@pytest.fixture
def road(own_portal: DemoPortal, tmp_path: Path) -> Iterator[tuple[DemoPortal, str, Trip]]:
    """The test's portal, the real gateway on its database (HTTP), and its trip in transit."""
    trip = trip_of(own_portal)
    port = free_port()
    gateway = GatewayProcess(own_portal.database_url, tmp_path / "gateway", GATEWAY_HTTP_PORT=port)
    try:
        yield own_portal, f"http://127.0.0.1:{port}", trip
    finally:
        gateway.terminate()


def trip_of(portal: DemoPortal) -> Trip:
    with portal.sessions() as session:
        declaration = session.scalars(select(Declaration).where(
            Declaration.status == DeclarationStatus.IN_TRANSIT)).first()
        assert declaration is not None and declaration.beacon is not None
        last = session.scalars(select(Position).where(Position.declaration_id == declaration.id)
                               .order_by(Position.fix_time.desc())).first()
        trader = session.scalars(select(User.login).where(
            User.role == Role.TRADER, User.dealer_id == declaration.declarant_id)).first()
        reference, device_id, route = declaration.reference, declaration.beacon.device_id, declaration.route
    assert last is not None and trader is not None and reference is not None
    return Trip(declaration.id, device_id, beacon_key(portal.database_url, reference), trader,
                last.fix_time.replace(tzinfo=timezone.utc), last.lat, last.lon, route)


def metres(geometry: object, lat: float) -> object:
    """Return a (lon, lat) geometry scaled to metres around ``lat`` (enough for a test's kilometres)."""
    return scale(geometry, xfact=111_320 * math.cos(math.radians(lat)), yfact=110_540, origin=(0, 0))


def off_road(trip: Trip) -> tuple[float, float]:
    """Return the point OFF_ROAD_M from the last fix that lies farthest from the planned route."""
    route = metres(trip.route, trip.lat)
    candidates = []
    for degrees in range(0, 360, 30):
        lat = trip.lat + OFF_ROAD_M * math.cos(math.radians(degrees)) / 110_540
        lon = trip.lon + OFF_ROAD_M * math.sin(math.radians(degrees)) / (111_320 * math.cos(math.radians(trip.lat)))
        candidates.append((route.distance(metres(Point(lon, lat), trip.lat)), lat, lon))  # type: ignore[attr-defined]
    away, lat, lon = max(candidates)
    assert away > 1000, "a point well outside the 500 m corridor"
    return lat, lon


def ping(gateway: str, trip: Trip, at: datetime, lat: float, lon: float) -> None:
    """Send one OsmAnd fix over HTTP with the beacon's key, as Traccar Client does."""
    query = urlencode({"key": trip.key, "id": trip.device_id, "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                       "timestamp": int(at.timestamp()), "speed": "40", "bearing": "90"})
    with urllib.request.urlopen(f"{gateway}/?{query}", timeout=10) as answer:
        assert answer.status == 200


def marker_place(tab: Visitor) -> list[float]:
    return tab.page.locator("#now-map .marker-in_transit").first.evaluate(
        "e => { const b = e.getBoundingClientRect(); return [b.x, b.y]; }")


def open_live(tab: Visitor, path: str, ready: str) -> None:
    tab.go(path)
    tab.page.wait_for_selector(ready)
    tab.page.wait_for_selector("#live-state[data-live-state='live']")
    tab.page.evaluate("window.sameDocument = true")  # gone if the page were loaded again


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pings_move_the_marker_and_bring_the_alert_without_a_reload(
        road: tuple[DemoPortal, str, Trip], visit_portal: Callable[[DemoPortal], Tabs], shots: Screenshots,
        language: str, size: dict[str, int]) -> None:
    portal, gateway, trip = road
    visit: Tabs = visit_portal(portal)
    shots.know_data_of(portal)
    now = visit("auditor", size=size, language=language)
    open_live(now, "/audit/now", "#now-map[data-map-ready='true']")
    page = visit(trip.trader, size=size, language=language)
    open_live(page, f"/declarations/{trip.declaration_id}", "#declaration-map[data-map-ready='true']")
    before = marker_place(now)
    alerts_before = page.page.locator("#declaration-map .marker-alert").count()
    rows_before = page.page.locator("#declaration-alerts tbody tr").count()
    as_of = now.page.locator("[data-live-as-of]").inner_text()

    lat, lon = off_road(trip)
    start = trip.last_fix + timedelta(seconds=PERIOD_S)
    ping(gateway, trip, start, lat, lon)
    now.page.wait_for_function("([x, y]) => { const m = document.querySelector('#now-map .marker-in_transit');"
                               " const b = m && m.getBoundingClientRect(); return b && (b.x !== x || b.y !== y); }",
                               arg=before)
    shots(now.page, f"now-moved-{language}")
    for n in range(1, FIXES):
        ping(gateway, trip, start + timedelta(seconds=n * PERIOD_S), lat + n * 0.0005, lon)
    alert = wait_for_alert(portal.sessions, trip.declaration_id, AlertKind.OFF_ROUTE.value)

    now.page.wait_for_selector(f"#open-alerts tr[data-alert='{alert.id}']")
    now.page.wait_for_selector("#now-map .marker-in_transit.severity-warning, "
                               "#now-map .marker-in_transit.severity-critical")
    page.page.wait_for_function(f"() => document.querySelectorAll('#declaration-alerts tbody tr').length > {rows_before}")
    page.page.wait_for_function(f"() => document.querySelectorAll('#declaration-map .marker-alert').length > {alerts_before}")
    shots(now.page, f"now-alert-{language}")
    shots(page.page, f"declaration-alert-{language}")
    assert now.page.evaluate("window.sameDocument") and page.page.evaluate("window.sameDocument")
    wait_for_tick(now, as_of)
    for tab in (now, page):
        assert tab.page.locator("#live-state").get_attribute("data-live-state") == "live"
        assert tab.overflow() == []
        if language != "en":
            assert untranslated(tab.page, shots.data_names) == []
            assert tab.page.locator("#live-state .live-text").inner_text() == LIVE[language]
        tab.watch.assert_clean()


#: The stream's state "Live", as each translated page says it.
LIVE = {"ru": "В реальном времени", "ky": "Түз эфирде"}


def wait_for_tick(tab: Visitor, as_of: str, timeout_s: float = 20) -> None:
    """Wait until the "As of" time has moved on (a tick every 15 s)."""
    deadline = time.monotonic() + timeout_s
    while tab.page.locator("[data-live-as-of]").inner_text() == as_of:
        assert time.monotonic() < deadline, "the As of time never changed"
        tab.page.wait_for_timeout(500)


def inspect_at(portal: DemoPortal, officer_login: str, post: str, flask: int = 0, at: datetime | None = None) -> str:
    """Record an inspection of one flask of the trip in transit at ``post`` (now, unless ``at``), as a station
    or a colleague would (the custody check and the chain as on every path); return its SSCC."""
    with portal.sessions() as session:
        officer = session.scalars(select(User).where(User.login == officer_login)).one()
        declaration = session.scalars(select(Declaration).where(
            Declaration.status == DeclarationStatus.IN_TRANSIT)).first()
        assert declaration is not None
        sscc = declaration.items[flask].container.sscc
        session.commit()  # the chain lock opens a fresh transaction
        record_custody_event(session, officer, {
            "client_event_id": uuid.uuid4().hex, "sscc": sscc, "checkpoint": post, "kind": "inspection",
            "seal_intact": True, "event_time": (at or datetime.now(timezone.utc)).isoformat()})
        session.commit()
    return sscc


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
def test_a_custody_event_appears_on_the_officers_checkpoint_page_without_a_reload(
        own_portal: DemoPortal, visit_portal: Callable[[DemoPortal], Tabs], shots: Screenshots,
        language: str) -> None:
    portal = own_portal
    visit: Tabs = visit_portal(portal)
    shots.know_data_of(portal)
    officer = visit("officer.bishkek", size=PHONE, language=language)
    open_live(officer, "/checkpoint", "#today")
    folds = officer.page.locator("details[data-fold][open]")
    assert folds.count() > 0, "the demo's checkpoint page opens its latest folds"
    folded = [folds.nth(n).get_attribute("data-fold") for n in range(folds.count())]
    for fold in folded:                                       # the officer folds everything away
        officer.page.locator(f"details[data-fold='{fold}'] > summary").click()
    sscc = inspect_at(portal, "officer.bishkek", "TOKTOGUL")
    officer.page.wait_for_selector(f"#today td:text-is('{sscc}')", state="attached")
    for fold in folded:
        assert officer.page.locator(f"details[data-fold='{fold}']").get_attribute("open") is None, \
            f"the update opened {fold} again, which the officer had closed"
    shots(officer.page, f"checkpoint-{language}")
    assert officer.page.evaluate("window.sameDocument")
    assert officer.overflow() == []
    if language != "en":
        assert untranslated(officer.page, shots.data_names) == []
    officer.watch.assert_clean()


def test_an_update_keeps_open_the_earlier_events_the_officer_opened(
        own_portal: DemoPortal, visit_portal: Callable[[DemoPortal], Tabs]) -> None:
    now = datetime.now(ZoneInfo("Asia/Bishkek"))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for flask in range(1, 7):  # six today before the officer looks: the latest five, and one earlier
        inspect_at(own_portal, "officer.bishkek", "TOKTOGUL", flask,
                   max(now - timedelta(minutes=7 - flask), midnight + timedelta(seconds=flask)))
    officer = visit_portal(own_portal)("officer.bishkek", size=PHONE)
    open_live(officer, "/checkpoint", "#today")
    trip = trip_of(own_portal).declaration_id
    group, earlier = (officer.page.locator(f"details[data-fold='events-{trip}{part}']") for part in ("", "-earlier"))
    if group.get_attribute("open") is None:
        group.locator("> summary").click()
    earlier.locator("> summary").click()
    assert "1 earlier event" in earlier.locator("> summary").inner_text() and earlier.get_attribute("open") is not None

    sscc = inspect_at(own_portal, "officer.bishkek", "TOKTOGUL")
    officer.page.wait_for_selector(f"#today td:text-is('{sscc}')", state="attached")
    assert "2 earlier events" in earlier.locator("> summary").inner_text(), "the fold is the updated one"
    assert earlier.get_attribute("open") is not None and group.get_attribute("open") is not None, \
        "the update closed the earlier events the officer had opened"
    assert officer.page.evaluate("window.sameDocument")
    officer.watch.assert_clean()


def test_a_page_the_server_has_no_stream_for_refreshes_itself(
        own_portal: DemoPortal, visit_portal: Callable[[DemoPortal], Tabs], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVE_MAX_STREAMS", "0")  # every stream is answered "busy", as on a full web process
    officer = visit_portal(own_portal)("officer.bishkek", size=PHONE)
    officer.go("/checkpoint")
    officer.page.wait_for_selector("#live-state[data-live-state='polling']")
    assert "10 seconds" in officer.page.locator("#live-state").inner_text()
    officer.page.evaluate("window.sameDocument = true")
    sscc = inspect_at(own_portal, "officer.bishkek", "TOKTOGUL")
    officer.page.wait_for_selector(f"#today td:text-is('{sscc}')", timeout=25_000)  # the next fetch, within 10 s
    assert officer.page.evaluate("window.sameDocument")
    officer.watch.assert_clean()
