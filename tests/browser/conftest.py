"""Browser-test fixtures: the real portal on a live server, driven by Playwright in Debian's chromium.

The portal is the project's own app on a file SQLite database with the demo loaded, served
by werkzeug in a thread on 127.0.0.1 (tests/scanner/tracker_server.py). The browser is Debian's
``chromium`` (installed by scripts/bootstrap.sh; a test tool's own browser download cannot
work offline). Under CI=true a missing chromium fails the browser tests; elsewhere they skip.

Every page a test opens is watched: a console error (CSP violations included), an uncaught
script error, a failed response or a request to any host but the portal's is a problem the
test reports. Screenshots go to test-artifacts/browser/<test>/<nn>-<step>.png.
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timedelta
from typing import Any, Callable, ClassVar, Iterator, Sequence
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    sync_playwright,
)
from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import need_service
from tests.scanner.tracker_server import running_tracker
from tracker.domain.demo import load_demo
from tracker.models import (
    Beacon, Checkpoint, Container, ContainerType, Dealer, Declaration, DeclarationItem, DeclarationKind,
    DeclarationStatus, ExpectedCheckpoint, User, Zone,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 360, "height": 740}        # an officer's phone
DESKTOP = {"width": 1280, "height": 800}     # the ministry's screens
#: Browsers ask for /favicon.ico by themselves; the portal has none (a 404 the user never sees).
UNASKED = ("/favicon.ico",)
CYRILLIC = re.compile(r"[а-яА-ЯёЁңҢөӨүҮ]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z]{2,}\b")
#: The languages a page is translated into: their pages may leave no interface word in English.
TRANSLATED = {"ru": "Russian", "ky": "Kyrgyz"}
#: The words of the interface (not the data shown in it) that must be Russian on a Russian page.
INTERFACE_TEXT = "main h1, main h2, main h3, label, legend, button, th, dt, nav a, .hint, .empty, .flash"
#: Texts not translated on purpose: the language switch names English in English.
DATA_TEXTS = {"English"}
#: Report CSP violations as console errors even where chromium would only count them.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"""
#: What scrolls sideways: the page itself (the outermost elements sticking out) or a box inside it (a
#: card or table cut off behind its own scroll bar). The menu may scroll, and a map pans by design.
OVERFLOW_JS = """
() => {
  const describe = (el, extra) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' (' + extra + ')';
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      const parent = el.parentElement && el.parentElement.getBoundingClientRect();
      if (box.width > 0 && box.right > width + 1 && !(parent && parent.right > width + 1)) {
        found.push(describe(el, 'right edge at ' + Math.round(box.right) + ' px'));
      }
    }
    if (!found.length) found.push('document (' + document.documentElement.scrollWidth + ' px)');
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('nav.menu, .leaflet-container') || el.matches('input, select, textarea')) continue;
    const style = getComputedStyle(el).overflowX;
    // clientWidth > 2: not the 1 px boxes of visually hidden labels
    if (style !== 'visible' && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 2) {
      const box = el.getBoundingClientRect();
      const edge = box.left + el.clientWidth - parseFloat(getComputedStyle(el).paddingRight);
      const out = (e) => e.getBoundingClientRect().right > edge + 1;
      const culprit = [...el.querySelectorAll('*')].find((e) => out(e) && ![...e.children].some(out));
      const widest = culprit ? ', widest: ' + describe(culprit, (culprit.innerText || '').trim().slice(0, 30)) : '';
      found.push(describe(el, el.scrollWidth + ' px of content in ' + el.clientWidth + ' px' + widest));
    }
  }
  return found.slice(0, 8);
}
"""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are, when a browser test of this run took any."""
    if Screenshots.folders:
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")


# ---------------------------------------------------------------- the portal
@dataclass
class DemoPortal:
    """The portal served over HTTP with the demo loaded, and the demo accounts' passwords."""

    url: str
    sessions: sessionmaker[Session]
    passwords: dict[str, str]
    database_url: str
    path: Path

    def address(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this portal."""
        return self.url + path


@contextmanager
def serving_demo(tmp_path: Path) -> Iterator[DemoPortal]:
    """Serve the tracker on a fresh SQLite file in ``tmp_path`` with the demo loaded."""
    with running_tracker(tmp_path) as tracker:
        with tracker.sessions() as session:
            accounts = load_demo(session).accounts
            session.commit()
        yield DemoPortal(tracker.url, tracker.sessions, {a.login: a.password for a in accounts},
                         f"sqlite:///{tmp_path / 'tracker.sqlite3'}", tmp_path)


def shipment_through_osh(session: Session, reference: str, ssccs: Sequence[str], start: datetime) -> Declaration:
    """Add (and flush) a declaration in transit from Irkeshtam through Osh to Bishkek, of full 34.5 kg flasks.

    The demo's first dealer sends it to the second; it departed at ``start`` and is due a day later.
    """
    osh, bishkek, origin = (session.scalars(select(Checkpoint).where(Checkpoint.code == code)).one()
                            for code in ("OSH", "BISHKEK", "IRKESHTAM"))
    seller, buyer = session.scalars(select(Dealer).order_by(Dealer.id).limit(2)).all()
    declaration = Declaration(
        kind=DeclarationKind.DOMESTIC, status=DeclarationStatus.IN_TRANSIT, reference=reference,
        declarant=seller, consignor=seller, consignee=buyer, origin=origin, destination=bishkek,
        route=LineString([(origin.lon, origin.lat), (osh.lon, osh.lat), (bishkek.lon, bishkek.lat)]),
        planned_departure=start, planned_arrival=start + timedelta(days=1))
    declaration.items = [DeclarationItem(container=Container(
        sscc=sscc, container_type=ContainerType.FLASK_34_5KG, tare_g=2_700, capacity_g=34_500, net_g=34_500,
        owner_id=seller.id, custodian_id=seller.id), declared_net_g=34_500) for sscc in ssccs]
    declaration.expected_checkpoints = [ExpectedCheckpoint(checkpoint=osh, seq=1)]
    session.add(declaration)
    session.flush()
    return declaration


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPortal]:
    """The demo portal shared by the page tests (they read; what they change they put back)."""
    with serving_demo(tmp_path_factory.mktemp("portal")) as served:
        yield served


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, with no network of its own (skipped, or failed under CI, if absent).

    One per test module: Playwright's synchronous API keeps an event loop running in the main
    thread while it is open, and later tests that start their own (asyncio.run) must not find it.
    """
    need_service("Chromium", CHROMIUM.exists(), os.access(CHROMIUM, os.X_OK),
                 f"install Debian's chromium at {CHROMIUM} (scripts/bootstrap.sh does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """What went wrong in a browser context: console errors, script errors, bad responses, foreign hosts."""

    origin: str
    problems: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def attach(self, context: BrowserContext) -> None:
        """Listen on every page of ``context``; refuse requests to any other host."""
        context.add_init_script(CSP_LISTENER)
        context.route(lambda url: not self._ours(url), self._refuse)
        context.on("page", self._watch_page)
        context.on("response", self._response)

    def _ours(self, url: str) -> bool:
        return url.startswith(self.origin + "/") or url == self.origin or urlsplit(url).scheme in ("data", "blob")

    def _refuse(self, route: Route, request: Request) -> None:
        self.problems.append(f"request to another host: {request.url}")
        route.abort()

    def _watch_page(self, page: Page) -> None:
        page.on("console", lambda message: self._console(message, page))
        page.on("pageerror", lambda error: self.problems.append(f"script error on {page.url}: {error}"))

    def _console(self, message: ConsoleMessage, page: Page) -> None:
        # A failed load is judged in _response, which knows the URL and the status.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console error on {page.url}: {message.text}")

    def _response(self, response: Response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and path not in UNASKED and response.status not in self.allowed_statuses:
            self.problems.append(f"HTTP {response.status} for {response.request.method} {response.url}")

    def allow(self, *statuses: int) -> None:
        """Accept these statuses from now on (a test that submits a form meant to be refused)."""
        self.allowed_statuses.update(statuses)

    def take(self) -> list[str]:
        """Return the problems seen so far and forget them."""
        seen, self.problems = self.problems, []
        return seen

    def assert_clean(self) -> None:
        """Fail naming every problem seen so far."""
        seen = self.take()
        assert not seen, "browser problems:\n  " + "\n  ".join(seen)


class Screenshots:
    """Numbered full-page screenshots of one test: test-artifacts/browser/<test>/<nn>-<step>.png.

    A Russian or Kyrgyz page's interface words (headings, labels, buttons, column titles) left in English are
    written to notes.txt beside the screenshots; so is anything a test adds with :meth:`note`.
    """

    folders: ClassVar[list[Path]] = []   # made in this run, for the summary

    def __init__(self, folder: Path) -> None:
        Screenshots.folders.append(folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0
        self.notes: list[str] = []
        self.data_names: list[str] = sorted(DATA_TEXTS)

    def __call__(self, page: Page, step: str) -> Path:
        """Save ``page`` as the next numbered step and return the file."""
        self.count += 1
        name = re.sub(r"[^\w.-]+", "-", step).strip("-").lower()
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        language = page.locator("html").get_attribute("lang")
        if language in TRANSLATED and (english := untranslated(page, self.data_names)):
            self.note(f"{path.name} ({urlsplit(page.url).path}): not in {TRANSLATED[language]}: {' | '.join(english)}")
        return path

    def know_data_of(self, portal: DemoPortal) -> None:
        """Take the portal's names (dealers, places, people, devices) as data, not words to translate."""
        self.data_names = data_names(portal)

    def note(self, text: str) -> None:
        """Add a line to notes.txt (a finding that does not fail the test)."""
        self.notes.append(text)
        (self.folder / "notes.txt").write_text("\n".join(self.notes) + "\n")


def data_names(portal: DemoPortal) -> list[str]:
    """Return the names the data spells its own way (dealers, places, people, devices), longest first."""
    with portal.sessions() as session:
        names = [*session.scalars(select(Dealer.legal_name)), *session.scalars(select(Checkpoint.name)),
                 *session.scalars(select(User.name)), *session.scalars(select(Beacon.description)),
                 *session.scalars(select(Zone.name))]
    return sorted({name for name in names if name} | DATA_TEXTS, key=len, reverse=True)


def untranslated(page: Page, names: list[str]) -> list[str]:
    """Return the page's interface texts with no Russian or Kyrgyz word in them.

    Codes, abbreviations (SSCC, GPX) and data (``names``, in their own spelling) are not words to
    translate, so only texts left with a lower-case Latin word of three letters or more count.
    """
    found = set()
    for text in page.locator(INTERFACE_TEXT).evaluate_all("els => els.map(e => e.innerText.trim())"):
        rest = text
        for name in names:
            rest = rest.replace(name, "")
        if ENGLISH_WORD.search(rest) and not CYRILLIC.search(rest):
            found.add(text)
    return sorted(found)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    """The screenshot helper of this test."""
    return Screenshots(ARTIFACTS / re.sub(r"[^\w.-]+", "-", request.node.name).strip("-"))


@dataclass
class Visitor:
    """A signed-in (or anonymous) browser tab on the portal, with its watch."""

    page: Page
    watch: Watch
    portal: DemoPortal

    def go(self, path: str, expect_status: int = 200) -> Response | None:
        """Open ``path`` (relative to the portal) and check the answer's status."""
        response = self.page.goto(self.portal.address(path))
        assert response is not None and response.status == expect_status, \
            f"{path}: HTTP {response.status if response else None}"
        return response

    @property
    def language(self) -> str:
        """Return the language of the page shown (its <html lang>)."""
        return self.page.locator("html").get_attribute("lang") or ""

    def switch_language(self, code: str) -> None:
        """Choose ``code`` ("en", "ru", "ky") with the switcher in the header, unless it is shown already."""
        if self.language != code:
            self.page.locator(f"form.language button[value='{code}']").click()
            self.page.wait_for_load_state()
        assert self.language == code

    def sign_in(self, login: str, language: str = "en") -> None:
        """Sign in through the login form, then show the portal in ``language``."""
        self.go("/login")
        self.page.locator("input[name='login']").fill(login)
        self.page.locator("input[name='password']").fill(self.portal.passwords[login])
        self.page.locator("form:has(input[name='password']) button[type='submit']").click()
        self.page.wait_for_load_state()
        assert urlsplit(self.page.url).path == "/", f"{login} could not sign in: {self.page.url}"
        self.switch_language(language)

    def sign_out(self) -> None:
        """Sign out with the header's button."""
        self.page.locator("form[action$='/logout'] button").click()
        self.page.wait_for_load_state()

    def overflow(self) -> list[str]:
        """Return what scrolls sideways: the page, or a box in it (empty: nothing does)."""
        return list(self.page.evaluate(OVERFLOW_JS))


class Tabs:
    """Browser tabs on one portal, each in a fresh context (its own cookies) with its own watch."""

    def __init__(self, browser: Browser, portal: DemoPortal) -> None:
        self.browser, self.portal = browser, portal
        self.contexts: list[BrowserContext] = []

    def __call__(self, login: str | None = None, size: dict[str, int] | None = None,
                 language: str = "en") -> Visitor:
        """Open a tab of ``size`` (desktop by default), signed in as ``login`` in ``language`` if given."""
        context = self.browser.new_context(viewport=size or DESKTOP, locale="en-US", timezone_id="Asia/Bishkek")
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        watch = Watch(self.portal.url)
        watch.attach(context)
        tab = Visitor(context.new_page(), watch, self.portal)
        if login is not None:
            tab.sign_in(login, language)
        return tab

    def close(self) -> None:
        """Close every tab."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def visit(browser: Browser, portal: DemoPortal) -> Iterator[Tabs]:
    """Open tabs on the shared demo portal: ``visit("admin", size=PHONE, language="ru")``."""
    tabs = Tabs(browser, portal)
    yield tabs
    tabs.close()


@pytest.fixture
def visit_portal(browser: Browser) -> Iterator[Callable[[DemoPortal], Tabs]]:
    """Open tabs on a portal of the test's own: ``visit = visit_portal(portal)``."""
    made: list[Tabs] = []

    def on(portal: DemoPortal) -> Tabs:
        made.append(Tabs(browser, portal))
        return made[-1]

    yield on
    for tabs in made:
        tabs.close()
