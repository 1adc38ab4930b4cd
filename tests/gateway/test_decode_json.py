"""The native JSON batch: literal bodies, every field, and whole-batch refusal of bad pings."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from beacon_gateway.decoders import json_batch
from beacon_gateway.decoders.json_batch import BatchError
from beacon_gateway.position import DecodeError

UTC = timezone.utc
BATCH = b"""{"device_id": "KG-0001", "pings": [
 {"fix_time": "2026-03-01T08:00:00Z", "lat": 42.875, "lon": 74.59, "speed_kmh": 62.5,
  "course": 270, "altitude_m": 760.5, "accuracy_m": 8, "hdop": 0.9, "satellites": 9,
  "valid": true, "battery": 87},
 {"fix_time": 1772352030, "lat": 42.8751, "lon": 74.5891},
 {"fix_time": 1772352060500, "lat": -33.5, "lon": -70.25, "valid": false},
 {"fix_time": "2026-03-01T14:01:30+06:00", "lat": 40.528, "lon": 72.799, "speed_kmh": null}
]}"""


def test_batch_decodes_every_field_of_every_ping():
    first, second, third, fourth = json_batch.decode_batch(BATCH)
    assert first.device_id == "KG-0001" and first.protocol == "json"
    assert first.fix_time == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert (first.lat, first.lon, first.speed_kmh, first.course) == (42.875, 74.59, 62.5, 270)
    assert (first.altitude_m, first.accuracy_m, first.hdop, first.satellites) == (760.5, 8, 0.9, 9)
    assert first.valid is True and first.extra == {"battery": 87}
    assert second.fix_time == datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC)         # epoch seconds
    assert (second.speed_kmh, second.course, second.satellites) == (None, None, None)
    assert third.fix_time == datetime(2026, 3, 1, 8, 1, 0, 500000, tzinfo=UTC)   # epoch ms
    assert (third.lat, third.lon, third.valid) == (-33.5, -70.25, False)
    assert fourth.fix_time == datetime(2026, 3, 1, 8, 1, 30, tzinfo=UTC)         # offset → UTC
    assert fourth.speed_kmh is None


def test_each_ping_keeps_its_own_canonical_json_as_raw():
    positions = json_batch.decode_batch(BATCH)
    assert positions[1].raw == b'{"fix_time":1772352030,"lat":42.8751,"lon":74.5891}'
    reordered = {"lon": 74.5891, "fix_time": 1772352030, "lat": 42.8751}
    again = json_batch.decode_batch({"device_id": "KG-0001", "pings": [reordered]})
    assert again[0].raw == positions[1].raw     # the same ping resent is the same evidence
    assert json.loads(positions[0].raw)["battery"] == 87


def test_one_bad_ping_refuses_the_whole_batch_listing_every_problem():
    body = {"device_id": "KG-0001", "pings": [
        {"fix_time": "2026-03-01T08:00:00Z", "lat": 42.0, "lon": 74.0},
        {"fix_time": "2026-03-01T08:00:30", "lat": 91, "lon": 74.0},
        {"lat": 42.0, "lon": "east", "satellites": 7.5, "valid": "yes"},
    ]}
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch(body)
    assert refused.value.fields == {
        "pings[1].fix_time": "time '2026-03-01T08:00:30' has no time zone (add Z or an offset)",
        "pings[1].lat": "must be between -90.0 and 90.0",
        "pings[2].fix_time": "is required",
        "pings[2].lon": "must be a number, not 'east'",
        "pings[2].satellites": "must be a whole number",
        "pings[2].valid": "must be true or false",
    }
    assert "pings[1].lat" in str(refused.value)


def test_ping_index_ten_is_not_confused_with_index_one():
    pings = [{"fix_time": 1772352000 + i, "lat": 1.0, "lon": 1.0} for i in range(11)]
    pings[10]["lat"] = 100
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch({"device_id": "d", "pings": pings})
    assert list(refused.value.fields) == ["pings[10].lat"]


@pytest.mark.parametrize("body,field", [
    (b"not json", "body"),
    (b"[1, 2]", "body"),
    (b'{"pings": [{"fix_time": 1, "lat": 1, "lon": 1}]}', "device_id"),
    (b'{"device_id": "d", "pings": []}', "pings"),
    (b'{"device_id": "d", "pings": [{"fix_time": 1772352000, "lat": NaN, "lon": 1}]}', "body"),
    (b'{"device_id": "d", "pings": [{"fix_time": 1772352000, "lat": true, "lon": 1}]}', "pings[0].lat"),
    (b'{"device_id": "d", "pings": [{"fix_time": 1772352000, "lat": 1, "lon": 1, "course": 400}]}',
     "pings[0].course"),
    (b'{"device_id": "d", "pings": [{"fix_time": 1772352000, "lat": 1, "lon": 1, "speed_kmh": -1}]}',
     "pings[0].speed_kmh"),
    (b'{"device_id": "d", "pings": [7]}', "pings[0]"),
])
def test_bad_bodies_name_the_field_at_fault(body, field):
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch(body)
    assert field in refused.value.fields


def test_authenticated_device_may_omit_device_id_but_not_contradict_it():
    ping = {"fix_time": "2026-03-01T08:00:00Z", "lat": 1.0, "lon": 2.0}
    assert json_batch.decode_batch({"pings": [ping]}, device_id="dev-7")[0].device_id == "dev-7"
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch({"device_id": "other", "pings": [ping]}, device_id="dev-7")
    assert "device_id" in refused.value.fields


def test_single_ping_and_bare_list_payloads_are_accepted_for_a_known_device():
    ping = {"fix_time": "2026-03-01T08:00:00Z", "lat": 1.0, "lon": 2.0}
    assert len(json_batch.decode_batch(json.dumps(ping), device_id="d")) == 1
    assert len(json_batch.decode_batch(json.dumps([ping, ping]), device_id="d")) == 2


def test_oversized_body_is_refused_before_parsing():
    with pytest.raises(BatchError, match="larger than"):
        json_batch.decode_batch(b" " * (json_batch.MAX_BODY_BYTES + 1))


def test_hostile_input_only_ever_raises_decode_error():
    rng = random.Random(1)
    inputs = [BATCH[:n] for n in range(0, len(BATCH), 7)]
    inputs += [rng.randbytes(rng.randint(0, 60)) for _ in range(200)]
    inputs += [b"[" * 100_000, b'{"device_id": "d", "pings": [{"fix_time": 1e400, "lat": 1, "lon": 1}]}',
               b'{"device_id": "d", "pings": [{"fix_time": -5, "lat": 1, "lon": 1}]}',
               b'{"device_id": "d", "pings": [{"fix_time": {}, "lat": [], "lon": {}}]}',
               b'{"device_id": "d", "pings": [{"fix_time": 1' + b"0" * 400 + b', "lat": 1' + b"0" * 400
               + b', "lon": 1}]}']
    for data in inputs:
        try:
            json_batch.decode_batch(data)
        except DecodeError:
            pass


def test_text_that_is_not_unicode_refuses_its_ping_by_name():
    # A "\\ud800" escape parses to a lone surrogate: no UTF-8 form, so no evidence to keep.
    body = (b'{"device_id": "d", "pings": [{"fix_time": "2026-03-01T08:00:00Z", "lat": 1, "lon": 2}, '
            b'{"fix_time": "2026-03-01T08:00:30Z", "lat": 1, "lon": 2, "note": "\\ud800"}]}')
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch(body)
    assert list(refused.value.fields) == ["pings[1]"] and "surrogate" in refused.value.fields["pings[1]"]
    with pytest.raises(BatchError, match="printable"):
        json_batch.decode_batch(b'{"device_id": "d\\udc00", "pings": [{"fix_time": 1, "lat": 1, "lon": 2}]}')


@pytest.mark.parametrize("fix_time", ["\u00b2", "\u0661\u0662", "2026-13-45T00:00:00Z", "1.2.3", "", True, [], -5])
def test_times_that_are_no_time_are_refused(fix_time):
    with pytest.raises(BatchError) as refused:
        json_batch.decode_batch({"device_id": "d", "pings": [{"fix_time": fix_time, "lat": 1, "lon": 1}]})
    assert list(refused.value.fields) == ["pings[0].fix_time"]


def test_epoch_time_in_the_distant_future_is_refused():
    with pytest.raises(BatchError):
        json_batch.decode_batch({"device_id": "d", "pings": [{"fix_time": 10**17, "lat": 1, "lon": 1}]})
    later = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=1)
    body = {"device_id": "d", "pings": [{"fix_time": later.isoformat(), "lat": 1, "lon": 1}]}
    assert json_batch.decode_batch(body)[0].fix_time == later   # future is flagged later, not here
