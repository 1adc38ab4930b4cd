"""The phone at the checkpoint, in Chromium at 360 px (and the desktop): viewfinder, menu, skip link, folds.

The viewfinder is tested with a real camera stream: Chromium's fake capture device plays a Y4M
video made here from a printed label (``scanner_app.labels``), the page decodes it with zxing-wasm
in the browser, and the tracker names the container and counts its declaration.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, sync_playwright
from shapely.geometry import LineString
from sqlalchemy import select

from scanner_app.labels import Label, render_image
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DESKTOP,
    PHONE,
    DemoPortal,
    Screenshots,
    Tabs,
    Visitor,
    serving_demo,
    shipment_through_osh,
    untranslated,
)
from tests.conftest import need_service
from tracker.domain.custody import record_custody_event
from tracker.domain.gs1 import make_sscc
from tracker.models import (
    Checkpoint,
    Container,
    ContainerType,
    Dealer,
    Declaration,
    DeclarationItem,
    DeclarationKind,
    DeclarationStatus,
    User,
)

pytestmark = pytest.mark.browser

OFFICER = "officer.osh"
ROLES = {"trader": "trader.khaidarkan", "customs_officer": OFFICER, "licensing_admin": "admin", "auditor": "auditor"}
#: The flask whose label the fake camera films, and its two companions on the declaration.
FILMED, OTHERS = make_sscc(0, "4700088", 1), [make_sscc(0, "4700088", n) for n in (2, 3)]
#: A shipment through Osh whose eight flasks were inspected there today, the first two found with broken seals.
LONG_DAY, LONG_DAY_FLASKS = "26KGHG00000880020", [make_sscc(0, "4700088", n) for n in range(11, 19)]
#: What its fold and the fold of its earlier events within say, in each language.
LONG_DAY_SAYS = {"en": ("8 events", "3 earlier events", "2 broken seals", "broken"),
                 "ru": ("8 событий", "3 более ранних события", "2 нарушенные пломбы", "нарушена"),
                 "ky": ("8 окуя", "3 мурунку окуя", "2 бузулган пломба", "бузулган")}
#: Where each visible event row of a fold shows its cells: the distinct lines of the row, and which cells share one.
EVENT_ROWS_JS = """
(fold) => [...fold.querySelectorAll('tbody tr')].filter((row) => row.checkVisibility()).map((row) => {
  const top = (name) => Math.round(row.querySelector('td.' + name).getBoundingClientRect().top);
  const tops = [...row.cells].filter((cell) => cell.checkVisibility())
    .map((cell) => cell.getBoundingClientRect().top).sort((a, b) => a - b);
  const beside = (a, b) => Math.abs(a - b) < 5;  // on one line, whatever their fonts' baselines
  return {lines: tops.filter((t, n) => n === 0 || !beside(t, tops[n - 1])).length,
          timeBesideEvent: beside(top('time'), top('event')), sealBesideSscc: beside(top('seal'), top('sscc')),
          sscc: row.querySelector('td.sscc').innerText, time: row.querySelector('td.time').innerText};
})
"""
#: How many lines an element's text takes (its text's boxes, a few pixels apart at most on one line).
LINES_JS = """
(element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const tops = [...range.getClientRects()].map((r) => r.top).sort((a, b) => a - b);
  return tops.filter((t, n) => n === 0 || t - tops[n - 1] >= 5).length;
}
"""
#: How many lines each child of an element takes.
LINES_OF_PARTS_JS = f"(element) => [...element.children].map((part) => ({LINES_JS.strip()})(part))"
#: Interface texts whose words must not be cut in two at 360 px.
LABELS = "nav.menu a, main h1, main h2, label, legend, summary, dt, th, button"
#: A word of the interface cut across two lines (a hyphenated break keeps its hyphen and is allowed).
BROKEN_WORDS_JS = """
(selector) => {
  const broken = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.offsetParent) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[\\p{L}]{4,}/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}
