"""``beacon-gateway parse`` on the real receiver logs (gpsd's regression data: every TPV fix of the
``.chk`` files must be among the printed positions) and GPX files, and on each protocol's captures."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from beacon_gateway.cli import main
from tests.conftest import DATA

NMEA_LOGS = sorted((DATA / "nmea").glob("*.log"))
GPX_DIR = DATA / "gpx"
TELTONIKA_IMEI = bytes.fromhex("000F333536333037303432343431303133")
TELTONIKA_PACKET = bytes.fromhex(
    "000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053000f06f0011503c80001"
    "011d00fc0007423799180053cdf80dce426f430f88190bb8560bb802f100005aa110002887e000010000ee8d")
GT06_LOGIN = bytes.fromhex("78780D01086471700328358100093F040D0A")
GT06_LOCATION = bytes.fromhex("787822220F0C1D023305C9027AC8180C46586000140001CC00287D001F71000001000820860D0A")
GT06_HEARTBEAT = bytes.fromhex("78780a134406040001001270aa0d0a")


def parse(capsys, *argv: str) -> tuple[int, list[dict], list[str]]:
    """Run the command; return (exit code, printed positions, error lines)."""
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def gpsd_fixes(log):
    """The TPV reports with a position in gpsd's expected output for ``log``."""
    reports = (json.loads(line) for line in log.with_name(log.name + ".chk").read_text().splitlines()
               if line.startswith("{") and '"TPV"' in line)
    return [tpv for tpv in reports if "lat" in tpv and "lon" in tpv]


def seconds_of_day(moment: datetime) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


def test_the_nmea_logs_are_there():
    assert len(NMEA_LOGS) >= 20


@pytest.mark.parametrize("log", NMEA_LOGS, ids=lambda path: path.name)
def test_parse_finds_every_gpsd_fix_of_a_real_receiver_log(capsys, log):
    code, printed, errors = parse(capsys, "--format", "nmea", "--date", "2020-01-01", str(log))
    assert code in (0, 1) and (code == 1) == bool(errors)
    assert all(line.startswith(f"{log}:line ") for line in errors)
    for tpv in gpsd_fixes(log):
        same_place = [p for p in printed
                      if abs(p["lat"] - tpv["lat"]) <= 1e-6 and abs(p["lon"] - tpv["lon"]) <= 1e-6]
        assert same_place, f"gpsd fix {tpv} not printed"
        if "time" in tpv:   # gpsd moves old logs forward by GPS week roll-overs: compare the time of day
            expected = seconds_of_day(datetime.fromisoformat(tpv["time"].replace("Z", "+00:00")))
            times = [seconds_of_day(datetime.fromisoformat(p["fix_time"].replace("Z", "+00:00")))
                     for p in same_place]
            assert any(abs(t - expected) < 0.002 for t in times), f"gpsd fix {tpv} not at {times}"


def test_nmea_output_has_the_documented_fields(capsys):
    log = DATA / "nmea" / "bu353-glonass.log"
    code, printed, errors = parse(capsys, "-f", "nmea", "--device-id", "KG-7", str(log))
    assert (code, errors) == (0, [])
    first = printed[0]
    assert first == {"device_id": "KG-7", "fix_time": "2014-05-26T08:14:11Z",
                     "lat": pytest.approx(55.686592, abs=1e-6),
                     "lon": pytest.approx(37.621453, abs=1e-6), "speed_kmh": pytest.approx(1.111),
                     "course": 301.29, "altitude_m": None, "satellites": None, "valid": True, "flags": []}


def test_disagreeing_sentences_of_one_fix_print_an_alternative_line(capsys):
    log = DATA / "nmea" / "ac12.log"
    _, printed, _ = parse(capsys, "-f", "nmea", str(log))
    main, alternative = printed[0], printed[1]
    assert alternative["fix_time"] == main["fix_time"] and alternative["alternative"] is True
    assert alternative["sentence"] == "RMC" and "alternative" not in main
    assert abs(alternative["lat"] - main["lat"]) < 1e-6 and alternative["lat"] != main["lat"]


def test_nmea_errors_name_the_line_and_set_exit_code_one(capsys):
    log = DATA / "nmea" / "firefly-II.log"
    code, printed, errors = parse(capsys, "-f", "nmea", str(log))
    assert code == 1 and len(printed) == 23
    assert errors[0] == f"{log}:line 6: checksum mismatch: sentence says 54, contents give 56"


@pytest.mark.parametrize("line_end", [b"\r\r\n", b"\n", b"\r"])
def test_line_numbers_are_an_editors_whatever_the_line_ends(capsys, tmp_path, line_end):
    log = tmp_path / "receiver.log"
    log.write_bytes(line_end.join([b"# header", b"$GPZDA,081411.000,26,05,2014,,*5E",
                                   b"$GNRMC,081411.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,,A*74"]))
    code, printed, errors = parse(capsys, "-f", "nmea", str(log))
    assert errors == [f"{log}:line 2: checksum mismatch: sentence says 5E, contents give 5D"]
    assert code == 1 and len(printed) == 1


