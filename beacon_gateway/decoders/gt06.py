"""GT06 (Concox, Jimi and the many compatible trackers) over TCP.

A packet is ``78 78`` + 1-byte length (or ``79 79`` + 2-byte length for long packets),
protocol number, content, 2-byte serial number, 2-byte CRC-ITU (X.25) of the bytes from the
length field to the serial, and the stop bytes ``0D 0A``. Wi-Fi packets 0x69 and 0x17 put
the number of access points where the length belongs and carry no CRC: they end at the
first ``0D 0A`` followed by the next packet (or by the end of what was read). 0x17 is also
the LBS phone-number packet (cell, phone number, language), properly length-framed: a 0x17
whose length byte leads to ``0D 0A`` with a matching CRC is that one, any other a Wi-Fi one.

Packet types, after the Concox GT06/GT06N, Jimi JM-VL01/VL02/VL03, GK310, LL301 and
JC-series documents (layouts in ``LAYOUTS``, fields in ``gt06_fields``):

- ``0x01`` login (IMEI; the extended login adds a type and a time zone, applied to the
  device's later date-times), answered;
- locations ``0x10 0x11 0x12 0x1A 0x22 0x2D 0x31 0x37 0xA0`` (4G), ``0x34`` (X1), ``0x70``
  (modular, VL103), the GPS address request ``0x2A`` (answered with an empty address 0x97);
- alarms with a position ``0x16 0x26 0x27 0x32 0xA3 0xA4`` and the dashcam alarm ``0x95``,
  answered; LBS alarms ``0x19 0xA5`` (no fix), answered;
- heartbeats ``0x13 0x23 0x36``, answered; the time request ``0x8A``, answered with the UTC
  date-time; Wi-Fi ``0x69 0x17``, answered with their own time;
- the LBS phone-number packet ``0x17`` (cell and phone number, no fix), kind ``status``, unanswered;
- cell/Wi-Fi reports without a fix, information ``0x94``, command answers: kind ``status``
  or ``command_response``, kept by the server as evidence (long packets 0x94 and 0x98 included).

Any other protocol number comes back as kind ``"other"`` with no position and no answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from beacon_gateway.decoders import gt06_fields as fields
from beacon_gateway.decoders import gt06_special
from beacon_gateway.decoders.crc import crc16_itu
from beacon_gateway.decoders.reader import Reader
from beacon_gateway.position import ChecksumError, DecodeError, Position

PROTOCOL = "gt06"
SHORT_START = b"\x78\x78"
LONG_START = b"\x79\x79"
STOP = b"\x0d\x0a"
MAX_LONG_LENGTH = 4096   # no GT06 packet is near this; a larger length means a broken stream
LOGIN, LOCATION, HEARTBEAT, ALARM = 0x01, 0x12, 0x13, 0x16
LOCATION_4G, ALARM_4G = 0x22, 0x26
TIME_REQUEST, ADDRESS_REQUEST, ADDRESS_ANSWER = 0x8A, 0x2A, 0x97
MODULAR, DASHCAM_ALARM, X1_LOCATION = 0x70, 0x95, 0x34
LBS_PHONE = 0x17         # length-framed; the Wi-Fi packet of the same number is counted
#: packets whose third byte counts Wi-Fi access points instead of giving a length
COUNTED = frozenset({0x69, 0x17})
HEARTBEATS = frozenset({0x13, 0x23, 0x36})
STATUS_ONLY = frozenset({0x18, 0x19, 0x24, 0x28, 0x2C, 0x2E, 0x94, 0x98, 0xA1, 0xA2, 0xA5, 0xA7})
COMMAND_RESPONSES = frozenset({0x15, 0x21, 0x80, 0x81, 0x82})
#: answered with the plain acknowledgement (protocol number + serial)
_PLAIN_ANSWER = frozenset({LOGIN, *HEARTBEATS, 0x16, 0x26, 0x27, 0x32, 0x19, 0xA3, 0xA4, 0xA5,
                           DASHCAM_ALARM, MODULAR})
#: the empty address of an address answer: "no address, no phone number"
EMPTY_ADDRESS = b"NA&&NA&&0##"


class NotLoggedIn(DecodeError):
    """A packet that needs the device's identity came before its login."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """What follows the GPS block of a GPS-carrying packet."""

    kind: str                    # "location" | "alarm" | "address_request"
    cell: str | None = "2g"      # None, "2g", "4g" (LAC 4, cell id 8), "2g_long" (MNC 2, cell id 4)
    alarm: bool = False          # a length byte before the cell, terminal status + alarm after it
    tail: str | None = None      # "acc": ignition, upload mode, re-upload; "fence": language, fence


