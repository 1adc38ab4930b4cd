"""The mass balance, the records behind a figure, the reconciliation and the exports page in a real browser:
nothing scrolls sideways at phone width, Russian and Kyrgyz pages leave no interface word in English, no policy is broken."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Screenshots, Tabs, untranslated

pytestmark = pytest.mark.browser
YEAR = f"from={(date.today() - timedelta(days=400)).isoformat()}&to={date.today().isoformat()}"


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_books_pages_fit_the_screen_and_drill_down(visit: Tabs, shots: Screenshots, language: str,
                                                       size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    tab = visit("auditor", size=size, language=language)
    for path, name in ((f"/audit/balance?{YEAR}", "balance"), (f"/audit/reconciliation?{YEAR}", "reconciliation"),
                       (f"/audit/exports?{YEAR}", "exports")):
        tab.go(path)
        shots(tab.page, f"{name}-{language}")
        assert tab.overflow() == [], name
        if language != "en":
            assert untranslated(tab.page, shots.data_names) == [], name
    tab.go(f"/audit/balance?{YEAR}")
    link = tab.page.locator("#balance-national a[data-figure='closing']")
    grams = link.get_attribute("data-grams")
    link.click()
    tab.page.wait_for_load_state()
    assert tab.page.locator("#records-sum").get_attribute("data-grams") == grams
    shots(tab.page, f"records-{language}")
    assert tab.overflow() == []
    if language != "en":
        assert untranslated(tab.page, shots.data_names) == []
    tab.watch.assert_clean()


def test_a_trader_sees_only_their_own_balance(visit: Tabs, shots: Screenshots) -> None:
    tab = visit("trader.khaidarkan", size=PHONE)
    tab.go(f"/audit/balance?{YEAR}")
    assert tab.page.locator("#balance-table tbody tr").count() == 1
    assert tab.page.locator("#balance-national").count() == 0
    shots(tab.page, "trader-balance")
    assert tab.overflow() == []
    tab.watch.allow(403)
    tab.go("/audit/reconciliation", expect_status=403)
    tab.watch.assert_clean()