def test_log_without_date_prints_date_assumed(capsys, tmp_path):
    log = tmp_path / "gga-only.log"
    log.write_text("$GPGGA,081412.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,*6A\n")
    code, [position], _ = parse(capsys, "-f", "nmea", "--date", "2026-03-01", str(log))
    assert position["fix_time"] == "2026-03-01T08:14:12Z" and position["date_assumed"] is True


@pytest.mark.parametrize("name,positions,problems", [
    ("around-visnjan-with-car.gpx", 104, 0),
    ("cerknicko-jezero.gpx", 296, 0),
    ("cerknicko-without-times.gpx", 5, 291),
    ("route.gpx", 0, 55),
    ("track-with-empty-segment.gpx", 9, 0),
    ("track-with-less-sec-time.gpx", 2, 0),
    ("track_with_dilution_errors.gpx", 0, 2),
    ("track_with_speed.gpx", 3, 0),
    ("unicode_with_bom.gpx", 0, 0),
])
def test_parse_gpx_files(capsys, name, positions, problems):
    code, printed, errors = parse(capsys, "-f", "gpx", str(GPX_DIR / name))
    assert (len(printed), len(errors), code) == (positions, problems, 1 if problems else 0)
    assert all(": no time: skipped" in line for line in errors)


def test_gpx_times_are_printed_in_utc(capsys):
    _, printed, _ = parse(capsys, "-f", "gpx", str(GPX_DIR / "track-with-less-sec-time.gpx"))
    assert printed[0]["fix_time"] == "2015-12-11T14:43:13Z"


def test_teltonika_stream_with_handshake_and_a_corrupt_packet(capsys, tmp_path):
    corrupt = bytearray(TELTONIKA_PACKET)
    corrupt[40] ^= 0xFF
    capture = tmp_path / "fmb.bin"
    capture.write_bytes(TELTONIKA_IMEI + TELTONIKA_PACKET + bytes(corrupt) + TELTONIKA_PACKET)
    code, printed, errors = parse(capsys, "-f", "teltonika", str(capture))
    assert code == 1 and len(printed) == 2
    assert printed[0]["device_id"] == "356307042441013" and printed[0]["fix_time"] == "2019-01-04T12:27:19Z"
    offset = len(TELTONIKA_IMEI) + len(TELTONIKA_PACKET)
    assert errors == [f"{capture}:byte {offset}: AVL packet CRC mismatch: packet says ee8d, "
                      f"data gives {errors[0].split()[-1]}"]


def test_teltonika_hex_dump_one_frame_per_line(capsys, tmp_path):
    dump = tmp_path / "fmb.hex"
    dump.write_text(f"# captured 2019-01-04\n{TELTONIKA_IMEI.hex()}\n{TELTONIKA_PACKET.hex().upper()}\n{TELTONIKA_PACKET[:30].hex()}\n")
    code, printed, errors = parse(capsys, "-f", "teltonika", str(dump))
    assert code == 1 and [p["lat"] for p in printed] == [48.1523066]
    assert errors == [f"{dump}:line 4: line is not exactly one frame"]


def test_gt06_stream_login_names_the_device(capsys, tmp_path):
    capture = tmp_path / "gt06.bin"
    capture.write_bytes(GT06_LOGIN + GT06_HEARTBEAT + GT06_LOCATION + b"garbage" + GT06_LOCATION)
    code, printed, errors = parse(capsys, "-f", "gt06", str(capture))
    assert code == 1 and len(printed) == 2
    assert printed[0]["device_id"] == "864717003283581" and printed[0]["fix_time"] == "2015-12-29T02:51:05Z"
    offset = len(GT06_LOGIN) + len(GT06_HEARTBEAT) + len(GT06_LOCATION)
    assert errors[0].startswith(f"{capture}:byte {offset}: GT06 packet must start with 7878")


def test_gt06_location_without_login_needs_a_device_id(capsys, tmp_path):
    dump = tmp_path / "gt06.hex"
    dump.write_text(GT06_LOCATION.hex() + "\n")
    assert parse(capsys, "-f", "gt06", str(dump))[0] == 1
    code, printed, _ = parse(capsys, "-f", "gt06", "--device-id", "864717003283581", str(dump))
    assert code == 0 and printed[0]["device_id"] == "864717003283581"


def test_osmand_log_of_urls_queries_and_json(capsys, tmp_path):
    log = tmp_path / "osmand.log"
    log.write_text(
        "http://gw:5055/?id=7&lat=42.87&lon=74.59&timestamp=1772352000&speed=10\n"
        "# phone restarted\n"
        "id=7&lat=42.88&lon=74.60&timestamp=2026-03-01T08:01:00Z\n"
        "id=7&lat=142.88&lon=74.60&timestamp=2026-03-01T08:02:00Z\n"
        '{"device_id":"7","location":{"timestamp":"2026-03-01T08:03:00Z","coords":{"latitude":42.9,'
        '"longitude":74.61,"speed":5}}}\n')
    code, printed, errors = parse(capsys, "-f", "osmand", str(log))
    assert code == 1 and [p["fix_time"] for p in printed] == [
        "2026-03-01T08:00:00Z", "2026-03-01T08:01:00Z", "2026-03-01T08:03:00Z"]
    assert printed[0]["speed_kmh"] == 18.52 and printed[2]["speed_kmh"] == 18.0
    assert errors == [f"{log}:line 4: OsmAnd lat: must be between -90.0 and 90.0"]