LAYOUTS = {
    0x10: _Layout("location", cell=None), 0x11: _Layout("location", cell="2g_long"),
    0x12: _Layout("location"), 0x1A: _Layout("location"), 0x31: _Layout("location"),
    0x22: _Layout("location", tail="acc"), 0x2D: _Layout("location", tail="acc"),
    0x37: _Layout("location", tail="acc"), 0xA0: _Layout("location", cell="4g", tail="acc"),
    0x16: _Layout("alarm", alarm=True), 0x26: _Layout("alarm", alarm=True),
    0x32: _Layout("alarm", alarm=True), 0x27: _Layout("alarm", alarm=True, tail="fence"),
    0xA3: _Layout("alarm", cell="4g", alarm=True), 0xA4: _Layout("alarm", cell="4g", alarm=True, tail="fence"),
    ADDRESS_REQUEST: _Layout("address_request", cell=None),
}


@dataclass(frozen=True, slots=True)
class Gt06Message:
    """One decoded GT06 packet."""

    kind: str      # login | location | alarm | heartbeat | time_request | address_request | status | ...
    protocol_number: int
    serial: int
    raw: bytes
    imei: str | None = None       # login only
    positions: list[Position] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)   # heartbeat/alarm terminal status
    offset: timedelta | None = None   # extended login: the device's time zone, east of UTC


def split_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut one packet off the front of ``buffer``: (packet or None if incomplete, rest).

    Raises DecodeError when the buffer does not start with a packet; the server then skips
    to the next start bytes (``resync``).
    """
    if len(buffer) < 4:
        head = buffer[:2]
        if head not in (SHORT_START[:len(head)], LONG_START[:len(head)]):
            raise DecodeError(f"GT06 packet must start with 7878 or 7979, not {buffer.hex()}")
        return None, buffer
    if buffer[:2] == SHORT_START:
        if is_counted(buffer):
            return _split_counted(buffer)
        header, length = 3, buffer[2]
    elif buffer[:2] == LONG_START:
        header, length = 4, int.from_bytes(buffer[2:4], "big")
    else:
        raise DecodeError(f"GT06 packet must start with 7878 or 7979, not {buffer[:2].hex()}")
    if not 5 <= length <= MAX_LONG_LENGTH:
        raise DecodeError(f"GT06 packet length {length} outside 5..{MAX_LONG_LENGTH}")
    end = header + length + len(STOP)
    if len(buffer) < end:
        return None, buffer
    if buffer[end - 2:end] != STOP:
        raise DecodeError(f"GT06 packet does not end with 0d0a at byte {end - 2}")
    return buffer[:end], buffer[end:]


def is_counted(buffer: bytes) -> bool:
    """Whether the short packet at the front of ``buffer`` counts Wi-Fi access points in its length
    byte: 0x69 always; 0x17 unless its length byte leads to ``0D 0A`` after a matching CRC (the LBS
    phone-number packet)."""
    if len(buffer) < 4 or buffer[3] not in COUNTED:
        return False
    if buffer[3] != LBS_PHONE:
        return True
    end = 3 + buffer[2] + len(STOP)
    return not (buffer[2] >= 5 and len(buffer) >= end and buffer[end - 2:end] == STOP
                and crc16_itu(buffer[2:end - 4]) == int.from_bytes(buffer[end - 4:end - 2], "big"))


def _split_counted(buffer: bytes) -> tuple[bytes | None, bytes]:
    """A Wi-Fi packet ends at the first 0d0a followed by a packet start or the end of the buffer."""
    stop = buffer.find(STOP, 4)
    while stop >= 0:
        end = stop + 2
        if end == len(buffer) or buffer[end:end + 2] in (SHORT_START, LONG_START):
            return buffer[:end], buffer[end:]
        stop = buffer.find(STOP, stop + 1)
    if len(buffer) > MAX_LONG_LENGTH:
        raise DecodeError(f"GT06 Wi-Fi packet 0x{buffer[3]:02x} has no end in {len(buffer)} bytes")
    return None, buffer


def resync(buffer: bytes) -> int:
    """How many bytes to skip after a broken packet: up to the next 7878/7979 after byte 0."""
    found = [i for i in (buffer.find(SHORT_START, 1), buffer.find(LONG_START, 1)) if i >= 0]
    if found:
        return min(found)
    return len(buffer) - 1 if buffer[-1:] in (b"\x78", b"\x79") else len(buffer)


def decode_frame(frame: bytes, device_id: str | None, offset: timedelta = timedelta(0)) -> Gt06Message:
    """Decode one complete packet; ``device_id`` (the logged-in IMEI) is needed for positions,
    ``offset`` is the device's time zone from its extended login."""
    if frame[:2] == SHORT_START and is_counted(frame):
        return _counted(frame, device_id, offset)
    number, content, serial = _checked_parts(frame)
    if number == LOGIN:
        return _login(number, serial, frame, content)
    if number == LBS_PHONE:
        return Gt06Message("status", number, serial, frame, status=gt06_special.lbs_phone(content))
    needs_device = number in LAYOUTS or number in (MODULAR, DASHCAM_ALARM, X1_LOCATION)
    if needs_device and not device_id:
        raise NotLoggedIn(f"GT06 packet 0x{number:02x} before login: no device id to attach it to")
    if number in LAYOUTS:
        return _located(LAYOUTS[number], number, serial, frame, content, str(device_id), offset)
    if number in HEARTBEATS:
        return Gt06Message("heartbeat", number, serial, frame, status=_heartbeat(content, number))
    special = {MODULAR: gt06_special.modular, DASHCAM_ALARM: gt06_special.dashcam,
               X1_LOCATION: gt06_special.x1}.get(number)
    if special is not None:
        kind, positions, status = special(frame, content, str(device_id), offset)
        return Gt06Message(kind, number, serial, frame, positions=positions, status=status)
    return Gt06Message(_other_kind(number), number, serial, frame)


