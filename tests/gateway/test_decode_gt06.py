"""GT06 (Concox): literal packets from Traccar's Gt06ProtocolDecoderTest and the GT06 protocol
document, each decoded field checked by hand against the protocol's byte layout."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from beacon_gateway.decoders import gt06
from beacon_gateway.position import ChecksumError, DecodeError

UTC = timezone.utc
LOGIN = bytes.fromhex("78780D01086471700328358100093F040D0A")
LOGIN_WITH_TYPE = bytes.fromhex("787811010863586038760942a0010000010aa4000d0a")
LOCATION_22 = bytes.fromhex("787822220F0C1D023305C9027AC8180C46586000140001CC00287D001F71000001000820860D0A")
LOCATION_22_NO_FIX = bytes.fromhex(
    "787822221106160a1016c60278019407c7783800040001940504700046fc01030100065f570d0a")
LOCATION_12 = bytes.fromhex("787821121303120b2524c70138e363085b549003d43301940057d200cd52c000006aa1ca0d0a")
LOCATION_12_SOUTH_WEST = bytes.fromhex(
    "7878241216040e102c22cf00915ffb04c6016300195a02d402283b00753f400571040001dda4880d0a")
ALARM_16 = bytes.fromhex(
    "7878251613020C12141AC5027951430C2A16F60014000900000000001A00007C550300020002F1E70D0A")
ALARM_26 = bytes.fromhex("7878252612030C063816C3026C10540C38C9700144030901CC002866000EEE0C06040302000DA2DB0D0A")
# Heartbeat laid out per the GT06 document: status 0x44 (charging, GPS tracking on),
# battery level 6, GSM signal 4, alarm/language 0x0001, serial 0x0012.
HEARTBEAT = bytes.fromhex("78780a134406040001001270aa0d0a")


@pytest.mark.parametrize("frame,imei,serial", [
    (LOGIN, "864717003283581", 9),
    (LOGIN_WITH_TYPE, "863586038760942", 0x010A),
])
def test_login_gives_the_imei_and_serial(frame, imei, serial):
    message = gt06.decode_frame(frame, None)
    assert (message.kind, message.imei, message.serial, message.positions) == ("login", imei, serial, [])


def test_login_answer_matches_the_protocol_document_example():
    # GT06 document: the server answers login serial 1 with 78 78 05 01 00 01 D9 DC 0D 0A
    login = gt06.Gt06Message("login", gt06.LOGIN, 1, b"")
    assert gt06.ack(login) == bytes.fromhex("787805010001D9DC0D0A")


def test_login_answer_echoes_the_serial():
    assert gt06.ack(gt06.decode_frame(LOGIN, None)) == bytes.fromhex("78780501000955940d0a")


def test_location_0x22_decodes_every_field():
    message = gt06.decode_frame(LOCATION_22, "864717003283581")
    assert (message.kind, message.serial, gt06.ack(message)) == ("location", 8, None)
    [p] = message.positions
    assert p.fix_time == datetime(2015, 12, 29, 2, 51, 5, tzinfo=UTC)
    assert p.lat == pytest.approx(0x027AC818 / 1_800_000) == pytest.approx(23.1116933, abs=1e-7)
    assert p.lon == pytest.approx(114.4092978, abs=1e-7)
    assert (p.speed_kmh, p.course, p.satellites, p.valid) == (0, 0, 9, True)
    assert p.extra["cell"] == {"mcc": 460, "mnc": 0, "lac": 0x287D, "cell_id": 0x1F71}
    assert (p.extra["ignition"], p.extra["upload_mode"], p.extra["reupload"]) == (False, 0, True)
    assert p.protocol == "gt06" and p.raw == LOCATION_22 and p.device_id == "864717003283581"


def test_location_0x22_without_fix_is_kept_but_not_valid():
    [p] = gt06.decode_frame(LOCATION_22_NO_FIX, "dev").positions
    assert p.valid is False
    assert p.fix_time == datetime(2017, 6, 22, 10, 16, 22, tzinfo=UTC)
    assert p.lat == pytest.approx(23.0106422, abs=1e-7) and p.lon == pytest.approx(72.5071956, abs=1e-7)
    assert (p.satellites, p.extra["ignition"], p.extra["reupload"]) == (6, True, True)


def test_location_0x12_with_speed_and_course():
    message = gt06.decode_frame(LOCATION_12, "dev")
    [p] = message.positions
    assert message.serial == 0x006A
    assert p.fix_time == datetime(2019, 3, 18, 11, 37, 36, tzinfo=UTC)
    assert p.lat == pytest.approx(11.3919128, abs=1e-7) and p.lon == pytest.approx(77.89064, abs=1e-7)
    assert (p.speed_kmh, p.course, p.satellites, p.valid) == (3, 51, 7, True)
    assert p.extra["cell"]["mcc"] == 404


def test_course_status_word_gives_southern_and_western_hemisphere():
    [p] = gt06.decode_frame(LOCATION_12_SOUTH_WEST, "dev").positions
    assert p.lat == pytest.approx(-5.2929394, abs=1e-7) and p.lon == pytest.approx(-44.4918594, abs=1e-7)
    assert (p.course, p.satellites) == (346, 15)
    assert p.extra["cell"]["mcc"] == 724      # Brazil: the hemisphere bits agree with the cell


def test_alarm_gives_position_status_and_answer():
    message = gt06.decode_frame(ALARM_16, "dev")
    assert message.kind == "alarm" and message.serial == 2
    [p] = message.positions
    assert p.fix_time == datetime(2019, 2, 12, 18, 20, 26, tzinfo=UTC)
    assert p.lat == pytest.approx(23.0583839, abs=1e-7) and p.lon == pytest.approx(113.3805456, abs=1e-7)
    assert message.status["charging"] is True and message.status["gps_tracking"] is True
    assert message.status["gsm_signal"] == 3 and message.status["alarm"] == "none"
    assert p.extra["alarm"] == "none"
    assert gt06.ack(message) == bytes.fromhex("787805160002e2d70d0a")


def test_alarm_0x26_vibration_without_fix():
    message = gt06.decode_frame(ALARM_26, "dev")
    [p] = message.positions
    assert (message.kind, message.serial) == ("alarm", 0x0D)
    assert p.fix_time == datetime(2018, 3, 12, 6, 56, 22, tzinfo=UTC)
    assert p.lat == pytest.approx(22.5758333, abs=1e-7) and p.lon == pytest.approx(113.9156533, abs=1e-7)
    assert (p.speed_kmh, p.course, p.satellites, p.valid) == (1, 3, 3, False)
    assert p.extra["cell"] == {"mcc": 460, "mnc": 0, "lac": 0x2866, "cell_id": 0x0EEE}
    assert (message.status["alarm"], message.status["terminal_alarm"]) == ("vibration", "vibration")
    assert (message.status["battery_level"], message.status["gsm_signal"], message.status["charging"]) == (6, 4, True)
    assert gt06.ack(message)[:6] == bytes.fromhex("78780526000d")


def test_heartbeat_status_and_answer():
    message = gt06.decode_frame(HEARTBEAT, "dev")
    assert message.kind == "heartbeat" and message.serial == 0x12 and message.positions == []
    assert message.status == {"armed": False, "ignition": False, "charging": True,
                              "terminal_alarm": "none", "gps_tracking": True, "fuel_cut": False,
                              "battery_level": 6, "gsm_signal": 4}
    answer = gt06.ack(message)
    assert answer[:6] == bytes.fromhex("787805130012") and answer[-2:] == b"\r\n"
    assert answer[6:8] == gt06.crc16_itu(answer[2:6]).to_bytes(2, "big")


def test_location_before_login_is_refused():
    with pytest.raises(DecodeError, match="before login"):
        gt06.decode_frame(LOCATION_22, None)


def test_unknown_packet_type_is_reported_as_other_without_answer():
    message = gt06.decode_frame(bytes.fromhex("7878075f010200151aef0d0a"), "dev")
    assert (message.kind, message.protocol_number, gt06.ack(message)) == ("other", 0x5F, None)


def test_split_frame_cuts_packets_from_a_stream():
    stream = LOGIN + LOCATION_22 + LOCATION_12[:7]
    first, rest = gt06.split_frame(stream)
    second, rest = gt06.split_frame(rest)
    assert (first, second) == (LOGIN, LOCATION_22)
    assert gt06.split_frame(rest) == (None, rest)
    assert gt06.split_frame(b"\x78") == (None, b"\x78")


def test_long_packet_start_is_framed_by_its_two_byte_length():
    body = bytes.fromhex("0006") + bytes([0x94, 0x00]) + bytes.fromhex("0007")
    frame = gt06.LONG_START + body + gt06.crc16_itu(body).to_bytes(2, "big") + gt06.STOP
    assert gt06.split_frame(frame + b"\x78") == (frame, b"\x78")
    assert gt06.decode_frame(frame, "dev").serial == 7


@pytest.mark.parametrize("stream", [b"\x00\x01\x02", b"\x78\x78\x05\x01\x00\x01\xd9\xdc\x0d\x0b"])
def test_garbage_or_missing_stop_bytes_is_an_error(stream):
    with pytest.raises(DecodeError):
        gt06.split_frame(stream)


def test_corrupted_packet_fails_its_crc():
    corrupted = bytearray(LOCATION_22)
    corrupted[10] ^= 0x40
    with pytest.raises(ChecksumError):
        gt06.decode_frame(bytes(corrupted), "dev")


def test_hostile_input_only_ever_raises_decode_error():
    rng = random.Random(6)
    samples = [LOGIN, LOCATION_22, LOCATION_12, ALARM_16, HEARTBEAT]
    inputs = [s[:n] for s in samples for n in range(len(s))]
    for _ in range(400):
        packet = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 3)):
            packet[rng.randrange(3, len(packet) - 6)] = rng.randrange(256)
        packet[-4:-2] = gt06.crc16_itu(bytes(packet[2:-4])).to_bytes(2, "big")   # re-seal
        inputs.append(bytes(packet))
    inputs += [b"\x78\x78" + rng.randbytes(rng.randint(0, 40)) for _ in range(200)]
    for data in inputs:
        try:
            frame, _ = gt06.split_frame(data)
            if frame is not None:
                gt06.decode_frame(frame, "dev")
        except DecodeError:
            pass


# ---------------------------------------------------------------------------------------------
# Every position-carrying packet type of the Concox/Jimi documents, one literal packet each,
# built by hand field by field (CRC-ITU computed over length..serial). Unless a comment says
# otherwise the date-time is 1a0c040a1e00 = 2026-12-04 10:30:00 and the GPS block is
#   satellites byte (high nibble 0xc = block length 12, low nibble = satellites),
#   latitude and longitude in 1/1,800,000 degree, speed km/h, course/status word
#   (bit 12 valid, bit 11 west, bit 10 north, bits 0-9 course);
# 2G cell 01ad 01 1234 00abcd = MCC 429 (Kyrgyzstan), MNC 1, LAC 0x1234, cell 0xabcd;
# 4G cell 01ad 01 00004e21 0000000000a1b2c3 = LAC 20001 (4 bytes), cell 0xa1b2c3 (8 bytes).
OSH, BISHKEK, KADAMJAI = (40.528, 72.799), (42.875, 74.590), (40.130, 71.724)
TOKTOGUL, NARYN, KARA_BALTA = (41.873, 72.941), (41.429, 75.991), (42.814, 73.848)
AT_1030 = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
CELL_2G = {"mcc": 429, "mnc": 1, "lac": 0x1234, "cell_id": 0xABCD}
CELL_4G = {"mcc": 429, "mnc": 1, "lac": 20001, "cell_id": 0xA1B2C3}

POSITION_PACKETS = {
    # 0x10 GPS only: Bishkek, 8 satellites, standing, course 0
    0x10: ("787817101a0c040a1e00c8049998d80800acf00014000003d85b0d0a",
           BISHKEK, 0, 0, 8, None),
    # 0x11 GPS + cell with 2-byte MNC and 4-byte cell id; status 1c5a = valid, west, north, course 90
    0x11: ("787821111a0c040a1e00c7044e341007b1f5602d1c5a01ad0001123400abcdef0004960f0d0a",
           (KADAMJAI[0], -KADAMJAI[1]), 45, 90, 7, {"mcc": 429, "mnc": 1, "lac": 0x1234, "cell_id": 0xABCDEF}),
    # 0x1A GPS + cell + phone number (21 bytes) + language
    0x1A: ("7878361a1a0c040a1e00c6047e138807d3626814140001ad01123400abcd2b393936353535313233343536"
           "0000000000000000000200051e100d0a", TOKTOGUL, 20, 0, 6, CELL_2G),
    # 0x2D GPS + cell + ACC on, upload mode 2, real-time
    0x2D: ("7878222d1a0c040a1e00c50471e1a8082727b850150001ad01123400abcd0102000006bdb40d0a",
           NARYN, 80, 256, 5, CELL_2G),
    # 0x31 GPS + cell (AZ735)
    0x31: ("78781f311a0c040a1e00c40497ebf007ec4bc00a141001ad01123400abcd0007b36c0d0a",
           KARA_BALTA, 10, 16, 4, CELL_2G),
    # 0x37 GPS + cell + ACC/event/archive + module 0x0027 (external power 12.00 V)
    0x37: ("787827371a0c040a1e00c80459228007cf7bf81e140101ad01123400abcd00000100270204b00008ee4d0d0a",
           OSH, 30, 1, 8, CELL_2G),
    # 0xA0 4G location (JM-VL03, GK310): 60 km/h, course 123, 4G cell, ACC on, mileage 123456 m
    0xA0: ("78782da01a0c040a1e00c90459228007cf7bf83c147b01ad0100004e210000000000a1b2c30100000001e240"
           "004245d10d0a", OSH, 60, 123, 9, CELL_4G),
    # 0x34 X1: 4 bytes of data/alarm flags, GPS block (11 satellites, 50 km/h), terminal info, odometer
    0x34: ("78782134000000001a0c040a1e00cb0471e1a8082727b8321400000000000064000e29f40d0a",
           NARYN, 50, 0, 11, None),
    # 0x2A GPS address request: GPS block, phone number, language
    0x2A: ("78782e2a1a0c040a1e00c90497ebf007ec4bc00014002b3939363535353132333435360000000000000000"
           "000100108c1a0d0a", KARA_BALTA, 0, 0, 9, None),
}


@pytest.mark.parametrize("number", sorted(POSITION_PACKETS))
def test_every_location_packet_type_gives_its_position(number):
    raw, (lat, lon), speed, course, satellites, cell = POSITION_PACKETS[number]
    frame = bytes.fromhex(raw)
    message = gt06.decode_frame(frame, "864717003283581")
    [p] = message.positions
    assert message.protocol_number == number
    assert p.fix_time == AT_1030
    assert (p.lat, p.lon) == (pytest.approx(lat, abs=1e-6), pytest.approx(lon, abs=1e-6))
    assert (p.speed_kmh, p.course, p.satellites, p.valid) == (speed, course, satellites, True)
    assert p.extra.get("cell") == cell and p.raw == frame and p.device_id == "864717003283581"


def test_4g_location_0xa0_reads_ignition_and_mileage_and_is_not_answered():
    message = gt06.decode_frame(bytes.fromhex(POSITION_PACKETS[0xA0][0]), "dev")
    [p] = message.positions
    assert (p.extra["ignition"], p.extra["reupload"], p.extra["odometer_m"]) == (True, False, 123456)
    assert (message.kind, message.serial, gt06.ack(message)) == ("location", 0x42, None)


def test_gps_address_request_is_answered_with_an_empty_english_address():
    message = gt06.decode_frame(bytes.fromhex(POSITION_PACKETS[0x2A][0]), "dev")
    # 7979, length 0x15, 0x97, command length 11, server flag 0, "NA&&NA&&0##", serial 0x10, CRC, stop
    assert gt06.ack(message) == bytes.fromhex("79790015970b000000004e4126264e4126263023230010f69f0d0a")


ALARM_PACKETS = {
    # 0x27 2G alarm: Bishkek, LBS length 9 + 2G cell, terminal 0x46 (ignition, charging, GPS on),
    # battery 4, GSM 3, alarm 05 = fence_out, language 0002, fence 3
    0x27: ("787827271a0c040a1e00c9049998d80800acf00014000901ad01123400abcd460403050002030009aa9f0d0a",
           BISHKEK, "fence_out", CELL_2G, 3, "78780527000980760d0a"),
    # 0xA4 4G multi-fence alarm: LBS length 16 + 4G cell, alarm 04 = fence_in, fence 1
    0xA4: ("78782ea41a0c040a1e00c90459228007cf7bf83c147b1001ad0100004e210000000000a1b2c3460403040002"
           "01000af6e90d0a", OSH, "fence_in", CELL_4G, 1, None),
    # 0xA3 4G single-fence alarm: alarm 01 = SOS, no fence number
    0xA3: ("78782da31a0c040a1e00c90459228007cf7bf83c147b1001ad0100004e210000000000a1b2c3420502010002"
           "000b22860d0a", OSH, "sos", CELL_4G, None, None),
    # 0x32 2G alarm (AZ735): alarm 06 = overspeed
    0x32: ("787826321a0c040a1e00c9044e341007b1f5600514640901ad01123400abcd460403060002000c8b1d0d0a",
           KADAMJAI, "overspeed", CELL_2G, None, None),
}


@pytest.mark.parametrize("number", sorted(ALARM_PACKETS))
def test_every_alarm_packet_type_gives_position_alarm_and_answer(number):
    raw, (lat, lon), alarm, cell, fence, answer = ALARM_PACKETS[number]
    message = gt06.decode_frame(bytes.fromhex(raw), "dev")
    [p] = message.positions
    assert (message.kind, p.fix_time, p.extra["alarm"], p.extra["cell"]) == ("alarm", AT_1030, alarm, cell)
    assert (p.lat, p.lon) == (pytest.approx(lat, abs=1e-6), pytest.approx(lon, abs=1e-6))
    assert p.extra.get("fence") == fence
    assert message.status["alarm"] == alarm and p.extra["gsm_signal"] == message.status["gsm_signal"] > 0
    reply = gt06.ack(message)
    assert reply[:6] == bytes([0x78, 0x78, 5, number]) + message.serial.to_bytes(2, "big")
    assert reply[6:8] == gt06.crc16_itu(reply[2:6]).to_bytes(2, "big") and reply[-2:] == b"\r\n"
    if answer:
        assert reply == bytes.fromhex(answer)


def test_dashcam_alarm_0x95_has_a_position_without_satellites_or_speed():
    # date-time, Toktogul, course/status 1410 (valid, north, course 16), alarm 0x93 = accident
    message = gt06.decode_frame(bytes.fromhex("787816951a0c040a1e00047e138807d36268141093000d82430d0a"), "dev")
    [p] = message.positions
    assert (p.fix_time, p.course, p.satellites, p.speed_kmh) == (AT_1030, 16, None, None)
    assert (p.lat, p.lon) == (pytest.approx(TOKTOGUL[0], abs=1e-6), pytest.approx(TOKTOGUL[1], abs=1e-6))
    assert message.status == {"alarm": "accident"}
    assert gt06.ack(message)[:6] == bytes.fromhex("78780595000d")


def test_modular_packet_0x70_reads_the_gps_module():
    # module 0x0033 (18 bytes): epoch 0x6b129628 = 2026-12-04 10:30 UTC, 10 satellites,
    # altitude 880 m, Naryn, 40 km/h, status 14c8 = valid, north, course 200; module 0x0018 battery
    frame = bytes.fromhex("78782170003300126b1296280a03700471e1a8082727b82814c8001800020190000fd9000d0a")
    message = gt06.decode_frame(frame, "dev")
    [p] = message.positions
    assert (p.fix_time, p.satellites, p.altitude_m, p.speed_kmh, p.course) == (AT_1030, 10, 880, 40, 200)
    assert (p.lat, p.lon) == (pytest.approx(NARYN[0], abs=1e-6), pytest.approx(NARYN[1], abs=1e-6))
    assert gt06.ack(message) == bytes.fromhex("78780570000feaa60d0a")


def test_extended_login_time_zone_applies_to_the_devices_later_times():
    # login: IMEI, type 3620, time zone 2582 = 600 (UTC+6:00, Bishkek) << 4, east, language 2
    login = gt06.decode_frame(bytes.fromhex("7878110108647170032835813620258200013c730d0a"), None)
    assert (login.imei, login.offset) == ("864717003283581", timedelta(hours=6))
    # a 0x22 location at 16:30 device time is 10:30 UTC
    local = bytes.fromhex("787822221a0c04101e00c9049998d80800acf028140001ad01123400abcd010000001656770d0a")
    [p] = gt06.decode_frame(local, login.imei, login.offset).positions
    assert p.fix_time == AT_1030


def test_extended_login_west_of_greenwich():
    # 14a8 = 330 (3 h 30 min) << 4, bit 3 set: west
    login = gt06.decode_frame(bytes.fromhex("787811010864717003283581362014a800011c7b0d0a"), None)
    assert login.offset == -timedelta(hours=3, minutes=30)
    assert gt06.ack(login) == bytes.fromhex("787805010001d9dc0d0a")   # the document's login answer


@pytest.mark.parametrize("raw,number,status", [
    # 0x23 (GK310): terminal 0x46, voltage 0x0190 = 4.00 V, GSM 4, language 2
    ("78780b23460190040002001166210d0a", 0x23, {"battery_v": 4.0, "gsm_signal": 4}),
    # 0x36 (LL301 heartbeat): content not read, answered all the same
    ("78780a364606040002001289e40d0a", 0x36, {}),
])
def test_heartbeats_0x23_and_0x36_are_answered(raw, number, status):
    message = gt06.decode_frame(bytes.fromhex(raw), "dev")
    assert message.kind == "heartbeat" and message.positions == []
    assert status.items() <= message.status.items()
    reply = gt06.ack(message)
    assert reply[:6] == bytes([0x78, 0x78, 5, number]) + message.serial.to_bytes(2, "big")


def test_time_request_is_answered_with_the_utc_date_time():
    message = gt06.decode_frame(bytes.fromhex("7878058a0005bab20d0a"), "dev")
    assert message.kind == "time_request"
    now = datetime(2026, 12, 4, 16, 45, 7, tzinfo=timezone(timedelta(hours=6)))   # 10:45:07 UTC
    body = bytes.fromhex("0b8a" "1a0c040a2d07" "0005")
    assert gt06.ack(message, now) == b"\x78\x78" + body + gt06.crc16_itu(body).to_bytes(2, "big") + b"\r\n"


# 0x69: byte 2 counts access points (2), BCD time 26-12-04 10:30:00, two MACs with signal,
# one cell (MCC 429, MNC 1, LAC 0x1234, cell 0xabcd, signal 0x50); no serial, no CRC
WIFI_69 = bytes.fromhex("78780269261204103000a0b1c2d3e4f545a0b1c2d3e4f6380101ad011234abcd500d0a")
WIFI_17 = bytes.fromhex("78780117261204103000a0b1c2d3e4f5450001ad010d0a")


def test_wifi_packet_with_a_count_is_framed_decoded_and_answered_with_its_time():
    stream = WIFI_69 + LOCATION_12 + WIFI_17
    first, rest = gt06.split_frame(stream)
    second, rest = gt06.split_frame(rest)
    third, rest = gt06.split_frame(rest)
    assert (first, second, third, rest) == (WIFI_69, LOCATION_12, WIFI_17, b"")
    message = gt06.decode_frame(WIFI_69, "dev")
    assert (message.kind, message.positions) == ("status", [])
    assert [ap["mac"] for ap in message.status["wifi"]] == ["a0:b1:c2:d3:e4:f5", "a0:b1:c2:d3:e4:f6"]
    assert message.status["cells"] == [{"mcc": 429, "mnc": 1, "lac": 0x1234, "cell_id": 0xABCD, "rssi": 0x50}]
    assert gt06.ack(message) == bytes.fromhex("787800692612041030000d0a")
    assert gt06.ack(gt06.decode_frame(WIFI_17, "dev")) == bytes.fromhex("787800172612041030000d0a")


# 0x17 length-framed: the LBS phone-number packet (length 0x24, cell MCC 429 MNC 1 LAC 0x1234
# cell 0xabcd, phone "+996555123456" NUL-padded to 21 bytes, language 2, serial 7, CRC 0x2237)
LBS_PHONE_17 = bytes.fromhex("7878241701ad01123400abcd2b3939363535353132333435360000000000000000000200072237"
                             "0d0a")


def test_0x17_whose_length_byte_leads_to_its_stop_bytes_is_the_lbs_phone_packet_not_wifi():
    stream = WIFI_17 + LBS_PHONE_17 + LOCATION_12 + LBS_PHONE_17
    frames = []
    while stream:
        frame, stream = gt06.split_frame(stream)
        frames.append(frame)
    assert frames == [WIFI_17, LBS_PHONE_17, LOCATION_12, LBS_PHONE_17]
    message = gt06.decode_frame(LBS_PHONE_17, "dev")
    assert (message.kind, message.serial, message.positions) == ("status", 7, [])
    assert message.status == {"cell": {"mcc": 429, "mnc": 1, "lac": 0x1234, "cell_id": 0xABCD},
                              "phone": "+996555123456", "language": 2}
    assert gt06.ack(message) is None
    wifi = gt06.decode_frame(WIFI_17, "dev")
    assert (wifi.kind, len(wifi.status["wifi"])) == ("status", 1)


def test_0x17_lbs_phone_packet_waits_for_its_end_and_a_bad_crc_is_not_taken_for_it():
    assert gt06.split_frame(LBS_PHONE_17[:30]) == (None, LBS_PHONE_17[:30])
    broken = LBS_PHONE_17[:-4] + b"\x00\x00" + LBS_PHONE_17[-2:]
    assert not gt06.is_counted(LBS_PHONE_17) and gt06.is_counted(broken)
    with pytest.raises(DecodeError):
        gt06.decode_frame(broken, "dev")


def test_wifi_packet_waits_for_its_end():
    assert gt06.split_frame(WIFI_69[:20]) == (None, WIFI_69[:20])


@pytest.mark.parametrize("raw,kind", [
    # 0x2C LBS + Wi-Fi (LL301): 7 cells, timing advance, 2 access points: no fix, no answer
    ("7878482c1a0c040a1e0001ad01123400abcd50123500abce480000000000000000000000000000000000000000"
     "00000000000000000000ff02a0b1c2d3e4f540a0b1c2d3e4f6380013655b0d0a", "status"),
    # 0x94 information (long packet): sub-type 0, external voltage
    ("79790008940004b00014a42a0d0a", "status"),
    # 0x98 information transmission (long packet): module 00, length 8, the IMEI
    ("79790010980000080864717003283581001777f60d0a", "status"),
])
def test_cell_and_information_packets_have_no_position_and_no_answer(raw, kind):
    message = gt06.decode_frame(bytes.fromhex(raw), "dev")
    assert (message.kind, message.positions, gt06.ack(message)) == (kind, [], None)


def test_resync_skips_to_the_next_start_bytes():
    assert gt06.resync(b"\x01\x02\x78\x78\x05") == 2
    assert gt06.resync(b"\x78\x78\x00\x00\x79\x79") == 4
    assert gt06.resync(b"\x01\x02\x03") == 3
    assert gt06.resync(b"\x01\x02\x78") == 2     # the last byte may begin a packet


def test_hostile_versions_of_every_new_packet_type_only_raise_decode_error():
    rng = random.Random(15)
    samples = [bytes.fromhex(raw) for raw, *_ in POSITION_PACKETS.values()]
    samples += [bytes.fromhex(raw) for raw, *_ in ALARM_PACKETS.values()]
    samples += [bytes.fromhex("787816951a0c040a1e00047e138807d36268141093000d82430d0a"),
                bytes.fromhex("78782170003300126b1296280a03700471e1a8082727b82814c8001800020190000fd9000d0a"),
                bytes.fromhex("7878110108647170032835813620258200013c730d0a")]
    inputs = [WIFI_69[:n] + b"\r\n" for n in range(4, len(WIFI_69))]
    for _ in range(1500):
        packet = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 4)):
            packet[rng.randrange(4, len(packet) - 6)] = rng.randrange(256)
        packet[-4:-2] = gt06.crc16_itu(bytes(packet[2:-4])).to_bytes(2, "big")   # re-seal
        inputs.append(bytes(packet))
    for data in inputs:
        try:
            frame, _ = gt06.split_frame(data)
            if frame is not None:
                message = gt06.decode_frame(frame, "dev", timedelta(hours=rng.randint(-12, 14)))
                gt06.ack(message)
        except DecodeError:
            pass


def test_login_with_a_time_zone_field_that_is_none_is_still_a_login():
    # time-zone word ffff: 4095 -> 40 h 95 min, not a time zone: the login stands, times stay UTC
    body = bytes.fromhex("11010864717003283581" "3620" "ffff" "0001")
    frame = gt06.SHORT_START + body + gt06.crc16_itu(body).to_bytes(2, "big") + gt06.STOP
    login = gt06.decode_frame(frame, None)
    assert (login.kind, login.imei, login.offset) == ("login", "864717003283581", None)
