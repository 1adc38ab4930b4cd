"""The auditor's Now and Flows pages in a real browser: the maps draw, nothing scrolls sideways at phone
width, the Russian and Kyrgyz pages leave no interface word in English, and the pages break no security policy."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Screenshots, Tabs, untranslated

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_now_draws_the_last_positions_and_fits_the_screen(visit: Tabs, shots: Screenshots, language: str,
                                                          size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    tab = visit("auditor", size=size, language=language)
    tab.go("/audit/now")
    tab.page.wait_for_selector("#now-map[data-map-ready='true']")
    markers = tab.page.locator("#now-map .marker-in_transit")
    drawn = tab.page.locator("#now-geojson").evaluate(
        "e => JSON.parse(e.textContent).features.filter(f => f.properties.layer === 'in_transit').length")
    assert markers.count() == drawn
    assert markers.count() >= 1, "the demo has a declaration on the road"
    assert tab.page.locator("#now-map path.layer-route").count() >= 1             # its declared route
    assert tab.page.locator("#now-map .map-name").count() >= 2                    # its checkpoints, named
    assert tab.page.locator("#now-map .marker-in_transit.age-fresh, #now-map .marker-in_transit.age-stale, "
                            "#now-map .marker-in_transit.age-lost").count() == markers.count()
    markers.first.click()
    assert tab.page.locator(".leaflet-popup-content a").first.is_visible()
    shots(tab.page, f"now-{language}")
    assert tab.overflow() == []
    if language != "en":
        assert untranslated(tab.page, shots.data_names) == []
    tab.watch.assert_clean()


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_flows_draw_lines_as_wide_as_their_mass_and_filter(visit: Tabs, shots: Screenshots, language: str,
                                                          size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    tab = visit("auditor", size=size, language=language)
    tab.go("/audit/flows")
    tab.page.wait_for_selector("#flows-map[data-map-ready='true']")
    lines = tab.page.locator("#flows-map path.layer-flow")
    assert lines.count() >= 1, "the demo has departed declarations"
    widths = {float(w) for w in lines.evaluate_all(
        "els => els.map(e => getComputedStyle(e).strokeWidth.replace('px', ''))")}
    assert max(widths) == 14.0
    shots(tab.page, f"flows-{language}")
    assert tab.overflow() == []
    if language != "en":
        assert untranslated(tab.page, shots.data_names) == []

    tab.page.select_option("#flows-kind", "import")
    tab.page.locator("#flows-apply").click()
    tab.page.wait_for_load_state()
    assert "kind=import" in tab.page.url
    assert tab.page.locator("#flows-kind").input_value() == "import"
    tab.watch.assert_clean()


def test_a_trader_is_refused_the_audit_pages(visit: Tabs) -> None:
    tab = visit("trader.khaidarkan")
    tab.watch.allow(403)
    tab.go("/audit/now", expect_status=403)
    tab.go("/audit/flows", expect_status=403)
    tab.watch.assert_clean()
