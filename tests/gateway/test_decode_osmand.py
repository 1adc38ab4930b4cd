"""OsmAnd protocol: literal requests from Traccar's OsmAndProtocolDecoderTest (query and JSON forms)."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from beacon_gateway.decoders import osmand
from beacon_gateway.position import DecodeError

UTC = timezone.utc
RECEIVED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TRACCAR_CLIENT_JSON = (
    b'{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    b'"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    b'"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    b'"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084'
    b'&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}')
TRACCAR_CLIENT_MOVING = (
    b'{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75",'
    b'"timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,'
    b'"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,'
    b'"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still",'
    b'"confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}')

# (request, device id, fix time, lat, lon, speed km/h, course, altitude, hdop, extra subset)
QUERIES = [
    ("/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
     "902064", datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC), 42.06288, -88.23412, 0.0, None, 224.0, 6.0, {}),
    ("/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
     "902064", datetime(2015, 9, 12, 14, 38, 6, 579000, tzinfo=UTC), 42.06288, -88.23412, 0.0, None, 224.0,
     6.0, {}),
    ("/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681",
     "353861053849681", datetime(2014, 6, 4, 9, 10, 11, tzinfo=UTC), 49.60688, 6.15788, 0.0, None, 384.7,
     None, {}),
    ("/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0",
     "123456", datetime(2013, 8, 22, 13, 14, 27, tzinfo=UTC), 60.0, 30.0, 0.0, 0.0, 0.0, 0.0, {}),
    ("/?id=123456&timestamp=1377177267&location=60.0,30.0",
     "123456", datetime(2013, 8, 22, 13, 14, 27, tzinfo=UTC), 60.0, 30.0, None, None, None, None, {}),
    ("/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244"
     "&speed=40&ignition=true&rpm=933&fuel=24",
     "123456789012345", datetime(2017, 9, 7, 5, 56, 50, tzinfo=UTC), 40.7232948571, -74.0061408571,
     40 * 1.852, 7.19889788244, None, None, {"ignition": True, "rpm": 933.0, "fuel": 24.0}),
    ("/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456",
     "123456", RECEIVED, 60.0, 30.0, 0.0, 0.0, 0.0, None, {"vacc": 0.0, "time_source": "received"}),
    ("/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
     "861001000719969", RECEIVED, 41.666667, -0.883333, 0.0, None, 350.059479, None, {"battery_level": 87.0}),
]


@pytest.mark.parametrize("request_uri,device,fix_time,lat,lon,speed,course,altitude,hdop,extra", QUERIES)
def test_query_form_decodes_every_field(request_uri, device, fix_time, lat, lon, speed, course, altitude,
                                        hdop, extra):
    [p] = osmand.decode_request(request_uri.split("?", 1)[1], received_at=RECEIVED)
    assert (p.device_id, p.fix_time, p.lat, p.lon) == (device, fix_time, lat, lon)
    assert p.speed_kmh == (pytest.approx(speed) if speed is not None else None)
    assert (p.course, p.altitude_m, p.hdop, p.valid, p.protocol) == (course, altitude, hdop, True, "osmand")
    assert extra.items() <= dict(p.extra).items()


def test_whole_url_and_form_body_are_the_same_message():
    url = "http://gw.example:5055/?id=7&lat=1.5&lon=2.5&timestamp=1377177267&speed=10"
    [from_url] = osmand.decode_line(url)
    [from_body] = osmand.decode_request("", b"id=7&lat=1.5&lon=2.5&timestamp=1377177267&speed=10",
                                        "application/x-www-form-urlencoded")
    assert from_url == from_body
    assert from_url.speed_kmh == pytest.approx(18.52)
    assert from_url.raw == b"id=7&lat=1.5&lon=2.5&timestamp=1377177267&speed=10"


def test_repeated_parameters_are_all_kept_in_extra():
    [p] = osmand.decode_request("id=1&lat=60&lon=30&timestamp=1377177267&cell=257,02,16,2224"
                                "&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80")
    assert p.extra["cell"] == ["257,02,16,2224", "257,02,16,2223,-90"]
    assert p.extra["wifi"] == "00-14-22-01-23-45,-80"


def test_valid_flag_and_accuracy():
    [p] = osmand.decode_request("id=1&lat=1&lon=2&timestamp=1377177267&valid=false&accuracy=12.5")
    assert (p.valid, p.accuracy_m) == (False, 12.5)
    [q] = osmand.decode_request("id=1&lat=1&lon=2&timestamp=1377177267&valid=1")
    assert q.valid is True


def test_traccar_client_json_at_rest():
    [p] = osmand.decode_request("", TRACCAR_CLIENT_JSON, "application/json")
    assert (p.device_id, p.fix_time) == ("48241179", datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC))
    assert (p.lat, p.lon, p.accuracy_m, p.speed_kmh, p.altitude_m) == (37.4219983, -122.084, 5, 0, 5)
    assert p.course is None                       # heading -1: unknown
    assert p.extra == {"battery_level": 100, "charging": False, "motion": False, "odometer_m": 0,
                       "event": "motionchange", "activity": "still"}
    assert p.raw == TRACCAR_CLIENT_JSON


def test_traccar_client_json_speed_is_metres_per_second():
    [p] = osmand.decode_json(TRACCAR_CLIENT_MOVING)
    assert p.speed_kmh == pytest.approx(18.67 * 3.6) and p.course == 63
    assert (p.lat, p.lon, p.altitude_m, p.accuracy_m) == (-6.1148096, 106.6837015, 35.7, 3.8)
    assert p.extra["battery_level"] == 79.0 and p.device_id == "8737767034"


def test_json_list_of_locations_gives_one_position_each():
    body = (b'{"device_id": "d", "location": [{"timestamp": "2026-03-01T08:00:00Z", "coords": '
            b'{"latitude": 1, "longitude": 2}}, {"timestamp": 1772352030, "coords": {"latitude": 1.1, '
            b'"longitude": 2.1, "speed": -1}}]}')
    first, second = osmand.decode_json(body)
    assert second.fix_time == datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC) and second.speed_kmh is None
    assert first.raw == b'{"coords":{"latitude":1,"longitude":2},"timestamp":"2026-03-01T08:00:00Z"}'


def test_json_list_with_text_that_is_not_unicode_is_refused():
    body = (b'{"device_id": "d", "location": [{"timestamp": "2026-03-01T08:00:00Z", "coords": '
            b'{"latitude": 1, "longitude": 2}, "extras": {"\\ud800": 1}}, {"timestamp": "2026-03-01T08:00:30Z", '
            b'"coords": {"latitude": 1, "longitude": 2}}]}')
    with pytest.raises(DecodeError, match="surrogate"):
        osmand.decode_json(body)


@pytest.mark.parametrize("query,message", [
    ("id=123456&timestamp=1377177267&cell=257,02,16,2224&wifi=00-14-22-01-23-45,-80", "no coordinates"),
    ("timestamp=1377177267&lat=60.0&lon=30.0", "no id"),
    ("id=1&lat=95&lon=30", "lat"),
    ("id=1&lat=50&lon=30&timestamp=yesterday", "timestamp"),
    ("id=1&lat=50&lon=30&speed=fast", "speed"),
    ("id=1&location=50", "location"),
    ("", "neither"),
])
def test_bad_query_is_refused_with_a_precise_message(query, message):
    with pytest.raises(DecodeError, match=message):
        osmand.decode_request(query)


def test_id_must_match_the_authenticated_device():
    with pytest.raises(DecodeError, match="authenticated"):
        osmand.decode_request("id=1&lat=1&lon=1", device_id="2")
    assert osmand.decode_request("lat=1&lon=1", device_id="2")[0].device_id == "2"


def test_hostile_input_only_ever_raises_decode_error():
    rng = random.Random(3)
    samples = [TRACCAR_CLIENT_JSON, TRACCAR_CLIENT_MOVING] + [q[0].encode() for q in QUERIES]
    inputs = [s[:n] for s in samples for n in range(0, len(s), 5)]
    inputs += [rng.randbytes(rng.randint(0, 80)) for _ in range(300)]
    inputs += [b'{"location": {"coords": []}}', b'{"location": []}', b'{"location": [1]}',
               b'{"device_id": [], "location": {"coords": {"latitude": 1, "longitude": 1}}}',
               b'{"location": {"timestamp": 1' + b"0" * 400 + b', "coords": {"latitude": 1' + b"0" * 400
               + b', "longitude": 1}}}', b"id=1&lat=1&lon=2&timestamp=1" + b"0" * 400]
    for data in inputs:
        try:
            osmand.decode_line(data)
        except DecodeError:
            pass


# ------------------------------------------------------------------ the device key in the server URL
KEY = "mt_" + "k" * 43


@pytest.mark.parametrize(("query", "body", "content_type", "key"), [
    (f"key={KEY}&id=1&lat=1&lon=2", b"", None, KEY),                          # Traccar Client 8: URL + params
    (f"?key={KEY}", TRACCAR_CLIENT_JSON, "application/json", KEY),            # Traccar Client 9: JSON to the URL
    ("", f"id=1&lat=1&lon=2&key={KEY}".encode(), "application/x-www-form-urlencoded", KEY),
    ("id=1&lat=1&lon=2", b"", None, None),                                    # no key: the attack
    (f"key={KEY}&key=mt_other", b"", None, None),                             # two keys: neither
    ("", f'{{"key": "{KEY}"}}'.encode(), "application/json", None),           # not a JSON field
    ("", b"key=\xff\xfe", "application/x-www-form-urlencoded", None),         # not text
])
def test_request_key_comes_from_the_url_or_a_form_body(query, body, content_type, key) -> None:
    assert osmand.request_key(query, body, content_type) == key


def test_key_is_dropped_from_the_position_its_raw_message_and_extra() -> None:
    [position] = osmand.decode_request(f"key={KEY}&id=7&lat=40.5&lon=72.8&timestamp=1764000000&k%65y={KEY}")
    assert position.device_id == "7" and (position.lat, position.lon) == (40.5, 72.8)
    assert position.raw == b"id=7&lat=40.5&lon=72.8&timestamp=1764000000"
    assert KEY not in repr(position.extra)


def test_json_body_posted_to_a_url_with_only_the_key_is_decoded() -> None:
    [position] = osmand.decode_request(f"key={KEY}", TRACCAR_CLIENT_JSON, "application/json")
    assert position.device_id == "48241179" and position.lat == pytest.approx(37.4219983)
    assert KEY.encode() not in position.raw


@pytest.mark.parametrize("device_id", ["\x00123", "9" * 65, "\udc80", "a\nb"])
def test_hostile_device_ids_are_refused(device_id: str) -> None:
    with pytest.raises(DecodeError, match="printable"):
        osmand.decode_query(f"id={device_id}&lat=1&lon=2")


def test_cell_and_wifi_without_coordinates_is_a_status_not_a_position():
    status = osmand.decode_status("key=mt_secret&id=7&timestamp=1764000000&cell=437,1,4660,43981,-70"
                                  "&cell=437,1,4660,43982&wifi=a0-b1-c2-d3-e4-f5,-60")
    assert status is not None and status.device_id == "7"
    assert status.extra["cell"] == ["437,1,4660,43981,-70", "437,1,4660,43982"]
    assert status.extra["wifi"] == "a0-b1-c2-d3-e4-f5,-60" and b"mt_secret" not in status.raw


@pytest.mark.parametrize("query", [
    "id=7&lat=40.5&lon=72.8&cell=437,1,4660,43981",      # a position that also names its cell
    "id=7&location=40.5,72.8&wifi=a0-b1-c2-d3-e4-f5,-60",
    "id=7&timestamp=1764000000",                          # nothing at all: refused by decode_request
])
def test_a_request_with_coordinates_or_without_networks_is_no_status(query):
    assert osmand.decode_status(query) is None
