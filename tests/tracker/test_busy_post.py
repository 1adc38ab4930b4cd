"""A busy post: the officer's checkpoint page and the custody-events API cost the same number of
statements however many declarations and events there are; long lists are paged, events grouped."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tracker.domain.custody import record_custody_event
from tracker.models import Checkpoint, Declaration, DeclarationItem, ExpectedCheckpoint, User

pytestmark = pytest.mark.usefixtures("fast_passwords")


def today_at(share: float) -> str:
    """A moment of today in Bishkek (the officer's time zone), ``share`` of the way from midnight to now."""
    now = datetime.now(ZoneInfo("Asia/Bishkek"))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + (now - midnight) * share).isoformat(timespec="seconds")


@pytest.fixture
def officer(make_user: Callable[..., User]) -> User:
    return make_user("customs_officer")


@pytest.fixture
def busy_post(db: Session, officer: User, make_declaration: Callable[..., Declaration],
              make_container: Callable[..., Any]) -> Callable[[int], list[Declaration]]:
    """Add ``count`` shipments of two flasks each at the officer's post: departing, arriving and passing,
    and two scans today of each in-transit one (one flask's seal broken: an alert)."""
    post: Checkpoint = officer.checkpoints[0]

    def two_flasks(**kw: Any) -> Declaration:
        declaration = make_declaration(**kw)
        declaration.items.append(DeclarationItem(container=make_container(owner=declaration.declarant),
                                                 declared_net_g=34_500))
        return declaration

    def add(count: int) -> list[Declaration]:
        arriving = []
        for _ in range(count):
            two_flasks(status="approved", origin=post)
            arriving.append(two_flasks(status="in_transit", destination=post))
            passing = two_flasks(status="in_transit")
            passing.expected_checkpoints = [ExpectedCheckpoint(checkpoint=post, seq=1)]
        db.flush()
        for n, declaration in enumerate(arriving):
            for flask, seal in zip(declaration.items, (True, False)):
                record_custody_event(db, officer, {
                    "client_event_id": uuid.uuid4().hex, "sscc": flask.container.sscc, "checkpoint": post.code,
                    "kind": "inspection", "seal_intact": seal, "event_time": today_at((n + 1) / (count + 1))})
        db.flush()
        return arriving

    return add


def statements_for(client: FlaskClient, path: str, statements: list[str]) -> int:
    """How many statements one request for ``path`` sends (the second of two: nothing cached by the first)."""
    assert client.get(path).status_code == 200
    statements.clear()
    assert client.get(path).status_code == 200
    return len(statements)


def today(page: str) -> str:
    """The page's section of today's custody events."""
    return page.split('id="today"')[1]


def rows(html: str) -> int:
    """How many table rows of data ``html`` shows."""
    return len(re.findall(r"<tr>\s*<td", html))


def ssccs(html: str) -> list[str]:
    """The SSCCs of the event rows in ``html``, in order."""
    return re.findall(r'<td class="mono sscc">(\d{18})</td>', html)


# ---------------------------------------------------------------- a constant number of statements
def test_checkpoint_page_costs_the_same_with_5_or_50_shipments(client: FlaskClient, auth, officer: User,
                                                               busy_post, statements: list[str]) -> None:
    auth.sign_in_as(officer)
    busy_post(5)
    few = statements_for(client, "/checkpoint", statements)
    busy_post(45)
    many = statements_for(client, "/checkpoint", statements)
    assert many == few, f"{few} statements with 5 shipments, {many} with 50"


def test_custody_events_api_costs_the_same_with_5_or_50_events(client: FlaskClient, auth, officer: User,
                                                               busy_post, statements: list[str]) -> None:
    auth.sign_in_as(officer)
    busy_post(3)
    few = statements_for(client, "/api/v1/custody-events?per_page=200", statements)
    busy_post(22)
    many = statements_for(client, "/api/v1/custody-events?per_page=200", statements)
    assert many == few, f"{few} statements with 6 events, {many} with 50"
    listed = client.get("/api/v1/custody-events?per_page=200").json
    assert listed["total"] == 50 and len(listed["items"]) == 50
    assert sorted(len(e["alerts"]) for e in listed["items"]) == [0] * 25 + [1] * 25
    assert all(a["kind"] == "custody_seal_broken" for e in listed["items"] for a in e["alerts"])