def test_json_batch_file_refused_whole_lists_every_bad_field(capsys, tmp_path):
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"device_id": "KG-1", "pings": [
        {"fix_time": "2026-03-01T08:00:00Z", "lat": 42.0, "lon": 74.0},
        {"fix_time": "2026-03-01T08:00:30Z", "lat": 91, "lon": 740}]}, indent=1))
    code, printed, errors = parse(capsys, "-f", "json", str(batch))
    assert code == 1 and printed == []
    assert errors == [f"{batch}:file pings[1].lat: must be between -90.0 and 90.0",
                      f"{batch}:file pings[1].lon: must be between -180.0 and 180.0"]


def test_json_lines_of_batches(capsys, tmp_path):
    lines = tmp_path / "pings.jsonl"
    ping = {"fix_time": 1772352000, "lat": 42.0, "lon": 74.0}
    lines.write_text(json.dumps({"device_id": "KG-1", "pings": [ping]}) + "\n" + json.dumps(ping) + "\n")
    code, printed, errors = parse(capsys, "-f", "json", str(lines))
    assert code == 1 and len(printed) == 1 and errors == [
        f"{lines}:line 2 device_id: is required", f"{lines}:line 2 pings: must be a non-empty list"]
    code, printed, _ = parse(capsys, "-f", "json", "--device-id", "KG-1", str(lines))
    assert code == 0 and len(printed) == 2


def test_unreadable_file_exits_two(capsys, tmp_path):
    code, printed, errors = parse(capsys, "-f", "nmea", str(tmp_path / "missing.log"))
    assert (code, printed) == (2, []) and "cannot read" in errors[0]


def test_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["parse", "--format", "garmin", "x.log"])
    assert usage.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_gt06_capture_of_the_new_packet_types_applies_the_login_time_zone(capsys, tmp_path):
    from tests.gateway.test_decode_gt06 import POSITION_PACKETS, WIFI_69
    from tests.gateway.test_tcp_ingest import GT06_0X22_LOCAL, GT06_LOGIN_TZ

    a0 = bytes.fromhex(POSITION_PACKETS[0xA0][0])
    modular = bytes.fromhex("78782170003300126b1296280a03700471e1a8082727b82814c8001800020190000fd9000d0a")
    capture = tmp_path / "vl03.bin"
    capture.write_bytes(GT06_LOGIN_TZ + WIFI_69 + GT06_0X22_LOCAL + a0 + modular)
    code, printed, errors = parse(capsys, "-f", "gt06", str(capture))
    assert (code, errors) == (0, [])
    # 0x22 and 0xA0 are in device time (UTC+6 from the login); 0x70 carries UTC epoch seconds
    assert [p["fix_time"] for p in printed] == ["2026-12-04T10:30:00Z", "2026-12-04T04:30:00Z",
                                                "2026-12-04T10:30:00Z"]


def test_teltonika_capture_with_pings_codec16_codec7_and_a_command_answer(capsys, tmp_path):
    from tests.gateway.test_decode_teltonika import CODEC7, CODEC12_ANSWER, CODEC16

    capture = tmp_path / "mixed.bin"
    capture.write_bytes(TELTONIKA_IMEI + b"\xff" + CODEC16 + CODEC12_ANSWER + b"\xff" + CODEC7)
    code, printed, errors = parse(capsys, "-f", "teltonika", str(capture))
    assert (code, errors) == (0, [])
    assert [(p["lat"], p["speed_kmh"]) for p in printed] == [(42.875, 45.0), (pytest.approx(41.429, abs=1e-5), 50.0)]


@pytest.mark.parametrize("window", [7, 36, 64 * 1024])
def test_a_stream_reads_the_same_through_any_window(monkeypatch, window):
    from beacon_gateway.decoders import capture
    from tests.gateway.test_decode_gt06 import LBS_PHONE_17, POSITION_PACKETS, WIFI_17, WIFI_69
    from tests.gateway.test_tcp_ingest import GT06_0X22_LOCAL, GT06_LOGIN_TZ

    stream = (GT06_LOGIN_TZ + WIFI_69 + GT06_0X22_LOCAL + bytes.fromhex(POSITION_PACKETS[0xA0][0]) + WIFI_17
              + LBS_PHONE_17 + b"\x00garbage" + GT06_LOCATION) * 3
    whole = list(capture.read_capture("gt06", stream))
    monkeypatch.setattr(capture, "WINDOW", window)
    assert list(capture.read_capture("gt06", stream)) == whole
    assert [type(item).__name__ for item in whole].count("Position") == 9