"""
#: A column name of a stacked table (its ::before) narrower than its longest word: cut mid-word.
BROKEN_COLUMN_NAMES_JS = """
() => {
  const broken = [];
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
  document.body.appendChild(probe);
  for (const cell of document.querySelectorAll('table.stack td[data-label]')) {
    const before = getComputedStyle(cell, '::before');
    if (!cell.offsetParent || before.content === 'none' || before.display === 'none') continue;
    const width = parseFloat(before.width);
    if (!width) continue;
    probe.style.font = before.font;
    for (const word of cell.dataset.label.split(/\\s+/)) {
      probe.textContent = word;
      if (probe.getBoundingClientRect().width > width + 1) broken.push(word);
    }
  }
  probe.remove();
  return broken;
}
"""


def label_video(folder: Path, sscc: str) -> Path:
    """Write a few frames of a printed label as a Y4M video (what Chromium's fake camera plays)."""
    width, height = 1280, 720
    label = render_image(Label(sscc=sscc, net_g=34_500)).convert("L")
    label = label.resize((int(label.width * (height - 60) / label.height), height - 60))
    frame = Image.new("L", (width, height), 255)
    frame.paste(label, ((width - label.width) // 2, 30))
    luma = np.asarray(frame, dtype=np.uint8).tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    path = folder / "label.y4m"
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium whose camera films the printed label of ``FILMED`` (permission given without asking)."""
    need_service("Chromium", CHROMIUM.exists(), os.access(CHROMIUM, os.X_OK), f"install Debian's chromium at {CHROMIUM} (scripts/bootstrap.sh does)")
    video = label_video(tmp_path_factory.mktemp("camera"), FILMED)
    flags = [*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-video-capture={video}", "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def loading_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPortal]:
    """The demo, plus an approved three-flask declaration leaving Osh now (the filmed flask is one)."""
    with serving_demo(tmp_path_factory.mktemp("phone")) as served:
        with served.sessions() as session:
            osh, bishkek = (session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one()
                            for code in ("OSH", "BISHKEK"))
            seller, buyer = session.scalars(select(Dealer).order_by(Dealer.id).limit(2)).all()
            start = datetime.now(timezone.utc) - timedelta(hours=1)
            declaration = Declaration(
                kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.APPROVED, reference="26KGHG00000880010",
                declarant=seller, consignor=seller, consignee=buyer, origin=osh, destination=bishkek,
                route=LineString([(osh.lon, osh.lat), (bishkek.lon, bishkek.lat)]),
                planned_departure=start, planned_arrival=start + timedelta(days=1))
            declaration.items = [DeclarationItem(container=Container(
                sscc=sscc, container_type=ContainerType.FLASK_34_5KG, tare_g=2_700, capacity_g=34_500, net_g=34_500,
                owner_id=seller.id, custodian_id=seller.id), declared_net_g=34_500) for sscc in [FILMED, *OTHERS]]
            session.add(declaration)
            session.commit()
        yield served


@pytest.fixture(scope="module")
def long_day(loading_portal: DemoPortal) -> int:
    """Record :data:`LONG_DAY`'s inspections at Osh today, oldest first; return the declaration's id."""
    with loading_portal.sessions() as session:
        officer = session.scalars(select(User).where(User.login == OFFICER)).one()
        declaration = shipment_through_osh(session, LONG_DAY, LONG_DAY_FLASKS,
                                           datetime.now(timezone.utc) - timedelta(hours=2))
        session.commit()  # the chain lock opens a fresh transaction
        now = datetime.now(ZoneInfo("Asia/Bishkek"))
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for n, sscc in enumerate(LONG_DAY_FLASKS):
            at = midnight + (now - midnight) * (n + 1) / (len(LONG_DAY_FLASKS) + 1)
            record_custody_event(session, officer, {
                "client_event_id": uuid.uuid4().hex, "sscc": sscc, "checkpoint": "OSH", "kind": "inspection",
                "seal_intact": n >= 2, "event_time": at.isoformat(timespec="seconds")})
        session.commit()
        return declaration.id


def camera_tab(tabs: Tabs, language: str) -> Visitor:
    officer = tabs(OFFICER, size=PHONE, language=language)
    officer.page.context.grant_permissions(["camera"], origin=tabs.portal.url)
    return officer


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
def test_the_viewfinder_reads_the_filmed_label_counts_it_and_records_it(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots, language: str) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        officer = camera_tab(tabs, language)
        page = officer.page
        officer.go("/checkpoint/scan")
        assert page.locator("#viewfinder").is_visible() and page.locator("#photo-form").is_visible()
        page.locator("#start-camera").click()
        page.locator(f"#read-list li:has-text('{FILMED}')").wait_for(timeout=30_000)
        expected = {"en": "1 of 3 containers scanned", "ru": "1 из 3", "ky": "3 ичинен 1"}[language]
        assert expected in page.locator("#progress").inner_text()
        assert page.locator("#read-list li").count() == 1  # read once, however many frames show it
        shots(page, f"viewfinder-read-{language}")
        wasm = page.request.get(loading_portal.address("/static/vendor/zxing-wasm/zxing_reader.wasm"))
        assert wasm.headers["content-type"] == "application/wasm"

        page.locator("#record-read-link").click()
        page.wait_for_url(f"**/checkpoint/labels?sscc={FILMED}")
        assert not page.locator("#seal_intact").is_checked() and not page.locator("#seal_broken").is_checked()
        page.locator("#seal_intact").check()
        page.locator("#kind-departure").check()
        if language != "en":
            officer.watch.allow(409)  # the flask departed in the English run: refused, with the reasons
        page.locator("#confirm").click()
        page.wait_for_load_state()
        if language == "en":
            assert page.url.endswith("/checkpoint")
            folds = page.locator("details.declaration-events")
            opened = [folds.nth(n).get_attribute("open") is not None for n in range(folds.count())]
            assert opened == [True] + [False] * (len(opened) - 1), "the latest declaration open, the others folded"
            summary = folds.first.locator("summary").inner_text()
            assert "26KGHG00000880010" in summary and "1 event" in summary
            shots(page, "checkpoint-folded-by-declaration")
        officer.watch.assert_clean()
    finally:
        tabs.close()


def test_without_the_camera_the_viewfinder_says_so_and_the_photo_form_stays(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        officer = tabs(OFFICER, size=PHONE)
        officer.page.add_init_script("navigator.mediaDevices.getUserMedia = () => "
                                     "Promise.reject(new DOMException('denied', 'NotAllowedError'));")
        officer.go("/checkpoint/scan")
        officer.page.locator("#start-camera").click()
        status = officer.page.locator("#viewfinder-status")
        status.filter(has_text="photo").wait_for()
        assert "not allowed" in status.inner_text() and officer.page.locator("#photo").is_visible()
        shots(officer.page, "camera-refused")
        officer.watch.assert_clean()
    finally:
        tabs.close()


def test_a_photo_without_a_label_brings_back_the_hint_with_advice(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        officer = tabs(OFFICER, size=PHONE)
        officer.watch.allow(422)
        officer.go("/checkpoint/scan")
        blank = Image.new("RGB", (800, 600), "white")
        path = loading_portal.path / "blank.png"
        blank.save(path)
        officer.page.locator("#photo").set_input_files(str(path))
        officer.page.locator("#photo-error").filter(has_text="no barcode").wait_for()
        hint = officer.page.locator("#photo-hint").inner_text()
        assert "Reading the label" not in hint and "closer" in hint and "light" in hint and "still" in hint
        assert officer.page.locator("#read-photo").is_enabled()
        shots(officer.page, "photo-without-label")
        officer.watch.assert_clean()
    finally:
        tabs.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_the_menu_shows_every_item_at_360_px_and_the_skip_link_reaches_the_main_content(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots, role: str) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        for size, language in ((PHONE, "ru"), (DESKTOP, "en")):
            tab = tabs(ROLES[role], size=size, language=language)
            tab.go("/")
            links = tab.page.locator("nav.menu a")
            assert links.count() >= 4
            for n in range(links.count()):
                box = links.nth(n).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], \
                    f"{links.nth(n).inner_text()} is off-screen at {size['width']} px"
            assert tab.page.evaluate(BROKEN_WORDS_JS, "nav.menu a") == []
            tab.page.keyboard.press("Tab")
            skip = tab.page.locator("a.skip-link")
            assert skip.evaluate("el => el === document.activeElement") and skip.is_visible()
            tab.page.keyboard.press("Enter")
            assert tab.page.evaluate("document.activeElement.id") == "main"
            shots(tab.page, f"menu-{role}-{size['width']}")
            tab.watch.assert_clean()
    finally:
        tabs.close()


def test_russian_labels_of_the_officers_pages_are_not_cut_mid_word_at_360_px(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        officer = tabs(OFFICER, size=PHONE, language="ru")
        for path in ("/checkpoint", "/checkpoint/scan", f"/checkpoint/containers/{OTHERS[0]}", "/declarations",
                     "/alerts"):
            officer.go(path)
            assert officer.page.evaluate(BROKEN_WORDS_JS, LABELS) == [], path
            assert officer.page.evaluate(BROKEN_COLUMN_NAMES_JS) == [], path
            assert officer.overflow() == [], path
            shots(officer.page, f"ru-360-{path}")
        officer.watch.assert_clean()
    finally:
        tabs.close()


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
def test_the_arriving_shipments_are_folded_and_open_with_the_keyboard_at_360_px(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots, language: str) -> None:
    tabs = Tabs(browser, loading_portal)
    try:
        officer = tabs(OFFICER, size=PHONE, language=language)
        officer.go("/checkpoint")
        folds = officer.page.locator("#arriving details.declaration-movement")
        assert folds.count() >= 1
        opened = [folds.nth(n).get_attribute("open") is not None for n in range(folds.count())]
        assert opened == [True] + [False] * (len(opened) - 1), "the soonest open, the others folded"
        first, contents = folds.first.locator("summary"), folds.first.locator("table.movements")
        assert "→" in first.inner_text() and contents.is_visible() and officer.overflow() == []
        assert first.evaluate(LINES_OF_PARTS_JS) == [1, 1, 1], "reference, route, planned time: one line each"
        flasks, lines = folds.first.locator("ul.ssccs li").count(), folds.first.locator("ul.ssccs").evaluate(LINES_JS)
        assert flasks >= 2 and lines == (flasks + 1) // 2, "two SSCCs a line"
        first.focus()
        officer.page.keyboard.press("Enter")
        assert folds.first.get_attribute("open") is None and not contents.is_visible()
        officer.page.keyboard.press(" ")
        assert folds.first.get_attribute("open") is not None and contents.is_visible()
        shots(officer.page, "checkpoint-arriving-folded")
        officer.watch.assert_clean()
    finally:
        tabs.close()


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
def test_todays_events_are_two_lines_each_and_the_earlier_ones_open_from_a_fold_at_360_px(
        browser: Browser, loading_portal: DemoPortal, long_day: int, shots: Screenshots, language: str) -> None:
    events, earlier_events, broken_seals, broken = LONG_DAY_SAYS[language]
    shots.know_data_of(loading_portal)
    tabs = Tabs(browser, loading_portal)
    try:
        officer = tabs(OFFICER, size=PHONE, language=language)
        page = officer.page
        officer.go("/checkpoint")
        fold = page.locator(f"#today details[data-fold='events-{long_day}']")
        summary = fold.locator("> summary")
        if fold.get_attribute("open") is None:
            summary.click()
        assert events in summary.inner_text() and summary.locator("strong.bad").inner_text() == broken_seals, \
            "the declaration's fold counts its events and the broken seals, the earlier ones' too"

        latest = fold.evaluate(EVENT_ROWS_JS)
        assert [row["sscc"] for row in latest] == LONG_DAY_FLASKS[:2:-1], "the latest five, newest first"
        assert all(row["lines"] == 2 and row["timeBesideEvent"] and row["sealBesideSscc"] for row in latest), latest
        assert all(len(row["time"]) == 5 and row["time"][2] == ":" for row in latest), "a time, not a date"

        nested = fold.locator("details.earlier-events")
        opener = nested.locator("> summary")
        assert nested.get_attribute("open") is None and nested.locator("tbody tr").first.is_hidden()
        assert opener.inner_text().split("\n")[0].strip() == earlier_events
        assert opener.locator("strong.bad").inner_text() == broken_seals, "the folded broken seals are announced"
        box = opener.bounding_box()
        assert box and box["height"] >= 44, "a thumb-sized target (2.75rem)"
        opener.focus()
        page.keyboard.press("Enter")
        assert nested.get_attribute("open") is not None
        earlier = nested.evaluate(EVENT_ROWS_JS)
        assert [row["sscc"] for row in earlier] == LONG_DAY_FLASKS[2::-1]
        assert all(row["lines"] == 2 and row["sealBesideSscc"] for row in earlier), earlier
        seals = nested.locator("td.seal strong.bad")
        assert seals.count() == 2 and seals.first.is_visible() and seals.first.inner_text() == broken

        assert officer.overflow() == []
        assert page.evaluate(BROKEN_WORDS_JS, f"{LABELS}, #today td") == []
        if language != "en":
            assert untranslated(page, shots.data_names) == []
        shots(page, f"checkpoint-earlier-events-{language}")
        officer.watch.assert_clean()
    finally:
        tabs.close()


def test_the_receipt_asks_for_every_seal_and_is_reviewed_before_filing(
        browser: Browser, loading_portal: DemoPortal, shots: Screenshots) -> None:
    with loading_portal.sessions() as session:
        arrived = session.scalars(select(Declaration).where(Declaration.status == DeclarationStatus.ARRIVED)).first()
        assert arrived is not None
        login = next(u.login for u in session.scalars(select(User).where(User.dealer_id == arrived.consignee_id))
                     if u.login in loading_portal.passwords)
        declaration_id, ssccs = arrived.id, [i.container.sscc for i in arrived.items]
    tabs = Tabs(browser, loading_portal)
    try:
        for size in (PHONE, DESKTOP):
            trader = tabs(login, size=size)
            page = trader.page
            trader.go(f"/declarations/{declaration_id}/receipt")
            assert page.locator("input[type=radio]:checked").count() == 0
            for sscc in ssccs:
                page.locator(f"#received-{sscc}").fill("34.5")
                page.locator(f"#seal-{sscc}-intact").check()
            page.locator("#remarks").fill("Weighed on the bonded scale.")
            page.locator("#review-receipt").click()
            page.wait_for_load_state()
            assert page.locator("#file-receipt").is_visible() and page.locator("#change-receipt").is_visible()
            assert "Weighed on the bonded scale." in page.locator("#review-remarks").inner_text()
            assert trader.overflow() == []
            shots(page, f"receipt-review-{size['width']}")
            page.locator("#change-receipt").click()  # back to the form: the shared demo stays unfiled
            page.wait_for_load_state()
            assert page.locator(f"#seal-{ssccs[0]}-intact").is_checked()
            trader.watch.assert_clean()
    finally:
        tabs.close()
