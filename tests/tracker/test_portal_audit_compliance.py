"""Route compliance page and trip replay: the figures are the report's, every episode links to its alert,
custody out of order is marked, the track for the replay is thinned and in time order, and only those who
may see the declaration reach any of it (404 otherwise)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from shapely.geometry import LineString
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tracker.domain.alerts import open_alert
from tracker.domain.audit import compliance
from tracker.domain.chain import append_to_chain
from tracker.models import (
    CustodyEvent,
    CustodyKind,
    Declaration,
    DeclarationStatus,
    ExpectedCheckpoint,
    Position,
    Role,
)

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
OUTSIDE = {4, 5, 6}   # fixes about 1.7 km east of a 500 m corridor


def add_fixes(db: Session, d: Declaration, fixes: list[tuple[datetime, float, float]]) -> None:
    db.execute(insert(Position), [
        {"beacon_id": d.beacon_id, "declaration_id": d.id, "fix_time": at, "lat": lat, "lon": lon, "flags": [],
         "protocol": "json", "raw": b"{}"} for at, lat, lon in fixes])


@pytest.fixture
def trip(db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any]) -> Declaration:
    """In transit due north along 74° E, 500 m corridor: 10 fixes a minute apart, the 5th to 7th off it,
    and the excursion the gateway found, as its alert."""
    d = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon(), corridor_m=500,
                         route=LineString([(74.0, 42.0), (74.0, 42.1)]), departed_at=T0)
    add_fixes(db, d, [(T0 + timedelta(minutes=i), 42.0 + i / 100, 74.02 if i in OUTSIDE else 74.0)
                      for i in range(10)])
    open_alert(db, kind="off_route", severity="warning", declaration=d, at=T0 + timedelta(minutes=4),
               lat=42.04, lon=74.02, details={"start": "2026-11-20T04:04:00Z", "end": "2026-11-20T04:07:00Z",
                                              "duration_s": 180.0, "max_distance_m": 1657.0})
    db.flush()
    return d


@pytest.fixture
def auditor(make_user: Callable[..., Any]) -> Any:
    return make_user(Role.AUDITOR)


def page(client: FlaskClient, d: Declaration) -> str:
    response = client.get(f"/declarations/{d.id}/compliance")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def figure(html: str, element_id: str) -> tuple[float, str]:
    match = re.search(rf'id="{element_id}" data-value="([^"]*)"[^>]*>([^<]*)<', html)
    assert match, element_id
    return float(match.group(1)), match.group(2)


def test_the_page_shows_the_reports_shares_for_a_hand_built_track(
        client: FlaskClient, auth: Any, db: Session, trip: Declaration, auditor: Any) -> None:
    auth.sign_in_as(auditor)
    html = page(client, trip)
    report = compliance(db, auditor, trip.id)
    assert report.coverage is not None
    # 9 one-minute hops, 4 of them touch a fix outside: 5 of 9 inside by time.
    time_share, time_text = figure(html, "time-share")
    assert time_share == pytest.approx(report.coverage.time_share) == pytest.approx(5 / 9)
    assert time_text == "55.6 %"
    distance_share, distance_text = figure(html, "distance-share")
    assert distance_share == pytest.approx(report.coverage.distance_share)
    assert distance_text == f"{report.coverage.distance_share * 100:.1f} %"
    assert figure(html, "fixes")[0] == 10
    assert trip.reference in html


def test_each_excursion_shows_start_end_duration_and_farthest_distance_and_links_to_its_alert(
        client: FlaskClient, auth: Any, db: Session, trip: Declaration, auditor: Any) -> None:
    auth.sign_in_as(auditor)
    html = page(client, trip)
    [excursion] = compliance(db, auditor, trip.id).excursions
    row = re.search(r'<table class="stack" id="excursions">.*?</table>', html, re.S).group(0)
    assert "3 min" in row and "1.7 km" in row
    assert "2026-11-20 10:04" in row and "2026-11-20 10:07" in row      # Asia/Bishkek, UTC+6
    assert f'href="/alerts/{excursion.alert_id}"' in row
    assert client.get(f"/alerts/{excursion.alert_id}").status_code == 200
    assert 'id="stops"' not in html and "No unscheduled stop" in html


def test_custody_out_of_order_is_marked_against_the_expected_checkpoints(
        client: FlaskClient, auth: Any, db: Session, trip: Declaration, auditor: Any,
        make_checkpoint: Callable[..., Any], make_user: Callable[..., Any]) -> None:
    officer = make_user(Role.CUSTOMS_OFFICER)
    first, second = make_checkpoint(code="KARA-BALTA"), make_checkpoint(code="TOKTOGUL")
    trip.expected_checkpoints = [ExpectedCheckpoint(seq=0, checkpoint=first), ExpectedCheckpoint(seq=1, checkpoint=second)]
    db.flush()
    for checkpoint, minutes in ((trip.origin, 0), (second, 30), (first, 60)):
        append_to_chain(db, CustodyEvent(
            client_event_id=f"k-{trip.id}-{checkpoint.id}", kind=CustodyKind.INSPECTION, declaration_id=trip.id,
            container_id=trip.items[0].container_id, checkpoint_id=checkpoint.id, officer_id=officer.id,
            event_time=T0 + timedelta(minutes=minutes), seal_intact=True))
    db.flush()
    auth.sign_in_as(auditor)
    html = page(client, trip)
    rows = re.findall(r'<tr class="passage ([\w-]+)">.*?<td[^>]*class="mono">([^<]+)</td>', html, re.S)
    assert rows == [("seen", trip.origin.code), ("seen", "KARA-BALTA"), ("out-of-order", "TOKTOGUL"),
                    ("missing", trip.destination.code)]
    assert html.count("out of order") >= 2     # in the checkpoints and beside the event in time order


def test_receipt_discrepancy_per_container(client: FlaskClient, auth: Any, db: Session, trip: Declaration,
                                           auditor: Any) -> None:
    item = trip.items[0]
    item.received_net_g, item.seal_intact = 34_400, False
    db.flush()
    auth.sign_in_as(auditor)
    html = page(client, trip)
    assert 'class="beyond-tolerance"' in html and "-0.100 kg" in html and "± 0.050 kg" in html


def test_track_json_is_in_time_order_and_thinned(client: FlaskClient, auth: Any, db: Session,
                                                 trip: Declaration, auditor: Any) -> None:
    auth.sign_in_as(auditor)
    track = client.get(f"/declarations/{trip.id}/track.json").json
    assert len(track) == 10
    assert track[0] == [T0.timestamp(), 42.0, 74.0, [], True] and track[4][2] == 74.02
    start = T0 + timedelta(hours=1)
    add_fixes(db, trip, [(start + timedelta(seconds=s), 42.05, 74.0) for s in range(6_000)][::-1])
    db.flush()
    track = client.get(f"/declarations/{trip.id}/track.json").json
    times = [row[0] for row in track]
    assert len(track) <= 5_000 and times == sorted(times)
    assert times[0] == T0.timestamp() and times[-1] == (start + timedelta(seconds=5_999)).timestamp()


def test_track_json_keeps_every_flagged_fix_with_its_flags(client: FlaskClient, auth: Any, db: Session,
                                                          trip: Declaration, auditor: Any) -> None:
    start = T0 + timedelta(hours=1)
    add_fixes(db, trip, [(start + timedelta(seconds=s), 42.05, 74.0) for s in range(6_000)])
    jump, future = start + timedelta(seconds=1_234.5), T0 + timedelta(days=3)
    db.execute(insert(Position), [
        {"beacon_id": trip.beacon_id, "declaration_id": trip.id, "fix_time": at, "lat": lat, "lon": 74.5,
         "flags": flags, "protocol": "json", "raw": b"{}"}
        for at, lat, flags in ((jump, 43.0, ["impossible_jump"]), (future, 42.06, ["future_fix"]),
                               (start + timedelta(seconds=99.5), 42.05, ["frozen"]))])
    db.flush()
    auth.sign_in_as(auditor)
    track = client.get(f"/declarations/{trip.id}/track.json").json
    flagged = {row[0]: (row[3], row[4]) for row in track if row[3]}
    assert flagged == {jump.timestamp(): (["impossible_jump"], False), future.timestamp(): (["future_fix"], False),
                       (start + timedelta(seconds=99.5)).timestamp(): (["frozen"], True)}
    assert len(track) <= 5_000 + 3 and [row[0] for row in track] == sorted(row[0] for row in track)


def test_the_replay_lists_the_trips_alerts_to_jump_to(client: FlaskClient, auth: Any, trip: Declaration,
                                                      auditor: Any) -> None:
    auth.sign_in_as(auditor)
    html = page(client, trip)
    assert '<select id="replay-speed"' in html and '<option value="60" selected>60×</option>' in html
    assert 'id="replay-fixes"' in html
    assert f'data-replay-at="{(T0 + timedelta(minutes=4)).timestamp()}"' in html


def test_the_replay_has_a_labelled_slider_and_a_play_button(client: FlaskClient, auth: Any, trip: Declaration,
                                                            auditor: Any) -> None:
    auth.sign_in_as(auditor)
    html = page(client, trip)
    assert '<label for="replay-slider">Time on the trip</label>' in html
    assert '<input type="range" id="replay-slider"' in html and 'id="replay-play"' in html
    assert f'data-track-url="/declarations/{trip.id}/track.json"' in html
    assert f'data-geojson-url="/declarations/{trip.id}/map.geojson"' in html
    assert "<script>" not in html and "style=" not in html


def test_the_declaration_page_links_to_its_compliance(client: FlaskClient, auth: Any, trip: Declaration,
                                                      auditor: Any) -> None:
    auth.sign_in_as(auditor)
    html = client.get(f"/declarations/{trip.id}").get_data(as_text=True)
    assert f'id="route-compliance" href="/declarations/{trip.id}/compliance"' in html


@pytest.mark.parametrize("path", ["compliance", "track.json", "compliance.pdf"])
def test_another_dealers_trader_gets_404_and_the_owner_sees_it(
        client: FlaskClient, auth: Any, trip: Declaration, make_user: Callable[..., Any], path: str) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert client.get(f"/declarations/{trip.id}/{path}").status_code == 404
    auth.logout()
    auth.sign_in_as(make_user(Role.TRADER, dealer=trip.declarant))
    assert client.get(f"/declarations/{trip.id}/{path}").status_code == 200


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.LICENSING_ADMIN])
def test_auditors_and_admins_see_it(client: FlaskClient, auth: Any, trip: Declaration,
                                    make_user: Callable[..., Any], role: Role) -> None:
    auth.sign_in_as(make_user(role))
    assert client.get(f"/declarations/{trip.id}/compliance").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, trip: Declaration) -> None:
    assert client.get(f"/declarations/{trip.id}/compliance").status_code in (302, 401)


def test_russian_page(client: FlaskClient, auth: Any, db: Session, trip: Declaration, make_user: Callable[..., Any]) -> None:
    auditor = make_user(Role.AUDITOR)
    auditor.language = "ru"
    db.flush()
    auth.sign_in_as(auditor)
    html = page(client, trip)
    assert "Соответствие маршруту" in html and "55,6 %" in html and "Воспроизвести" in html


def test_the_report_downloads_as_csv_with_the_pages_figures(client: FlaskClient, auth: Any, db: Session,
                                                             trip: Declaration, auditor: Any,
                                                             make_user: Callable[..., Any]) -> None:
    import csv
    import io

    auth.sign_in_as(auditor)
    assert f'/api/v1/exports/declarations/{trip.id}/compliance.csv"' in page(client, trip)
    response = client.get(f"/api/v1/exports/declarations/{trip.id}/compliance.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    summary = {r["name"]: r["value"] for r in rows if r["section"] == "summary"}
    assert float(summary["time_share"]) == pytest.approx(5 / 9, abs=1e-4)
    assert summary["positions"] == "10" and summary["corridor_m"] == "500"
    excursions = [r for r in rows if r["section"] == "excursion"]
    assert len(excursions) == 1 and excursions[0]["max_distance_m"] == "1657"
    assert excursions[0]["duration_s"] == "180" and excursions[0]["alert_id"]
    receipt = [r for r in rows if r["section"] == "receipt"]
    assert [r["name"] for r in receipt] == [item.container.sscc for item in trip.items]
    client.post("/logout", data={"csrf_token": auth.csrf_token("/")})
    auth.sign_in_as(make_user(Role.TRADER))
    assert client.get(f"/api/v1/exports/declarations/{trip.id}/compliance.csv").status_code == 404


@pytest.mark.parametrize(("language", "departure", "origin"), [("ru", "отправление", "Ошский таможенный пост"),
                                                               ("ky", "жөнөп кетүү", "Ош бажы посту")])
def test_the_custody_table_names_event_kinds_and_places_in_the_readers_language(
        client: FlaskClient, auth: Any, db: Session, trip: Declaration, make_user: Callable[..., Any],
        language: str, departure: str, origin: str) -> None:
    trip.origin.names = {"ru": "Ошский таможенный пост", "ky": "Ош бажы посту"}
    append_to_chain(db, CustodyEvent(
        client_event_id=f"d-{trip.id}", kind=CustodyKind.DEPARTURE, declaration_id=trip.id,
        container_id=trip.items[0].container_id, checkpoint_id=trip.origin_id,
        officer_id=make_user(Role.CUSTOMS_OFFICER).id, event_time=T0, seal_intact=True))
    auditor = make_user(Role.AUDITOR)
    auditor.language = language
    db.flush()
    auth.sign_in_as(auditor)
    html = page(client, trip)
    table = re.search(r'<table class="stack" id="custody-order">.*?</table>', html, re.S).group(0)
    assert f'data-label="{"Событие" if language == "ru" else "Окуя"}">{departure}</td>' in table
    assert "departure" not in table and origin in html
