"""The bell in a real browser, at a phone's 360 px and at desktop width, in English and Russian; its count
follows new notifications without a reload."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select

from tests.browser.conftest import DESKTOP, PHONE, DemoPortal, Screenshots, Tabs, Visitor, serving_demo
from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.notifications.fanout import fan_out
from tracker.models import Declaration, DeclarationStatus, Notification, User

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def notified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPortal]:
    """A demo portal of this module's own whose demo alerts the deliverer has fanned out (the bell changes)."""
    with serving_demo(tmp_path_factory.mktemp("notified")) as portal:
        with portal.sessions() as session:
            fan_out(session, email_on=False)
            session.commit()
        yield portal


def unread(portal: DemoPortal, login: str) -> int:
    """How many unread notifications ``login`` has in the database."""
    with portal.sessions() as session:
        return session.scalar(select(func.count()).select_from(Notification).join(User).where(
            User.login == login, Notification.read_at.is_(None))) or 0


def bell_number(tab: Visitor) -> str:
    """The number the header's bell shows ("" for none)."""
    count = tab.page.locator("#bell .bell-count")
    return count.inner_text() if count.count() else ""


#: The notifications' page title, and how the bell's label begins, in each language.
TITLE = {"en": "Notifications", "ru": "Уведомления", "ky": "Билдирмелер"}


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_bell_counts_and_opens_notifications(notified: DemoPortal, visit_portal: Callable[[DemoPortal], Tabs],
                                                  shots: Screenshots, size: dict[str, int], language: str) -> None:
    shots.know_data_of(notified)
    login = "auditor"
    before = unread(notified, login)
    assert before >= 1, "the demo's critical alerts concern the auditor"
    tab = visit_portal(notified)(login, size=size, language=language)
    assert bell_number(tab) == str(before)
    assert tab.page.locator("#bell").is_visible() and tab.overflow() == []
    shots(tab.page, "bell")
    tab.page.locator("#bell").click()
    tab.page.wait_for_load_state()
    assert tab.page.locator("main h1").inner_text() == TITLE[language]
    assert tab.page.locator("li.notification.unread").count() == before
    assert tab.overflow() == []
    shots(tab.page, "list")
    tab.page.locator("li.notification.unread .what a").first.click()
    tab.page.wait_for_load_state()
    assert "/alerts/" in tab.page.url
    assert bell_number(tab) == (str(before - 1) if before > 1 else "")
    tab.go("/notifications/preferences")
    assert tab.page.locator("#webhooks").is_visible() and tab.page.locator("#email-off").is_visible()
    assert tab.overflow() == []
    shots(tab.page, "preferences")
    tab.page.locator("#subject").select_option("alert_kind")
    tab.page.locator("#value_alert_kind").select_option("late")
    tab.page.locator("#follow").click()
    tab.page.wait_for_load_state()
    assert tab.page.locator("ul.follows li").count() >= 1
    tab.watch.assert_clean()
    with notified.sessions() as session:                 # put the page back as it was for the other width
        session.execute(Notification.__table__.update().values(read_at=None))
        session.commit()


#: Counts the page's server-sent event streams (the page must open one at most).
COUNT_STREAMS = """(() => { const Original = window.EventSource; window.streams = [];
  window.EventSource = function (url, options) { window.streams.push(url); return new Original(url, options); };
  window.EventSource.prototype = Original.prototype; window.EventSource.CLOSED = Original.CLOSED; })();"""


def alert_the_auditor(portal: DemoPortal) -> None:
    """Open a critical alert and fan it out as the deliverer does: the auditor is notified."""
    with portal.sessions() as session:
        declaration = session.scalars(select(Declaration).where(
            Declaration.status == DeclarationStatus.IN_TRANSIT)).first()
        open_alert(session, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
        session.commit()
        fan_out(session, email_on=False)
        session.commit()


@pytest.mark.parametrize("path, stream", [("/", "topic=notifications"), ("/audit/now", "topic=now")],
                         ids=["home", "now"])
@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_bell_counts_a_new_notification_without_a_reload(
        notified: DemoPortal, visit_portal: Callable[[DemoPortal], Tabs], shots: Screenshots,
        size: dict[str, int], path: str, stream: str, language: str) -> None:
    shots.know_data_of(notified)
    tab = visit_portal(notified)("auditor", size=size, language=language)
    tab.page.context.add_init_script(COUNT_STREAMS)
    tab.go(path)
    before = unread(notified, "auditor")
    assert bell_number(tab) == str(before)
    tab.page.wait_for_function("() => window.streams.length > 0")
    tab.page.wait_for_timeout(500)  # the stream has opened and sent the count it starts with
    tab.page.evaluate("window.sameDocument = true")  # gone if the page were loaded again
    alert_the_auditor(notified)
    tab.page.wait_for_function(f"() => (document.querySelector('#bell .bell-count') || {{}}).textContent"
                               f" === '{before + 1}'", timeout=5_000)
    assert tab.page.evaluate("window.sameDocument")
    label = tab.page.locator("#bell").get_attribute("aria-label") or ""
    assert label.startswith(f"{TITLE[language]}: {before + 1} "), label  # the server's words, in the reader's language
    streams = tab.page.evaluate("window.streams")
    assert len(streams) == 1 and stream in streams[0], streams
    assert tab.page.locator("#bell").is_visible() and tab.overflow() == []
    shots(tab.page, "bell-live")
    tab.watch.assert_clean()
