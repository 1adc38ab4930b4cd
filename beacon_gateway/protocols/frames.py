"""The binary TCP protocols' frames as registry ``Message``s: GT06 and Teltonika.

These adapters only translate: framing, decoding and answers stay in the decoder modules.
"""
from __future__ import annotations

from datetime import timedelta

from beacon_gateway.decoders import gt06, teltonika
from beacon_gateway.protocols import Link, Message

UNKNOWN_DEVICE = "unknown"   # a Teltonika capture without its handshake and without --device-id


def gt06_message(frame: bytes, link: Link) -> Message:
    """Decode one GT06 packet with the link's device and time zone (an extended login sets it)."""
    try:
        decoded = gt06.decode_frame(frame, link.device_id, link.context.get("offset", timedelta(0)))
    except gt06.NotLoggedIn as exc:   # kept, then hung up on: the device logs in when it reconnects
        return Message(kind="refused", reason=str(exc), hang_up=True)
    if decoded.kind == "login":
        link.context["offset"] = decoded.offset or timedelta(0)
    kind, reason = gt06.evidence_of(decoded)
    return Message(decoded.positions, kind, reason, login=decoded.imei if decoded.kind == "login" else None,
                   native=decoded)


def gt06_answer(message: Message) -> bytes | None:
    """The server's answer to a GT06 packet (None: the protocol expects none)."""
    return gt06.ack(message.native) if message.native is not None else None


def gt06_packet_type(raw: bytes) -> int | None:
    """The protocol number of a kept GT06 packet."""
    if len(raw) > 4 and raw[:2] in (gt06.SHORT_START, gt06.LONG_START):
        return raw[3] if raw[:2] == gt06.SHORT_START else raw[4]
    return None


def teltonika_split(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut the IMEI handshake (checked), a ping or a packet of any codec off the front of ``buffer``."""
    if buffer[:4] == teltonika.PREAMBLE or buffer[:1] == teltonika.PING:
        return teltonika.split_frame(buffer)
    handshake, rest = teltonika.split_imei(buffer)
    if handshake is not None:
        teltonika.parse_imei(handshake)
    return handshake, rest


def teltonika_message(frame: bytes, link: Link) -> Message:
    """Decode a Teltonika handshake, ping, data packet or command answer."""
    if frame[:4] != teltonika.PREAMBLE and frame != teltonika.PING:
        imei = teltonika.parse_imei(frame)
        return Message(kind="login", reason="IMEI handshake", login=imei)
    packet = teltonika.decode(frame, link.device_id or UNKNOWN_DEVICE)
    reason = (f"codec 0x{packet.codec:02x} command answer: {packet.text}" if packet.text
              else "keep-alive ping")
    return Message(packet.positions, packet.kind, reason, native=packet)


def teltonika_answer(message: Message) -> bytes | None:
    """The server's answer: the record count of a data packet, 0x01 to an admitted handshake."""
    if message.login is not None:
        return teltonika.IMEI_ACCEPT
    return message.native.answer if message.native is not None else None


def teltonika_packet_type(raw: bytes) -> int | None:
    """The codec id of a kept Teltonika packet."""
    return raw[8] if len(raw) > 8 and raw[:4] == teltonika.PREAMBLE else None

