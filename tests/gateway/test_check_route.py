"""beacon-gateway check-route: a recorded track against a planned route, offline, alerts as JSON lines."""
from __future__ import annotations

import json
from pathlib import Path

import gpxpy.gpx
import pytest

from beacon_gateway.cli import main
from tests.conftest import DATA
from tracker.domain import geography as geo

DEPARTED = "2026-11-20T04:00:00Z"
ROUTE_WKT = "LINESTRING (" + ", ".join(f"{w.lon} {w.lat}" for w in geo.KHAIDARKAN_AKJOL) + ")"


@pytest.fixture
def route_gpx(tmp_path: Path) -> Path:
    document = gpxpy.gpx.GPX()
    route = gpxpy.gpx.GPXRoute(name="Khaidarkan - Ak-Jol")
    route.points = [gpxpy.gpx.GPXRoutePoint(w.lat, w.lon, name=w.name or None) for w in geo.KHAIDARKAN_AKJOL]
    document.routes.append(route)
    path = tmp_path / "route.gpx"
    path.write_text(document.to_xml())
    return path


def simulate(tmp_path: Path, name: str, *options: str) -> Path:
    path = tmp_path / name
    assert main(["simulate", "--departed", DEPARTED, "--seed", "4", "--noise", "30", "--to", str(path), *options]) == 0
    return path


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict], str]:
    code = main(["check-route", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_an_excursion_in_a_recorded_track_is_printed_once_with_its_figures(
        tmp_path: Path, route_gpx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track = simulate(tmp_path, "trip.jsonl", "--deviate", "100:5:1500")
    code, alerts, _ = check(capsys, "--route", str(route_gpx), "--corridor", "300", str(track))
    assert code == 0
    (off,) = [a for a in alerts if a["kind"] == "off_route"]
    assert off["start"].startswith("2026-11-20T05:4") and off["end"] is not None
    assert 1_400 < off["max_distance_m"] < 1_600 and 200 < off["duration_s"] < 300
    assert [a["kind"] for a in alerts] == ["off_route", "arrived"]


def test_a_wider_corridor_swallows_the_same_excursion(tmp_path: Path, route_gpx: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    track = simulate(tmp_path, "trip.jsonl", "--deviate", "100:5:1500")
    _, alerts, _ = check(capsys, "--route", str(route_gpx), "--corridor", "2000", str(track))
    assert [a["kind"] for a in alerts] == ["arrived"]


@pytest.mark.parametrize("protocol, suffix, fmt", [("nmea", "nmea", None), ("gt06", "hex", "gt06"),
                                                   ("teltonika", "hex", "teltonika")])
def test_device_logs_in_each_protocol_give_the_same_alerts(tmp_path: Path, protocol: str, suffix: str,
                                                            fmt: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "route.wkt").write_text(ROUTE_WKT)
    options = ("--deviate", "100:5:1500", "--stop", "200:30", "--batch", "4")
    reference = simulate(tmp_path, "trip.jsonl", *options)
    log = simulate(tmp_path, f"trip.{suffix}", *options, "--protocol", protocol, "--device-id", "356307042441013")
    expected = check(capsys, "--route", str(tmp_path / "route.wkt"), "--corridor", "300", str(reference))[1]
    code, alerts, err = check(capsys, "--route", str(tmp_path / "route.wkt"), "--corridor", "300",
                              *(["--format", fmt] if fmt else []), str(log))
    assert (code, err) == (0, "")
    assert [(a["kind"], a["start"]) for a in alerts] == [(a["kind"], a["start"]) for a in expected]
    assert {a["kind"] for a in alerts} == {"off_route", "unscheduled_stop", "arrived"}


def test_a_real_recorded_track_checked_against_itself_is_never_off_route(capsys: pytest.CaptureFixture[str]) -> None:
    track = DATA / "gpx" / "cerknicko-jezero.gpx"
    code, alerts, _ = check(capsys, "--route", str(track), "--corridor", "50", str(track))
    assert code == 0 and "off_route" not in [a["kind"] for a in alerts]


def test_the_real_planned_route_file_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    route = DATA / "gpx" / "route.gpx"
    code, alerts, _ = check(capsys, "--route", str(route), "--corridor", "100",
                            str(DATA / "gpx" / "cerknicko-jezero.gpx"))
    assert code == 0 and alerts and all(a["kind"] in ("off_route", "signal_lost", "arrived") for a in alerts)


def test_a_route_file_with_entities_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil.gpx"
    evil.write_text('<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<gpx version="1.1"><rte><rtept lat="1" lon="1"><name>&x;</name></rtept></rte></gpx>')
    (tmp_path / "t.jsonl").write_text("")
    code, alerts, err = check(capsys, "--route", str(evil), str(tmp_path / "t.jsonl"))
    assert code == 2 and alerts == [] and "not a usable GPX file" in err


def test_broken_lines_are_reported_by_number_and_the_rest_is_evaluated(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "route.wkt").write_text(ROUTE_WKT)
    lines = simulate(tmp_path, "trip.jsonl").read_text().splitlines()
    lines[5] = '{"fix_time": "yesterday", "lat": 1}'
    (tmp_path / "broken.jsonl").write_text("\n".join(lines))
    code, alerts, err = check(capsys, "--route", str(tmp_path / "route.wkt"), str(tmp_path / "broken.jsonl"))
    assert code == 1 and "broken.jsonl:line 6:" in err
    assert [a["kind"] for a in alerts] == ["arrived"]


@pytest.mark.parametrize("option, message", [(["--set", "nonsense=1"], "unknown evaluation settings"),
                                             (["--dead-zone", "POINT (1 2)"], "not a valid polygon")])
def test_bad_options_say_what_is_wrong(tmp_path: Path, option: list[str], message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "route.wkt").write_text(ROUTE_WKT)
    (tmp_path / "t.jsonl").write_text("")
    code, _, err = check(capsys, "--route", str(tmp_path / "route.wkt"), *option, str(tmp_path / "t.jsonl"))
    assert code == 2 and message in err


def test_a_dead_zone_and_settings_given_on_the_command_line_are_used(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "route.wkt").write_text(ROUTE_WKT)
    track = simulate(tmp_path, "trip.jsonl", "--tunnel-gap", "12")
    route = ["--route", str(tmp_path / "route.wkt"), "--reporting-period", "30"]
    assert [a["kind"] for a in check(capsys, *route, str(track))[1]] == ["signal_lost", "arrived"]
    tunnel = "POLYGON ((73.76 42.30, 73.84 42.30, 73.84 42.36, 73.76 42.36, 73.76 42.30))"
    assert [a["kind"] for a in check(capsys, *route, "--dead-zone", tunnel, str(track))[1]] == ["arrived"]
    assert [a["kind"] for a in check(capsys, *route, "--set", "signal_periods=30", str(track))[1]] == ["arrived"]
