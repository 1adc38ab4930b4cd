"""The route-compliance page in a real browser: the map draws, the replay's slider and play button move
a marker along the track and show the time, the page fits a phone, Russian and Kyrgyz leave no interface word in
English, and nothing breaks the security policy."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.conftest import DESKTOP, PHONE, Screenshots, Tabs, untranslated
from tracker.models import Position

pytestmark = pytest.mark.browser


def tracked_declaration(visit: Tabs) -> int:
    """Return the demo declaration with the most fixes."""
    with visit.portal.sessions() as session:
        return session.execute(select(Position.declaration_id).where(Position.declaration_id.is_not(None))
                               .group_by(Position.declaration_id).order_by(func.count().desc()).limit(1)).scalar_one()


#: The replay slider's label in each language.
SLIDER = {"en": "Time on the trip", "ru": "Момент перевозки", "ky": "Ташуудагы учур"}


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_replay_moves_a_marker_along_the_track(visit: Tabs, shots: Screenshots, language: str,
                                                   size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    declaration_id = tracked_declaration(visit)
    tab = visit("auditor", size=size, language=language)
    tab.go(f"/declarations/{declaration_id}")
    tab.page.locator("#route-compliance").click()
    tab.page.wait_for_selector("#compliance-map[data-map-ready='true']")
    tab.page.wait_for_selector("#replay[data-replay-ready='true']")
    assert "track" in (tab.page.locator("#compliance-map").get_attribute("data-layers") or "").split()
    slider = tab.page.get_by_label(SLIDER[language])
    assert slider.is_enabled()
    marker = tab.page.locator("#compliance-map path.replay-marker")
    assert marker.count() == 1
    start = marker.get_attribute("d")

    track = tab.page.evaluate(f"fetch('/declarations/{declaration_id}/track.json').then(r => r.json())")
    end = track[-1][0] - track[0][0]
    slider.fill(str(int(end)))
    last = datetime.fromtimestamp(track[0][0] + int(end), ZoneInfo("Asia/Bishkek"))
    assert last.strftime("%H:%M:%S") in tab.page.locator("#replay-time").inner_text()
    assert tab.page.locator("#replay").get_attribute("data-fix-index") in (str(len(track) - 1), str(len(track) - 2))
    assert marker.get_attribute("d") != start

    slider.fill("0")
    tab.page.locator("#replay-play").click()
    expect(tab.page.locator("#replay-slider")).not_to_have_value("0")
    tab.page.locator("#replay-play").click()                       # pause
    paused = tab.page.locator("#replay-slider").input_value()
    tab.page.wait_for_timeout(300)
    assert tab.page.locator("#replay-slider").input_value() == paused
    shots(tab.page, f"compliance-{language}")
    assert tab.overflow() == []
    if language != "en":
        assert untranslated(tab.page, shots.data_names) == []
    tab.watch.assert_clean()


def test_the_pdf_downloads_from_the_page(visit: Tabs) -> None:
    declaration_id = tracked_declaration(visit)
    tab = visit("auditor")
    tab.go(f"/declarations/{declaration_id}/compliance")
    href = tab.page.locator("#compliance-pdf").get_attribute("href")
    response = tab.page.request.get(visit.portal.address(href or ""))
    assert response.status == 200 and response.body().startswith(b"%PDF")
    tab.watch.assert_clean()
