"""GPX uploads: literal documents and the real files in tests/data/gpx (gpxpy's test files)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from beacon_gateway.decoders import gpx
from beacon_gateway.position import DecodeError
from tests.conftest import DATA

UTC = timezone.utc
GPX_DIR = DATA / "gpx"
TRACK_11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
 <wpt lat="1" lon="2"><time>2026-03-01T07:00:00Z</time></wpt>
 <trk><trkseg>
  <trkpt lat="42.875" lon="74.59"><ele>760.5</ele><time>2026-03-01T08:00:00Z</time>
   <sat>7</sat><hdop>1.2</hdop><fix>3d</fix></trkpt>
  <trkpt lat="42.876" lon="74.591"><time>2026-03-01T14:00:30+06:00</time></trkpt>
  <trkpt lat="42.877" lon="74.592"></trkpt>
  <trkpt lat="42.878" lon="74.593"><time>2026-03-01T08:01:30</time><fix>none</fix></trkpt>
 </trkseg></trk>
</gpx>"""


def read(name: str) -> bytes:
    return (GPX_DIR / name).read_bytes()


def test_track_points_become_positions_with_every_field():
    positions, problems = gpx.decode_gpx(TRACK_11, "KG-0001")
    first, second, fourth = positions
    assert first.fix_time == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert (first.lat, first.lon, first.altitude_m) == (42.875, 74.59, 760.5)
    assert (first.satellites, first.hdop) == (7, 1.2)
    assert first.valid is True and first.device_id == "KG-0001" and first.protocol == "gpx"
    assert first.raw.startswith(b"<") and b'lat="42.875"' in first.raw and first.raw.endswith(b"trkpt>")
    assert second.fix_time == datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC)    # offset converted
    assert fourth.fix_time == datetime(2026, 3, 1, 8, 1, 30, tzinfo=UTC)    # no zone: UTC
    assert fourth.valid is False
    assert problems == [gpx.GpxProblem("track 1 segment 1 point 3", "no time: skipped")]


def test_real_device_track_decodes_every_point():
    positions, problems = gpx.decode_gpx(read("around-visnjan-with-car.gpx"), "car")
    assert len(positions) == 104 and problems == []
    assert positions[0].fix_time == datetime(2020, 12, 18, 6, 15, 50, tzinfo=UTC)
    first = positions[0]
    assert (first.lat, first.lon, first.altitude_m) == (45.273518851, 13.7142099626, 211.15)
    assert [p.fix_time for p in positions] == sorted(p.fix_time for p in positions)


def test_gpx_10_track_over_several_segments_including_an_empty_one():
    positions, problems = gpx.decode_gpx(read("cerknicko-jezero.gpx"), "d")
    assert len(positions) == 296 and problems == []
    assert positions[0].fix_time == datetime(2010, 8, 5, 14, 23, 59, tzinfo=UTC)


def test_points_without_times_are_skipped_and_each_reported():
    positions, problems = gpx.decode_gpx(read("cerknicko-without-times.gpx"), "d")
    assert len(positions) == 5 and len(problems) == 291
    assert problems[0] == gpx.GpxProblem("track 2 segment 1 point 1", "no time: skipped")
    assert all(p.fix_time.tzinfo is not None for p in positions)


def test_planned_route_without_times_gives_no_positions_but_says_why():
    positions, problems = gpx.decode_gpx(read("route.gpx"), "d")
    assert positions == [] and len(problems) == 55
    assert problems[-1].where == "route 1 point 55"


def test_empty_segment_and_local_time_offset():
    positions, _ = gpx.decode_gpx(read("track-with-empty-segment.gpx"), "d")
    assert len(positions) == 9
    [first, _second], _ = gpx.decode_gpx(read("track-with-less-sec-time.gpx"), "d")
    assert first.fix_time == datetime(2015, 12, 11, 14, 43, 13, tzinfo=UTC)   # written as 15:43:13+01:00


def test_gpx_10_speed_is_metres_per_second():
    positions, _ = gpx.decode_gpx(read("track_with_speed.gpx"), "d")
    assert [p.speed_kmh for p in positions] == pytest.approx([1.2 * 3.6, 2.2 * 3.6, 3.2 * 3.6])


def test_byte_order_mark_is_accepted():
    positions, problems = gpx.decode_gpx(read("unicode_with_bom.gpx"), "d")
    assert (positions, problems) == ([], [])            # a waypoint only: not a track


@pytest.mark.parametrize("document,message", [
    (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><gpx>&b;</gpx>', "Entities"),
    (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]><gpx>&x;</gpx>', "Entities"),
    (b"<gpx><trk>", "well-formed"),
    (b"\xff\xfe\x00<", "well-formed"),
])
def test_hostile_or_broken_documents_are_refused(document, message):
    with pytest.raises(DecodeError, match=message):
        gpx.decode_gpx(document, "d")


@pytest.mark.parametrize("doctype", [b"<!DOCTYPE gpx>", b'<!DOCTYPE gpx SYSTEM "file:///nonexistent/gpx.dtd">'])
def test_doctype_without_entities_is_accepted_and_never_fetched(doctype):
    document = TRACK_11.replace(b"<gpx ", doctype + b"\n<gpx ", 1)
    positions, _ = gpx.decode_gpx(document, "d")
    assert len(positions) == 3


def test_oversized_document_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(gpx, "MAX_GPX_BYTES", 100)
    with pytest.raises(DecodeError, match="larger than"):
        gpx.decode_gpx(TRACK_11, "d")


@pytest.mark.parametrize("field,value", [
    ("time", "0001-01-01T00:00:00+01:00"), ("time", "9999-12-31T23:59:59-01:00"), ("lat", "nan"),
    ("lat", "1e400"), ("lon", "-181"),
])
def test_points_with_impossible_values_are_skipped_and_reported(field, value):
    point = {"lat": "1", "lon": "2", "time": "2026-03-01T08:00:00Z"}
    point[field] = value
    document = (f'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                f'<trkpt lat="{point["lat"]}" lon="{point["lon"]}"><time>{point["time"]}</time></trkpt>'
                f'<trkpt lat="3" lon="4"><time>2026-03-01T08:00:05Z</time></trkpt></trkseg></trk></gpx>')
    positions, problems = gpx.decode_gpx(document.encode(), "d")
    assert [(p.lat, p.lon) for p in positions] == [(3, 4)]
    assert [p.where for p in problems] == ["track 1 segment 1 point 1"]


def test_truncated_documents_only_ever_raise_decode_error():
    for size in range(0, len(TRACK_11), 3):
        try:
            gpx.decode_gpx(TRACK_11[:size], "d")
        except DecodeError:
            pass
    bad = TRACK_11.replace(b'lat="42.875"', b'lat="north"').replace(b'lon="74.591"', b'lon="999"')
    try:
        positions, problems = gpx.decode_gpx(bad, "d")
    except DecodeError:
        return
    assert all(-180 <= p.lon <= 180 for p in positions)