def ack(message: Gt06Message, now: datetime | None = None) -> bytes | None:
    """The server's answer to ``message``, or None when the protocol expects none."""
    number, long = message.protocol_number, message.raw[:2] == LONG_START
    if number in COUNTED and is_counted(message.raw):
        return SHORT_START + bytes([0, number]) + message.raw[4:10] + STOP
    if number == TIME_REQUEST:
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        stamp = bytes([moment.year - 2000, moment.month, moment.day, moment.hour, moment.minute, moment.second])
        return _packet(TIME_REQUEST, stamp, message.serial, long=False)
    if number == ADDRESS_REQUEST:
        return _packet(ADDRESS_ANSWER, bytes([len(EMPTY_ADDRESS)]) + bytes(4) + EMPTY_ADDRESS,
                       message.serial, long=True)
    if number in _PLAIN_ANSWER:
        return _packet(number, b"", message.serial, long)
    return None


def evidence_of(message: Gt06Message) -> tuple[str, str]:
    """(kind, reason) under which a packet without a position is kept as evidence."""
    number = f"0x{message.protocol_number:02x}"
    if message.kind == "other":
        return "unknown", f"GT06 packet type {number} is not one the gateway reads"
    kind = "status" if message.kind == "location" else message.kind
    detail = f": {message.status}" if message.status else ""
    return kind, f"GT06 {number} {message.kind} without a position{detail}"[:500]


def _packet(number: int, content: bytes, serial: int, long: bool) -> bytes:
    """A server packet: start, length, protocol number, content, serial, CRC, stop."""
    length = 5 + len(content)
    head = LONG_START + length.to_bytes(2, "big") if long else SHORT_START + bytes([length])
    body = head[2:] + bytes([number]) + content + serial.to_bytes(2, "big")
    return head[:2] + body + crc16_itu(body).to_bytes(2, "big") + STOP


def _other_kind(number: int) -> str:
    if number == TIME_REQUEST:
        return "time_request"
    if number in STATUS_ONLY:
        return "alarm" if number in (0x19, 0xA5) else "status"
    return "command_response" if number in COMMAND_RESPONSES else "other"


