"""The trip replay in a real browser: speed from 1× to 60× of real time, the list of fixes beside the
map (a click puts the replay there), and "jump to" an alert of the trip, on a phone and a desktop, in
English and Russian."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Screenshots, Tabs, untranslated
from tests.browser.test_audit_replay import tracked_declaration
from tracker.domain.audit.compliance import compliance
from tracker.domain.audit.replay import trip_alerts
from tracker.models import User

pytestmark = pytest.mark.browser
BISHKEK = ZoneInfo("Asia/Bishkek")


def clock_text(epoch: float) -> str:
    """Return the time of day the replay shows for ``epoch`` (its date is written per language)."""
    return datetime.fromtimestamp(epoch, BISHKEK).strftime("%H:%M:%S")


def first_alert(visit: Tabs, declaration_id: int) -> tuple[int, float]:
    """Return the id of the trip's first alert and the moment the replay jumps to for it."""
    with visit.portal.sessions() as session:
        auditor = session.query(User).filter_by(login="auditor").one()
        alerts = trip_alerts(session, compliance(session, auditor, declaration_id))
        assert alerts, "the demo's tracked trip has an alert (its signal gap)"
        return alerts[0].alert.id, alerts[0].start.timestamp()


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_replay_speed_fix_list_and_jump_to_an_alert(visit: Tabs, shots: Screenshots, language: str,
                                                    size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    declaration_id = tracked_declaration(visit)
    alert_id, alert_start = first_alert(visit, declaration_id)
    tab = visit("auditor", size=size, language=language)
    page = tab.page
    page.clock.install()
    tab.go(f"/declarations/{declaration_id}/compliance")
    page.wait_for_selector("#replay[data-replay-ready='true']")
    track = page.evaluate(f"fetch('/declarations/{declaration_id}/track.json').then(r => r.json())")
    slider, play = page.locator("#replay-slider"), page.locator("#replay-play")

    fixes = page.locator("#replay-fixes > li")
    assert fixes.count() == len(track)
    fixes.nth(10).locator("button").click()
    assert clock_text(track[10][0]) in page.locator("#replay-time").inner_text()
    assert fixes.nth(10).get_attribute("aria-current") == "true"

    page.locator(f"#replay-alerts li[data-alert-id='{alert_id}'] button").click()
    assert clock_text(alert_start) in page.locator("#replay-time").inner_text()
    assert int(slider.input_value()) == int(alert_start - track[0][0])
    shots(page, f"replay-at-alert-{language}")

    page.clock.pause_at(page.evaluate("Date.now()") + 1_000)
    for speed, expected in (("1", {9, 10}), ("60", {600})):
        page.locator("#replay-speed").select_option(speed)
        slider.fill("0")
        play.click()
        page.clock.run_for(10_000)                                   # ten seconds of the browser's clock
        play.click()
        assert int(slider.input_value()) in expected, f"{speed}×: {slider.input_value()} s of trip"
    assert tab.overflow() == []
    if language != "en":
        assert untranslated(page, shots.data_names) == []
    tab.watch.assert_clean()
