"""beacon-gateway check-route: a recorded track against a planned route, offline, alerts as JSON lines."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gpxpy.gpx
import pytest
from shapely.geometry import LineString

from beacon_gateway.cli import main
from beacon_gateway.simulator import Deviation, Pause, Simulation
from tests.conftest import DATA
from tests.gateway.helpers import LiveGateway
from tests.gateway.test_evaluation_alerts import alerts_of
from tracker.domain import geography as geo
from tracker.domain.route_geometry import plan_geometry

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


def test_check_route_prints_the_alerts_the_live_gateway_raises_on_the_same_track(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], db, sessions, make_tracked_declaration,
        make_checkpoint) -> None:
    """One track, two paths: the gateway's pipeline in batches, with its database plan, and check-route."""
    departed = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
    corridor, radius = 250, 400
    route = plan_geometry(LineString([(w.lon, w.lat) for w in geo.KHAIDARKAN_AKJOL]), corridor).route
    (lon0, lat0), (lon1, lat1) = route.coords[0], route.coords[-1]
    declaration = make_tracked_declaration(
        route=route, corridor_m=corridor, reporting_period_s=30, departed_at=departed - timedelta(minutes=20),
        origin=make_checkpoint(lat=lat0, lon=lon0, radius_m=radius),
        destination=make_checkpoint(lat=lat1, lon=lon1, radius_m=radius),
        planned_departure=departed, planned_arrival=departed + timedelta(hours=30))
    trip = Simulation(geo.KHAIDARKAN_AKJOL, departed, device_id=declaration.beacon.device_id, noise_m=30.0,
                      seed=21, deviations=[Deviation(60, 5, 900), Deviation(200, 4, 600)],
                      pauses=[Pause(25, at_min=120)], gap_at="Too-Ashuu tunnel", gap_min=10)
    positions = list(trip.positions())
    track = tmp_path / "trip.jsonl"
    track.write_text("".join(json.dumps({"fix_time": p.fix_time.isoformat(), "lat": p.lat, "lon": p.lon,
                                         "speed_kmh": p.speed_kmh}) + "\n" for p in positions))
    (tmp_path / "route.wkt").write_text(route.wkt)

    live = LiveGateway(sessions)
    try:
        for start in range(0, len(positions), 40):              # messages of 40 fixes, one after the other
            assert live.writer.submit(positions[start:start + 40]).result(60).accepted
    finally:
        live.close()
    code, printed, err = check(capsys, "--route", str(tmp_path / "route.wkt"), "--corridor", str(corridor),
                               "--end-radius", str(radius), "--reporting-period", "30",
                               "--departed-at", (departed - timedelta(minutes=20)).isoformat(),
                               "--planned-arrival", (departed + timedelta(hours=30)).isoformat(), str(track))
    assert code == 0, err
    raised = [json.loads(json.dumps(a["details"])) for a in alerts_of(db, declaration)]
    names = {a.pop("destination") for a in raised + printed if a["kind"] == "arrived"}
    assert names == {declaration.destination.code, "end"}      # the one thing told apart: the end zone's name
    key = lambda alert: (alert["start"], alert["kind"])  # noqa: E731
    assert sorted(raised, key=key) == sorted(printed, key=key)
    assert {"signal_lost", "off_route", "unscheduled_stop", "arrived"} <= {a["kind"] for a in printed}
