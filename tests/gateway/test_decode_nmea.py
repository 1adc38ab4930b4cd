"""NMEA 0183: literal sentences (from gpsd's receiver logs and the NMEA examples) merged into
one position per fix epoch, with bad lines reported by number while decoding goes on."""
from __future__ import annotations

import random
from datetime import date, datetime, timezone

import pytest

from beacon_gateway.decoders.nmea import LineError, NmeaStream, decode_lines
from beacon_gateway.decoders.nmea_fields import verify_checksum
from beacon_gateway.position import ChecksumError, DecodeError, Position

UTC = timezone.utc

# bu353-glonass.log (SiRF III, GN talker RMC + GP GGA + ZDA)
BU353 = [
    "$GNRMC,081411.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,,A*74",
    "$GPZDA,081411.000,26,05,2014,,*5D",
    "$GPGGA,081412.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,*6A",
    "$GNGSA,A,3,03,19,27,13,,,,,,,,,4.97,4.87,1.00*10",
    "$GNRMC,081412.000,A,5541.1956,N,03737.2877,E,0.52,301.26,260514,,,A*7F",
]
# bt451.log: RMC, VTG, GGA, GLL, ZDA of one half-second epoch
BT451 = [
    "$GPRMC,143306.50,A,5546.82983,N,02334.72123,E,30.324,221.16,091209,,,A*52",
    "$GPVTG,221.16,T,,M,30.324,N,56.191,K,A*37",
    "$GPGGA,143306.50,5546.82983,N,02334.72123,E,1,09,1.26,128.9,M,26.9,M,,*50",
    "$GPGLL,5546.82983,N,02334.72123,E,143306.50,A,A*66",
    "$GPZDA,143306.50,09,12,2009,00,00*61",
]


def positions(items):
    return [item for item in items if isinstance(item, Position)]


def errors(items):
    return [item for item in items if isinstance(item, LineError)]


def test_sentences_of_one_epoch_make_one_position():
    first, second = positions(decode_lines(BU353, "gps-1"))
    assert first.fix_time == datetime(2014, 5, 26, 8, 14, 11, tzinfo=UTC)
    assert first.lat == pytest.approx(55 + 41.1955 / 60, abs=1e-9)
    assert first.lon == pytest.approx(37 + 37.2872 / 60, abs=1e-9)
    assert first.speed_kmh == pytest.approx(0.60 * 1.852) and first.course == 301.29
    assert first.valid is True and first.protocol == "nmea" and first.device_id == "gps-1"
    assert first.raw == (BU353[0] + "\r\n" + BU353[1]).encode()
    # GGA and RMC of 08:14:12 merge: altitude, satellites and HDOP from GGA, speed from RMC
    assert second.fix_time == datetime(2014, 5, 26, 8, 14, 12, tzinfo=UTC)
    assert (second.altitude_m, second.satellites, second.hdop) == (66.2, 5, 4.87)
    assert second.speed_kmh == pytest.approx(0.52 * 1.852) and second.course == 301.26


def test_coordinates_another_sentence_disagrees_on_are_kept_as_other_reports():
    lines = ["$GPGGA,193221.00,2037.72792,N,08704.08478,W,1,04,1.7,-30.40,M,-13.9,M,,*7D",     # ac12.log
             "$GPRMC,193221.00,A,2037.7279,N,08704.0848,W,00.1,201.8,231207,01,W,A*2D"]
    [p] = positions(decode_lines(lines, "d"))
    assert (p.lat, p.lon) == (pytest.approx(20 + 37.72792 / 60), pytest.approx(-(87 + 4.08478 / 60)))
    [other] = p.extra["other_reports"]
    assert other["sentence"] == "RMC"
    assert other["lat"] == pytest.approx(20 + 37.7279 / 60)
    assert other["lon"] == pytest.approx(-(87 + 4.0848 / 60))
    [q] = positions(decode_lines(lines[::-1], "d"))     # GGA preferred whatever the order
    assert (q.lat, q.lon) == (p.lat, p.lon) and q.extra["other_reports"][0]["sentence"] == "RMC"


