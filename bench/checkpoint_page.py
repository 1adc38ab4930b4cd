"""Checkpoint page at a busy post: how tall the officer's page is on a 360 px phone.

Run from the checkout:  .venv/bin/python bench/checkpoint_page.py [--declarations 25] [--language en]

Serves the demo (as the browser tests do), records two inspections today at Osh for each of
``--declarations`` shipments in transit through it (one seal broken), and opens /checkpoint as
officer.osh in Debian's chromium at 360 x 740. Prints the page's height in pixels (and of its "Arriving or passing" and
"Recorded here today" sections), the number of declaration groups and of event rows, and how many rows are shown without
opening a fold (of today's events, and of the arriving declarations' contents; a declaration's earlier events are in a
fold of their own). ``--declarations 0`` measures the demo alone (its one declaration has 20 events today).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, PHONE, serving_demo, shipment_through_osh  # noqa: E402
from tracker.domain.custody import record_custody_event  # noqa: E402
from tracker.domain.gs1 import make_sscc  # noqa: E402
from tracker.models import User  # noqa: E402

OFFICER = "officer.osh"


def busy_day(portal, count: int) -> None:  # type: ignore[no-untyped-def]
    """Add ``count`` two-flask shipments passing Osh, each inspected twice there today."""
    with portal.sessions() as session:
        officer = session.scalars(select(User).where(User.login == OFFICER)).one()
        start = datetime.now(timezone.utc) - timedelta(hours=6)
        midnight = datetime.now(ZoneInfo("Asia/Bishkek")).replace(hour=0, minute=0, second=0, microsecond=0)
        for n in range(count):
            flasks = [make_sscc(0, "4700099", n * 2 + k) for k in (1, 2)]
            shipment_through_osh(session, f"26KGHG0009{n:06d}0", flasks, start)
            for flask, seal in zip(flasks, (True, False)):
                at = midnight + (datetime.now(ZoneInfo("Asia/Bishkek")) - midnight) * (n + 1) / (count + 2)
                record_custody_event(session, officer, {
                    "client_event_id": uuid.uuid4().hex, "sscc": flask, "checkpoint": "OSH",
                    "kind": "inspection", "seal_intact": seal, "event_time": at.isoformat(timespec="seconds")})
        session.commit()


def measure(portal, language: str = "en") -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Open /checkpoint as the officer at 360 px in ``language`` and measure it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=PHONE, timezone_id="Asia/Bishkek").new_page()
        page.goto(portal.address("/login"))
        page.fill("input[name='login']", OFFICER)
        page.fill("input[name='password']", portal.passwords[OFFICER])
        page.click("form:has(input[name='password']) button[type='submit']")
        page.wait_for_load_state()
        if language != "en":
            page.click(f"form.language button[value='{language}']")
            page.wait_for_load_state()
        page.goto(portal.address("/checkpoint"))
        figures = page.evaluate("""() => ({
            height: document.documentElement.scrollHeight,
            today: Math.round(document.getElementById('today').getBoundingClientRect().height),
            arriving: Math.round(document.getElementById('arriving').getBoundingClientRect().height),
            arrivingShown: [...document.querySelectorAll('#arriving tbody tr')].filter((r) => r.checkVisibility()).length,
            groups: document.querySelectorAll('#today details.declaration-events, #today h3').length,
            rows: document.querySelectorAll('#today tbody tr').length,
            shown: [...document.querySelectorAll('#today tbody tr')].filter((r) => r.checkVisibility()).length})""")
        browser.close()
        return figures


def main(argv: list[str] | None = None) -> None:
    """Build the busy day, measure the page, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=25)
    parser.add_argument("--language", choices=["en", "ru", "ky"], default="en")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, serving_demo(Path(folder)) as portal:
        busy_day(portal, args.declarations)
        figures = measure(portal, args.language)
    print(f"/checkpoint at 360 px ({args.language}), {args.declarations} declarations x 2 events today: "
          f"{figures['height']} px tall (arriving: {figures['arriving']} px, {figures['arrivingShown']} declarations shown unfolded; "
          f"today's events: {figures['today']} px), {figures['groups']} groups, {figures['rows']} event rows, "
          f"{figures['shown']} shown unfolded")


if __name__ == "__main__":
    main()
