"""The route-compliance report as a PDF: one A4 page, read back, with the reference, the shares,
the map, long tables cut with "and N more", and Russian in Cyrillic for a Russian reader."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from shapely.geometry import LineString
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tracker.domain.alerts import open_alert
from tracker.domain.audit.report_pdf import MapPicture, Sheet, Table, evenly_spaced, nice_length, render
from tracker.models import Declaration, DeclarationStatus, Position, Role

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)


@pytest.fixture
def trip(db: Session, make_declaration: Callable[..., Declaration], make_beacon: Callable[..., Any]) -> Declaration:
    """10 fixes a minute apart along 74° E, the 5th to 7th off a 500 m corridor, and 12 excursion alerts."""
    d = make_declaration(status=DeclarationStatus.IN_TRANSIT, beacon=make_beacon(), corridor_m=500,
                         route=LineString([(74.0, 42.0), (74.0, 42.1)]), departed_at=T0)
    db.execute(insert(Position), [
        {"beacon_id": d.beacon_id, "declaration_id": d.id, "fix_time": T0 + timedelta(minutes=i),
         "lat": 42.0 + i / 100, "lon": 74.02 if i in (4, 5, 6) else 74.0, "flags": [], "protocol": "json",
         "raw": b"{}"} for i in range(10)])
    for n in range(12):
        open_alert(db, kind="off_route", severity="warning", declaration=d, at=T0 + timedelta(minutes=n),
                   lat=42.04, lon=74.02, details={"duration_s": 60.0, "max_distance_m": 1657.0})
    db.flush()
    return d


def pdf_of(client: FlaskClient, d: Declaration) -> tuple[PdfReader, str]:
    response = client.get(f"/declarations/{d.id}/compliance.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(BytesIO(response.data))
    return reader, "\n".join(p.extract_text() for p in reader.pages)


def test_the_pdf_is_one_a4_page_with_the_reference_shares_and_a_cut_table(
        client: FlaskClient, auth: Any, trip: Declaration, make_user: Callable[..., Any]) -> None:
    auth.sign_in_as(make_user(Role.AUDITOR))
    reader, text = pdf_of(client, trip)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert trip.reference in text
    assert "55.6 %" in text                      # 5 of 9 one-minute hops inside
    assert "Excursions from the corridor" in text and text.count("1.7 km") == 12   # room for all 12 rows
    assert "Permitted corridor" in text and "Beacon track" in text            # the map's legend


def test_the_russian_pdf_is_in_cyrillic(client: FlaskClient, auth: Any, db: Session, trip: Declaration,
                                        make_user: Callable[..., Any]) -> None:
    auditor = make_user(Role.AUDITOR)
    auditor.language = "ru"
    db.flush()
    auth.sign_in_as(auditor)
    reader, text = pdf_of(client, trip)
    assert len(reader.pages) == 1
    assert "Отчёт о соответствии маршруту" in text and "55,6 %" in text and trip.reference in text


def test_another_dealers_trader_gets_404(client: FlaskClient, auth: Any, trip: Declaration,
                                         make_user: Callable[..., Any]) -> None:
    auth.sign_in_as(make_user(Role.TRADER))
    assert client.get(f"/declarations/{trip.id}/compliance.pdf").status_code == 404


def test_long_tables_and_a_long_track_still_fit_one_page() -> None:
    rows = tuple((f"row {i}", "x" * 200) for i in range(500))
    track = [(74.0 + i / 1e5, 42.0 + i / 1e5) for i in range(50_000)]
    sheet = Sheet(title="T" * 300, header=(("Reference", "R" * 400),) * 12, figures=(("Share", "50.0 %"),) * 9,
                  tables=tuple(Table(f"Table {n}", ("A", "B"), (0.3, 0.7), rows, "none", 8) for n in range(5)),
                  picture=MapPicture(route=LineString([(74.0, 42.0), (74.5, 42.5)]), track=track),
                  more=lambda n: f"and {n} more", distance=lambda m: f"{m:g} m")
    reader = PdfReader(BytesIO(render(sheet)))
    assert len(reader.pages) == 1
    cut = [int(n) for n in re.findall(r"and (\d+) more", reader.pages[0].extract_text())]
    assert len(cut) == 5 and all(490 <= n < 500 for n in cut)   # the header is long: fewer rows than 7


def test_an_empty_map_says_so() -> None:
    sheet = Sheet(title="Empty", header=(), figures=(), tables=(), picture=MapPicture(empty="Nothing to draw"),
                  more=str, distance=str)
    assert "Nothing to draw" in PdfReader(BytesIO(render(sheet))).pages[0].extract_text()


def test_the_scale_bar_is_a_round_length_and_thinning_keeps_the_ends() -> None:
    assert [nice_length(m) for m in (1, 7, 180, 2_600, 49_000)] == [1, 5, 100, 2_000, 20_000]
    kept = evenly_spaced(12_345, 5_000)
    assert len(kept) <= 5_000 and kept[0] == 0 and kept[-1] == 12_344 and list(kept) == sorted(kept)
    assert list(evenly_spaced(3, 5_000)) == [0, 1, 2]


def test_the_kyrgyz_pdf_carries_the_kyrgyz_letters(client: FlaskClient, auth: Any, db: Session, trip: Declaration,
                                                   make_user: Callable[..., Any]) -> None:
    trip.origin.names = {"ky": "Жаңы-Жол бажы посту"}
    auditor = make_user(Role.AUDITOR)
    auditor.language = "ky"
    db.flush()
    auth.sign_in_as(auditor)
    reader, text = pdf_of(client, trip)
    assert len(reader.pages) == 1
    assert "Маршрутка ылайыктуулук боюнча отчёт" in text and "55,6 %" in text
    assert "Жаңы-Жол бажы посту" in text and "Сигналдын үзүлүштөрү" in text   # ң, ө, ү drawn, not boxes