def test_half_second_epoch_takes_fields_from_every_sentence():
    [p] = positions(decode_lines(BT451, "d"))
    assert p.fix_time == datetime(2009, 12, 9, 14, 33, 6, 500000, tzinfo=UTC)
    assert p.lat == pytest.approx(55.780497167, abs=1e-6) and p.lon == pytest.approx(23.578687167, abs=1e-6)
    assert p.speed_kmh == pytest.approx(30.324 * 1.852) and p.course == 221.16
    assert (p.altitude_m, p.satellites, p.hdop, p.valid) == (128.9, 9, 1.26, True)
    assert p.extra["fix_quality"] == 1
    assert p.raw.count(b"\r\n") == 4


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "BD"])
def test_any_talker_is_read(talker):
    body = f"{talker}RMC,120000,A,4250.000,N,07435.400,E,10.0,90.0,010326,,,A"
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    [p] = positions(decode_lines([f"${body}*{checksum:02X}"], "d"))
    assert p.fix_time == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert (p.lat, p.lon) == (pytest.approx(42.8333333), pytest.approx(74.59))


def test_gns_sentence_gives_position_satellites_and_altitude():
    lines = ["$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70",
             "$GNZDA,014035.00,03,03,2017,00,00*7F"]
    [p] = positions(decode_lines(lines, "d"))
    assert p.fix_time == datetime(2017, 3, 3, 1, 40, 35, tzinfo=UTC)
    assert (p.lat, p.lon) == (pytest.approx(-43.544877), pytest.approx(172.591424833))
    assert (p.satellites, p.hdop, p.altitude_m, p.valid) == (13, 0.9, 25.63, True)


def test_void_rmc_is_kept_as_an_invalid_fix():
    line = "$GPRMC,012519.563,V,4131.7353,N,09336.8150,W,0.00,,050405,,*14"   # holux-gm-210.log
    [p] = positions(decode_lines([line], "d"))
    assert p.valid is False and p.course is None
    assert p.fix_time == datetime(2005, 4, 5, 1, 25, 19, 563000, tzinfo=UTC)


def test_empty_fields_give_no_position_instead_of_null_island():
    assert list(decode_lines(["$GPRMC,,V,,,,,,,,,,N*53"], "d")) == []


def test_epoch_without_date_takes_the_next_date_seen():
    lines = ["$GPGGA,081412.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,*6A",
             "$GNRMC,081411.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,,A*74"]
    gga, rmc = positions(decode_lines(lines, "d"))
    assert gga.fix_time == datetime(2014, 5, 26, 8, 14, 12, tzinfo=UTC)
    assert gga.extra["date_source"] == "later_sentence"
    assert rmc.fix_time == datetime(2014, 5, 26, 8, 14, 11, tzinfo=UTC)


def test_date_rolls_over_at_midnight():
    lines = ["$GPRMC,235959,A,4250.000,N,07435.400,E,0.0,0.0,310326,,,A*76",
             "$GPGGA,000001,4250.000,N,07435.400,E,1,8,1.0,760.0,M,0.0,M,,*49"]
    for line in lines:   # make sure the literal checksums are right
        verify_checksum(line)
    before, after = positions(decode_lines(lines, "d"))
    assert before.fix_time == datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert after.fix_time == datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC)


def test_log_without_any_date_uses_the_fallback_and_says_so():
    line = "$GPGGA,081412.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,*6A"
    [p] = positions(decode_lines([line], "d", fallback_date=date(2026, 3, 1)))
    assert p.fix_time == datetime(2026, 3, 1, 8, 14, 12, tzinfo=UTC)
    assert p.extra["date_source"] == "assumed"


def test_live_stream_without_date_takes_the_receive_date_nearest_the_time_of_day():
    clock = lambda: datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)   # received just after midnight
    line = "$GPGGA,235958.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,*64"
    stream = NmeaStream("d", clock=clock)
    assert stream.feed(line, 1) == []          # the epoch is open until the stream moves on
    [p] = stream.flush()
    assert p.fix_time == datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)


