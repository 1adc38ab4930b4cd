"""Teltonika Codec 8 / 8 Extended: literal packets from Teltonika's protocol wiki and from
Traccar's decoder tests, each decoded field checked by hand against the byte layout."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from beacon_gateway.decoders import teltonika
from beacon_gateway.position import ChecksumError, DecodeError

UTC = timezone.utc

# Teltonika wiki, "Codec 8" example: one record without a fix, 5 IO values.
WIKI_CODEC8 = bytes.fromhex(
    "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F"
    "01F10000601A014E0000000000000000010000C7CF")
# Teltonika wiki, "Codec 8 Extended" example: 2-byte IO ids and counts.
WIKI_CODEC8E = bytes.fromhex(
    "000000000000004A8E010000016B412CEE000100000000000000000000000000000000010005000100010100"
    "010011001D00010010015E2C880002000B000000003544C87A000E000000001DD7E06A00000100002994")
# Traccar TeltonikaProtocolDecoderTest: an FMB record in Vienna with a fix.
VIENNA = bytes.fromhex(
    "000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053000f06f0011503c80001"
    "011d00fc0007423799180053cdf80dce426f430f88190bb8560bb802f100005aa110002887e000010000ee8d")
# Traccar TeltonikaProtocolDecoderTest: two Codec 8E records with a variable-length (NX) value.
CODEC8E_NX = bytes.fromhex(
    "00000000000000858e0200000174431aadc100061d888f21000e8a0032002e0c00000181000100000000000000"
    "0000010181001711210102030405060708090a0b0c0d0e0f10020b010ad000000174431a389100061d888f2100"
    "0e8a0033002e0d000001810001000000000000000000010181001711210102030405060708090a0b0c0d0e0f10"
    "020b010ad2020000492b")

# Traccar TeltonikaProtocolDecoderTest: three records, the last one buffered from a year before.
KARACHI = bytes.fromhex(
    "00000000000000da08030000017fcedf499600280431be0eded45d0038012d100000fa100901000200b300b40045"
    "01500415034702fa00054232a1180000cd3b2fce281d43001f02c700000006f10000a029000000017fcedea99600"
    "280432070eded3dd00380046130009000f0801010200b300b400450150051502470205423276180009cd3b2fce28"
    "1d43001f02c700000027f10000a0290000000179d50853180027f65d3f0ed67212001500f1110061000f08010102"
    "00b300b4004501500515034702054234f4180061cd53d1ce28c043003e02c700000147f1000000290003000052cb")


def test_imei_handshake_is_split_and_parsed():
    handshake, rest = teltonika.split_imei(bytes.fromhex("000F333536333037303432343431303133") + b"\x00")
    assert teltonika.parse_imei(handshake) == "356307042441013"
    assert rest == b"\x00"
    assert teltonika.IMEI_ACCEPT == b"\x01" and teltonika.IMEI_REJECT == b"\x00"


def test_incomplete_imei_handshake_waits_for_more_bytes():
    assert teltonika.split_imei(bytes.fromhex("000F3335")) == (None, bytes.fromhex("000F3335"))


@pytest.mark.parametrize("handshake", [
    bytes.fromhex("000F31323334"),                       # shorter than announced
    b"\x00\x0f" + b"35630704244101X",                    # not digits
    b"\x00\x03" + b"123",                                # too short for an IMEI
])
def test_bad_imei_handshake_is_refused(handshake):
    with pytest.raises(DecodeError):
        teltonika.parse_imei(handshake)


def test_codec8_record_without_fix_keeps_time_and_io_values():
    positions, count = teltonika.decode_packet(WIKI_CODEC8, "356307042441013")
    assert count == 1 and len(positions) == 1
    p = positions[0]
    assert p.fix_time == datetime(2019, 6, 10, 10, 4, 46, tzinfo=UTC)
    assert (p.lat, p.lon, p.altitude_m, p.course, p.speed_kmh, p.satellites) == (0, 0, 0, 0, 0, 0)
    assert p.valid is False
    assert p.protocol == "teltonika" and p.device_id == "356307042441013"
    assert p.extra["priority"] == 1 and p.extra["event_io"] == 1
    assert p.extra["io"] == {"21": 3, "1": 1, "66": 0x5E0F, "241": 0x601A, "78": 0}
    assert p.extra["external_voltage_mv"] == 24079
    assert p.raw == WIKI_CODEC8[10:-5]   # the record alone, between the counts


def test_codec8_extended_record_reads_two_byte_io_ids():
    positions, count = teltonika.decode_packet(WIKI_CODEC8E, "x")
    assert count == 1
    p = positions[0]
    assert p.fix_time == datetime(2019, 6, 10, 11, 36, 32, tzinfo=UTC)
    assert p.extra["io"] == {"1": 1, "17": 0x1D, "16": 0x015E2C88, "11": 0x3544C87A, "14": 0x1DD7E06A}


def test_codec8_record_with_fix_decodes_every_gps_field():
    positions, count = teltonika.decode_packet(VIENNA, "dev")
    assert count == 1
    p = positions[0]
    assert p.fix_time == datetime(2019, 1, 4, 12, 27, 19, tzinfo=UTC)
    assert p.lat == pytest.approx(48.1523066, abs=1e-9)
    assert p.lon == pytest.approx(16.3745183, abs=1e-9)
    assert (p.altitude_m, p.course, p.satellites, p.speed_kmh) == (190, 198, 15, 83)
    assert p.valid is True
    assert p.extra["movement"] == 1 and p.extra["battery_voltage_mv"] == 3976
    assert p.extra["odometer_m"] == 2656224


def test_codec8_extended_packet_with_two_records_and_variable_length_value():
    positions, count = teltonika.decode_packet(CODEC8E_NX, "dev")
    assert count == 2
    first, second = positions
    assert first.fix_time == datetime(2020, 8, 31, 6, 0, 56, 1000, tzinfo=UTC)
    assert second.fix_time == datetime(2020, 8, 31, 6, 0, 26, 1000, tzinfo=UTC)
    assert first.lat == pytest.approx(55.365185) and first.lon == pytest.approx(10.2598799)
    assert (first.altitude_m, first.course, first.satellites) == (50, 46, 12)
    assert (second.altitude_m, second.satellites) == (51, 13)
    assert first.extra["io"]["385"] == "11210102030405060708090a0b0c0d0e0f10020b010ad0"


def test_codec8_packet_with_three_records_keeps_device_order_and_buffered_record():
    positions, count = teltonika.decode_packet(KARACHI, "dev")
    assert count == 3
    first, second, third = positions
    assert first.fix_time == datetime(2022, 3, 28, 4, 53, 34, 230000, tzinfo=UTC)
    assert (first.lat, first.lon) == (pytest.approx(24.9484381), pytest.approx(67.1363518))
    assert (first.altitude_m, first.course, first.satellites, first.speed_kmh) == (56, 301, 16, 0)
    assert first.extra["event_io"] == 250 and first.extra["io"]["241"] == 41001
    assert second.fix_time == datetime(2022, 3, 28, 4, 52, 53, 270000, tzinfo=UTC)
    assert (second.course, second.satellites, second.speed_kmh) == (70, 19, 9)
    assert third.fix_time == datetime(2021, 6, 4, 3, 19, 23, 160000, tzinfo=UTC)
    assert third.speed_kmh == 97 and third.lat == pytest.approx(24.893493)
    assert b"".join(p.raw for p in positions) == KARACHI[10:-5]


def test_negative_coordinates_are_twos_complement():
    record = bytearray(VIENNA)
    record[19:23] = (-163745183).to_bytes(4, "big", signed=True)   # longitude
    record[23:27] = (-481523066).to_bytes(4, "big", signed=True)   # latitude
    crc = teltonika.crc16_ibm(bytes(record[8:-4]))
    record[-4:] = crc.to_bytes(4, "big")
    p = teltonika.decode_packet(bytes(record), "dev")[0][0]
    assert (p.lat, p.lon) == (pytest.approx(-48.1523066), pytest.approx(-16.3745183))


def test_ack_is_the_record_count_in_four_bytes():
    assert teltonika.ack(2) == b"\x00\x00\x00\x02"


def test_split_frame_waits_for_a_whole_packet_and_keeps_the_next():
    stream = VIENNA + WIKI_CODEC8[:20]
    frame, rest = teltonika.split_frame(stream)
    assert frame == VIENNA and rest == WIKI_CODEC8[:20]
    assert teltonika.split_frame(rest) == (None, rest)
    assert teltonika.split_frame(b"\x00\x00") == (None, b"\x00\x00")


def test_stream_not_starting_with_preamble_is_an_error():
    with pytest.raises(DecodeError, match="preamble"):
        teltonika.split_frame(b"\x01" + VIENNA)


def test_absurd_data_length_is_refused_instead_of_waited_for():
    with pytest.raises(DecodeError, match="length"):
        teltonika.split_frame(b"\x00\x00\x00\x00\x7f\xff\xff\xff\x08")


def test_corrupted_packet_fails_its_crc():
    corrupted = bytearray(VIENNA)
    corrupted[30] ^= 0x01
    with pytest.raises(ChecksumError):
        teltonika.decode_packet(bytes(corrupted), "dev")


@pytest.mark.parametrize("frame", [VIENNA[:-2], VIENNA + b"\x00"])
def test_packet_shorter_or_longer_than_its_length_field_is_refused(frame):
    with pytest.raises(DecodeError, match=f"AVL packet of {len(frame)} bytes, but its data length field says 88"):
        teltonika.decode_packet(frame, "dev")


def test_unknown_codec_is_refused():
    packet = bytearray(WIKI_CODEC8)
    packet[8] = 0x0C
    packet[-4:] = teltonika.crc16_ibm(bytes(packet[8:-4])).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="codec 0x0c"):
        teltonika.decode_packet(bytes(packet), "dev")


def _fuzz_inputs(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    inputs = [VIENNA[:n] for n in range(len(VIENNA))]
    for _ in range(300):
        packet = bytearray(rng.choice([VIENNA, CODEC8E_NX, WIKI_CODEC8]))
        for _ in range(rng.randint(1, 4)):
            packet[rng.randrange(8, len(packet))] = rng.randrange(256)
        # re-seal the CRC so the record parser itself sees the damage
        packet[-4:] = teltonika.crc16_ibm(bytes(packet[8:-4])).to_bytes(4, "big")
        inputs.append(bytes(packet))
    inputs += [rng.randbytes(rng.randint(0, 80)) for _ in range(200)]
    return inputs


def test_hostile_input_only_ever_raises_decode_error():
    for data in _fuzz_inputs(4):
        try:
            frame, _ = teltonika.split_frame(data)
            if frame is not None:
                teltonika.decode_packet(frame, "dev")
            teltonika.parse_imei(data)
        except DecodeError:
            pass


# ---------------------------------------------------------------------------------------------
# Codecs 16, 7, the 16-byte IO group, command answers and the ping: packets built by hand from
# Teltonika's "Data Sending Protocols" layouts (CRC-16/IBM over codec id .. second count).
AT_1030 = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
# Codec 16, one record: 2026-12-04 10:30, priority 1, Bishkek (lon 74.590 then lat 42.875, x 1e7),
# altitude 760 m, course 270, 12 satellites, 45 km/h; event IO 0x00ef (ignition), generation
# type 5 (on change), 3 IO: two 1-byte (239 = 1, 240 = 1) and one 2-byte (66 = 0x2f44 mV)
CODEC16 = bytes.fromhex(
    "000000000000002d1001000001a2409a8c40012c7587e0198e34b002f8010e0c002d00ef05030200ef0100f001"
    "0100422f440000010000ff72")
# Codec 8 with the "extended" 16-byte IO group after the 8-byte group (count 1, id 0x96,
# 16 bytes): two records in Osh, 30 s apart, 60 km/h, course 90, 9 satellites
CODEC8_WIDE_IO = bytes.fromhex(
    "00000000000000670802000001a2409a8c40002b643ef01828150003e8005a09003c000201ef01000000019600"
    "112233445566778899aabbccddeeff000001a2409b0170002b643ef01828150003e8005a09003c000201ef0100"
    "0000019600112233445566778899aabbccddeeff02000091c7")
# Codec 7 (GH3000), one record: 4 bytes = priority 1 << 30 | 628770600 s since 2007-01-01
# (2026-12-04 10:30), global mask 0b (GPS, 1-byte and 4-byte IO), GPS mask 1f: latitude and
# longitude as floats (Naryn), altitude 2020 m, angle 0x40 (90 degrees), 50 km/h, 7 satellites;
# IO 1 = 100, IO 2 = 0xabc
CODEC7 = bytes.fromhex(
    "000000000000001f0701657a47280b1f4225b74c4297fb6407e4403207010164010200000abc01000025f0")
# Codec 12 answer to a GPRS command (type 06): "Battery voltage:4.1V"
CODEC12_ANSWER = bytes.fromhex(
    "000000000000001c0c0106000000144261747465727920766f6c746167653a342e3156010000f4ea")
# Codec 13 answer: 4-byte timestamp, then "GPS:1 Sat:7"
CODEC13_ANSWER = bytes.fromhex(
    "00000000000000170d01060000000f6b1296284750533a31205361743a370100009a82")


def test_codec16_reads_two_byte_ids_and_the_generation_type():
    packet = teltonika.decode(CODEC16, "dev")
    assert (packet.kind, packet.codec, packet.count, packet.answer) == ("data", 0x10, 1, b"\x00\x00\x00\x01")
    [p] = packet.positions
    assert p.fix_time == AT_1030
    assert (p.lat, p.lon) == (pytest.approx(42.875), pytest.approx(74.590))
    assert (p.altitude_m, p.course, p.satellites, p.speed_kmh, p.valid) == (760, 270, 12, 45, True)
    assert (p.extra["priority"], p.extra["event_io"], p.extra["generation"]) == (1, 239, 5)
    assert p.extra["io"] == {"239": 1, "240": 1, "66": 0x2F44}
    assert (p.extra["ignition"], p.extra["external_voltage_mv"]) == (1, 12100)


def test_codec8_with_the_16_byte_io_group_is_not_refused():
    positions, count = teltonika.decode_packet(CODEC8_WIDE_IO, "dev")
    assert count == 2
    assert [p.fix_time for p in positions] == [AT_1030, datetime(2026, 12, 4, 10, 30, 30, tzinfo=UTC)]
    for p in positions:
        assert (p.lat, p.lon) == (pytest.approx(40.528), pytest.approx(72.799))
        assert (p.speed_kmh, p.course, p.satellites) == (60, 90, 9)
        assert p.extra["io"] == {"239": 1, "150": "00112233445566778899aabbccddeeff"}


def test_codec7_gh_record_with_its_masks():
    packet = teltonika.decode(CODEC7, "dev")
    assert (packet.codec, packet.count, packet.answer) == (7, 1, b"\x00\x00\x00\x01")
    [p] = packet.positions
    assert p.fix_time == AT_1030
    assert (p.lat, p.lon) == (pytest.approx(41.429, abs=1e-5), pytest.approx(75.991, abs=1e-5))
    assert (p.altitude_m, p.course, p.speed_kmh, p.satellites, p.valid) == (2020, 90, 50, 7, True)
    assert (p.extra["priority"], p.extra["io"]) == (1, {"1": 100, "2": 0xABC})


@pytest.mark.parametrize("frame,codec,text", [
    (CODEC12_ANSWER, 0x0C, "Battery voltage:4.1V"),
    (CODEC13_ANSWER, 0x0D, "GPS:1 Sat:7"),
])
def test_command_answers_are_read_and_not_acknowledged(frame, codec, text):
    packet = teltonika.decode(frame, "dev")
    assert (packet.kind, packet.codec, packet.text, packet.positions, packet.answer) == (
        "command_response", codec, text, [], None)


def test_ping_byte_is_a_unit_of_its_own_without_answer():
    frame, rest = teltonika.split_frame(teltonika.PING + CODEC16)
    assert (frame, rest) == (b"\xff", CODEC16)
    packet = teltonika.decode(frame, "dev")
    assert (packet.kind, packet.answer) == ("ping", None)


def test_resync_finds_the_next_preamble_or_ping():
    assert teltonika.resync(b"\x01\x02" + CODEC16) == 2
    assert teltonika.resync(b"\x01\x02\xff") == 2
    assert teltonika.resync(b"\x01\x02\x03\x00\x00") == 3     # trailing zeros may begin a preamble
    assert teltonika.resync(b"\x01\x02\x03") == 3


def test_hostile_versions_of_codecs_16_7_and_command_answers_only_raise_decode_error():
    rng = random.Random(16)
    samples = [CODEC16, CODEC7, CODEC8_WIDE_IO, CODEC12_ANSWER, CODEC13_ANSWER]
    inputs = []
    for _ in range(1500):
        packet = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 4)):
            packet[rng.randrange(8, len(packet) - 4)] = rng.randrange(256)
        packet[-4:] = teltonika.crc16_ibm(bytes(packet[8:-4])).to_bytes(4, "big")
        inputs.append(bytes(packet))
    for data in inputs:
        try:
            frame, _ = teltonika.split_frame(data)
            if frame is not None:
                teltonika.decode(frame, "dev")
        except DecodeError:
            pass