def _checked_parts(frame: bytes) -> tuple[int, bytes, int]:
    """Check framing and CRC; return (protocol number, content, serial number)."""
    packet, rest = split_frame(frame)
    if packet is None or rest:
        raise DecodeError(f"not exactly one GT06 packet ({len(frame)} bytes)")
    checked = frame[2:-4]   # length field .. serial number
    expected = int.from_bytes(frame[-4:-2], "big")
    actual = crc16_itu(checked)
    if expected != actual:
        raise ChecksumError(f"GT06 CRC mismatch: packet says {expected:04x}, data gives {actual:04x}")
    header = 3 if frame[:2] == SHORT_START else 4
    return frame[header], frame[header + 1:-6], int.from_bytes(frame[-6:-4], "big")


def _login(number: int, serial: int, frame: bytes, content: bytes) -> Gt06Message:
    """IMEI (8-byte BCD, a leading zero pads it to 16 digits), then type and time zone if extended."""
    reader = Reader(content, "GT06 login")
    digits = reader.take(8).hex()
    if not digits.isdigit():
        raise DecodeError(f"GT06 login terminal id is not BCD digits: {digits}")
    offset = None
    if reader.remaining() >= 4:
        reader.uint(2)                                  # terminal type
        try:
            offset = fields.login_offset(reader.uint(2))
        except DecodeError:
            offset = None                               # not a time zone: the device's times are UTC
    imei = digits[1:] if digits.startswith("0") else digits
    return Gt06Message("login", number, serial, frame, imei=imei, offset=offset)


def _heartbeat(content: bytes, number: int) -> dict[str, Any]:
    """The status of a heartbeat (0x36 carries nothing the gateway reads)."""
    if number == 0x36 or not content:
        return {}
    return fields.heartbeat(Reader(content, "GT06 heartbeat"), number)


def _located(layout: _Layout, number: int, serial: int, frame: bytes, content: bytes,
             device_id: str, offset: timedelta) -> Gt06Message:
    """Decode a GPS-carrying packet into one position (and the alarm status)."""
    reader = Reader(content, f"GT06 0x{number:02x}")
    fix = fields.gps(reader, offset)
    extra: dict[str, Any] = {"packet": f"{number:02x}", "differential": fix.pop("differential")}
    if layout.alarm:
        extra.update(_alarm_cell(reader, layout.cell == "4g"))
    elif layout.cell is not None:
        extra["cell"] = fields.cell(reader, wide=layout.cell == "4g", long_mnc=layout.cell == "2g_long",
                                    wide_cell_id=layout.cell == "2g_long")
    status = fields.alarm_status(reader) if layout.alarm else {}
    extra.update(status)
    extra.update(_tail(reader, layout.tail))
    position = Position(device_id=device_id, protocol=PROTOCOL, raw=frame, extra=extra, **fix)
    return Gt06Message(layout.kind, number, serial, frame, positions=[position], status=status)


def _alarm_cell(reader: Reader, wide: bool) -> dict[str, Any]:
    """An alarm's cell: a length byte (counting itself), then the cell when there is one."""
    length = reader.uint(1)
    if length <= 1:
        return {}
    block = Reader(reader.take(length - 1), "GT06 alarm cell")
    return {"cell": fields.cell(block, wide=wide)}


def _tail(reader: Reader, tail: str | None) -> dict[str, Any]:
    """The optional fields after the cell (older firmware leaves them out)."""
    if tail == "acc" and reader.remaining() >= 3:
        values: dict[str, Any] = {"ignition": bool(reader.uint(1)), "upload_mode": reader.uint(1),
                                  "reupload": bool(reader.uint(1))}
        if reader.remaining() >= 4:
            values["odometer_m"] = reader.uint(4)
        return values
    if tail == "fence" and reader.remaining() >= 3:
        reader.uint(2)                                  # language
        return {"fence": reader.uint(1)}
    return {}


def _counted(frame: bytes, device_id: str | None, offset: timedelta) -> Gt06Message:
    """Wi-Fi packet 0x69/0x17 (``gt06_special.wifi``): a status, no fix."""
    return Gt06Message("status", frame[3], 0, frame, status=gt06_special.wifi(frame, offset))