def test_bad_lines_are_reported_with_their_number_and_decoding_goes_on():
    lines = [
        "# a comment",
        "$GPGGA,005947.00,3715.6616,N,12157.6709,W,,11,0.8,86.0,M,-30.1,M,,*54",   # firefly-II: bad sum
        "$GPGGA,012530.562,4131.7353,N,09336.8150,W,0,00,50.",                      # truncated
        "$GPGGA,030130$GPGLL,2638.1728,N,08011.3893,W,030131.000,A,A*41",          # run together
        ",1.7,-30.40,M,-13.9,M,,*7D",                                               # tail of a line
        "r$GPRMC,175804,V,5125.8697,N,00524.2288,E,0.0000,0.000,200610,,*30",     # stray byte
        "",
        "$GPRMC,000231.099,A,4829.0005,N,00022.0015,E,0.15,212.28,2208-1,,,A*73",  # garbled date
        "$PGRME,0.00,M,0.00,M,29.40,M*21",                                          # proprietary: skipped
    ]
    items = list(decode_lines(lines, "d", fallback_date=date(2010, 6, 20)))
    numbered = [(e.line_number, e.message.split(":")[0]) for e in errors(items)]
    assert numbered == [
        (2, "checksum mismatch"),
        (3, "sentence has no checksum and too few fields (truncated?)"),
        (4, "sentence has no checksum and too few fields (truncated?)"),
        (5, "not an NMEA sentence (no $)"),
        (6, "stray text before a sentence"),
        (8, "date '2208-1' is not ddmmyy; the rest of the sentence is used"),
    ]
    found = {(round(p.lat, 6), round(p.lon, 6)) for p in positions(items)}
    assert found == {(26.636213, -80.189822), (51.431162, 5.403813), (48.483342, 0.366692)}


def test_checksum_is_verified():
    with pytest.raises(ChecksumError):
        verify_checksum("$GPZDA,081411.000,26,05,2014,,*5E")
    assert verify_checksum("$GPZDA,081411.000,26,05,2014,,*5D") == ("GPZDA,081411.000,26,05,2014,,", True)


def test_complete_sentence_without_checksum_is_used_but_marked():
    lines = ["$GPRMC,225308,A,4527.458,S,16709.165,E,000.0,094.5,060601,024.1,E",   # garmin48.log, sum cut
             "$GPGGA,225308,4527.458,S,16709.165,E,1,05,2.1,14.7,M,1.1,M,,"]
    items = list(decode_lines(lines, "d"))
    assert errors(items) == []
    [p] = positions(items)
    assert p.fix_time == datetime(2001, 6, 6, 22, 53, 8, tzinfo=UTC)
    assert (p.lat, p.lon) == (pytest.approx(-45.457633333), pytest.approx(167.15275))
    assert p.extra["checksum"] == "absent" and p.altitude_m == 14.7


def test_bytes_lines_and_non_ascii_garbage():
    items = list(decode_lines([BU353[0].encode() + b"\r\n", b"\xff\xfe$GP", "$GPZDA,0814\u00e9*5D"], "d"))
    assert len(positions(items)) == 1
    assert [e.message for e in errors(items)] == ["line is not ASCII text"] * 2


def with_checksum(body: str) -> str:
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"${body}*{checksum:02X}"


def test_extreme_zda_dates_do_not_break_the_midnight_roll_over():
    lines = [with_checksum("GPZDA,235959,31,12,9999,00,00"),
             with_checksum("GPGGA,000001,4250.000,N,07435.400,E,1,8,1.0,760.0,M,0.0,M,,"),
             with_checksum("GPZDA,000002,01,01,0001,00,00"),
             with_checksum("GPGGA,235959,4250.000,N,07435.400,E,1,8,1.0,760.0,M,0.0,M,,")]
    assert [p.fix_time.year for p in positions(decode_lines(lines, "d"))] == [9999, 1]


def test_hostile_lines_only_ever_give_line_errors():
    rng = random.Random(7)
    lines = [s[:n] for s in BU353 + BT451 for n in range(len(s))]
    alphabet = "$GPRMCGA,.*0123456789ABCDEFNSWEV\r\n\u00e9\u0000"
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90))) for _ in range(500)]
    lines += [bytes(rng.randbytes(rng.randint(0, 90))) for _ in range(200)]
    try:
        list(decode_lines(lines, "d", fallback_date=date(2020, 1, 1)))
    except DecodeError:   # pragma: no cover - the assertion below explains the failure
        pytest.fail("decode_lines raised instead of reporting a LineError")
