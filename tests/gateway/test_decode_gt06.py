"""GT06 (Concox): literal packets from Traccar's Gt06ProtocolDecoderTest and the GT06 protocol
document, each decoded field checked by hand against the protocol's byte layout."""
from __future__ import annotations

import random
from datetime import datetime, timezone

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
    message = gt06.decode_frame(bytes.fromhex("78780c95130a071223200100013ad10d0a"), "dev")
    assert (message.kind, message.protocol_number, gt06.ack(message)) == ("other", 0x95, None)


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
