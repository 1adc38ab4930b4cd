"""The built-in registry entries: native JSON, OsmAnd, NMEA 0183, Teltonika, GT06, MQTT and GPX.

One entry per protocol; the decoders, sessions and encoders they name live in their own
modules. The order is the order of the README's table and of the command-line choices.
"""
from __future__ import annotations

import json
from typing import Sequence

from beacon_gateway.decoders import capture, gt06, teltonika
from beacon_gateway.position import Position
from beacon_gateway.protocols import Encoder, Framing, Protocol, SimulatedDevice, frames
from beacon_gateway.servers.nmea import nmea_session
from beacon_gateway.servers.tcp import teltonika_session
from beacon_gateway.simulator import encoders as enc
from beacon_gateway.simulator import packets


def _json_lines(positions: Sequence[Position]) -> list[str]:
    """A file of JSON lines as ``parse`` prints them (with the flags), one per fix."""
    return [json.dumps({"device_id": p.device_id, **enc.json_ping(p), "flags": list(p.flags)}) for p in positions]


_JSON_BATCH = Encoder(messages=lambda positions, _device: [enc.json_batch(positions)], text=True,
                      lines=_json_lines)


def _nmea_messages(positions: Sequence[Position], _device: SimulatedDevice) -> list[bytes]:
    return [f"{s}\r\n".encode() for p in positions for s in enc.nmea_sentences(p)]


def _teltonika_messages(positions: Sequence[Position], device: SimulatedDevice) -> list[bytes]:
    return [packets.teltonika_codec_packet(device.packet or "8", positions)]


def _teltonika_answers(messages: list[bytes], device: SimulatedDevice) -> bytes:
    """The record counts the gateway acknowledges these packets with."""
    return b"".join(teltonika.ack(teltonika.decode(m, device.device_id).count) for m in messages)


def _gt06_messages(positions: Sequence[Position], device: SimulatedDevice) -> list[bytes]:
    number = int(device.packet or "12", 16)
    return [packets.gt06_located(number, p, device.next_serial()) for p in positions]


def _gt06_answers(messages: list[bytes], device: SimulatedDevice) -> bytes:
    """What the gateway answers to these packets (alarms are answered, locations are not)."""
    return b"".join(gt06.ack(gt06.decode_frame(m, device.device_id)) or b"" for m in messages)


def _gt06_login_answer(device_id: str) -> bytes:
    return gt06.ack(gt06.decode_frame(enc.gt06_login(device_id), None)) or b""


PROTOCOLS = (
    Protocol("json", "Native JSON", "http",
             "batches of pings, `POST /api/v1/pings` with the beacon's bearer token",
             capture=capture.json_log, encoder=_JSON_BATCH,
             port_setting="GATEWAY_HTTP_PORT", default_port=5055, usual_port=5055),
    Protocol("osmand", "OsmAnd", "http",
             "Traccar Client, the OsmAnd app and compatible trackers: one request per fix, `key` = beacon token",
             capture=capture.osmand_log,
             encoder=Encoder(messages=lambda positions, _d: [enc.osmand_query(p).encode() for p in positions],
                             text=True),
             port_setting="GATEWAY_HTTP_PORT", default_port=5055, usual_port=5055),
    Protocol("nmea", "NMEA 0183", "tcp",
             "a first line naming the device, then RMC/GGA/GLL/VTG/GNS/ZDA sentences; no acknowledgement",
             session=nmea_session, capture=capture.nmea_log,
             encoder=Encoder(messages=_nmea_messages, opening=lambda device_id: f"{device_id}\r\n".encode(),
                             text=True, opening_in_file=False),
             port_setting="GATEWAY_TCP_NMEA_PORT"),
    Protocol("teltonika", "Teltonika", "tcp",
             "FMB/FMC/FMM codecs 8, 8 Extended and 16, GH-series codec 7; pings and codec 12/13/14 answers",
             framing=Framing(frames.teltonika_split, teltonika.resync, (teltonika.PREAMBLE, teltonika.PING)),
             decoder=frames.teltonika_message, acknowledge=frames.teltonika_answer, session=teltonika_session,
             encoder=Encoder(messages=_teltonika_messages, opening=enc.teltonika_handshake,
                             opening_answer=lambda _device_id: teltonika.IMEI_ACCEPT,
                             answer=_teltonika_answers, packets=packets.TELTONIKA_CODECS),
             port_setting="GATEWAY_TCP_TELTONIKA_PORT", usual_port=5027,
             packet_type=frames.teltonika_packet_type),
    Protocol("gt06", "GT06", "tcp",
             "Concox/Jimi GT06 family: GT06/GT06N, JM-VL01/VL02/VL03 and VL103, GK310, LL301, JC dashcams",
             framing=Framing(gt06.split_frame, gt06.resync, (gt06.SHORT_START, gt06.LONG_START)),
             decoder=frames.gt06_message, acknowledge=frames.gt06_answer,
             encoder=Encoder(messages=_gt06_messages, opening=enc.gt06_login, opening_answer=_gt06_login_answer,
                             answer=_gt06_answers, packets=packets.GT06_PACKETS),
             port_setting="GATEWAY_TCP_GT06_PORT", usual_port=5023, packet_type=frames.gt06_packet_type),
    Protocol("mqtt", "MQTT", "mqtt",
             "native JSON batches published with QoS 1 on `beacons/<device id>/pings`",
             encoder=_JSON_BATCH, port_setting="GATEWAY_MQTT_URL"),
    Protocol("gpx", "GPX", "file", "track logs uploaded after the trip (`parse`, `check-route`)",
             capture=capture.gpx_log),
)