# ---------------------------------------------------------------- grouped and paged
def test_todays_events_show_each_declaration_once_with_its_events(client: FlaskClient, auth, officer: User,
                                                                  busy_post) -> None:
    auth.sign_in_as(officer)
    shipments = busy_post(3)
    page = today(client.get("/checkpoint").get_data(as_text=True))
    folds = re.findall(r'<details class="declaration-events" data-fold="[^"]+"( open)?>\s*<summary>.*?<a href="/declarations/(\d+)"',
                       page, re.S)
    assert folds == [(" open" if n == 0 else "", str(d.id)) for n, d in enumerate(reversed(shipments))], \
        "latest scanned first and open, each once"
    for declaration in shipments:
        own = page.split(f'/declarations/{declaration.id}"')[1].split('<details')[0]
        assert [i.container.sscc in own for i in declaration.items] == [True, True]
        assert "2 events" in own.split("</summary>")[0] and rows(own) == 2
    assert "earlier-events" not in page, "two events a declaration: nothing to fold within"


@pytest.mark.parametrize("count", [5, 6, 8])
def test_a_declarations_latest_five_events_show_and_the_earlier_ones_wait_in_a_fold(
        client: FlaskClient, auth, db: Session, officer: User, make_declaration: Callable[..., Declaration],
        make_container: Callable[..., Any], count: int) -> None:
    auth.sign_in_as(officer)
    post: Checkpoint = officer.checkpoints[0]
    declaration = make_declaration(status="in_transit", destination=post)
    declaration.items += [DeclarationItem(container=make_container(owner=declaration.declarant), declared_net_g=34_500)
                          for _ in range(count - 1)]
    db.flush()
    times = [today_at((n + 1) / (count + 1)) for n in range(count)]
    for n, (item, at) in enumerate(zip(declaration.items, times)):  # the oldest was found with its seal broken
        record_custody_event(db, officer, {
            "client_event_id": uuid.uuid4().hex, "sscc": item.container.sscc, "checkpoint": post.code,
            "kind": "inspection", "seal_intact": n > 0, "event_time": at,
            "measured_net_g": 34_480 if n == count - 1 else None})
    db.flush()
    newest_first = [i.container.sscc for i in reversed(declaration.items)]

    group = today(client.get("/checkpoint").get_data(as_text=True)).split(f'data-fold="events-{declaration.id}"')[1]
    summary, contents = group.split("</summary>", 1)
    assert f"{count} events" in summary and "1 broken seal" in summary, "the group counts every event and broken seal"
    latest, _, earlier = contents.partition('<details class="earlier-events"')
    assert ssccs(latest) == newest_first[:5]
    assert re.findall(r'<td class="time">([^<]*)</td>', latest) == [at[11:16] for at in reversed(times)][:5], \
        "today's events show their time, not the date"
    assert "34.480 kg" in latest and latest.count("unmeasured") == 4, "a mass only where one was measured"
    if count == 5:
        assert not earlier and "<strong class=\"bad\">broken</strong>" in latest
        return
    nested, hidden = earlier.split("</details>")[0].split("</summary>", 1)
    more = count - 5
    assert nested.startswith(f' data-fold="events-{declaration.id}-earlier">'), "folded, and kept so by live updates"
    assert f"{more} earlier event{'s' if more > 1 else ''}" in nested and "1 broken seal" in nested
    assert ssccs(hidden) == newest_first[5:] and "<strong class=\"bad\">broken</strong>" in hidden
    assert "broken" not in latest


def test_a_busy_day_is_paged_with_a_link_to_the_next_page(client: FlaskClient, auth, officer: User,
                                                          busy_post) -> None:
    auth.sign_in_as(officer)
    busy_post(30)
    first = client.get("/checkpoint").get_data(as_text=True)
    assert rows(today(first)) == 50 and "1–50 of 60" in today(first)
    follow = re.search(r'<a rel="next" href="([^"]+)"', today(first))
    assert follow and "events=2" in follow.group(1) and follow.group(1).endswith("#today")
    second = today(client.get(follow.group(1).replace("&amp;", "&")).get_data(as_text=True))
    assert rows(second) == 10 and "51–60 of 60" in second and 'rel="prev"' in second
    departing = first.split('id="departing"')[1].split('id="arriving"')[0]
    assert "(30)" in departing and departing.count('href="/declarations/') == 25
    assert re.search(r'<a rel="next" href="/checkpoint\?departing=2#departing"', departing)


def test_the_next_page_of_one_list_keeps_the_others_where_they_were(client: FlaskClient, auth, officer: User,
                                                                    busy_post) -> None:
    auth.sign_in_as(officer)
    busy_post(30)
    page = client.get("/checkpoint?events=2").get_data(as_text=True)
    departing = page.split('id="departing"')[1].split('id="arriving"')[0]
    assert re.search(r'<a rel="next" href="/checkpoint\?events=2&amp;departing=2#departing"', departing)
