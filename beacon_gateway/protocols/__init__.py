"""The protocol registry: one entry per beacon protocol, read by every part of the gateway.

An entry (``Protocol``) holds everything the gateway knows about a protocol apart from its
decoder module: how a TCP stream is cut into frames (``Framing``), how one frame becomes a
``Message`` (decoder), what the server answers (acknowledgement), how the simulator speaks
it (``Encoder``), the setting that opens its port and the transport it arrives by. ``serve``
opens a listener per TCP entry whose port is set, ``parse`` reads every entry that has a
capture reader or a framing, ``simulate`` drives every entry with an encoder, the settings
read the entries' port settings, and ``/metrics`` shows a counter per entry.

Adding a protocol is one decoder module and one ``register(Protocol(...))`` (the built-in
entries are in ``beacon_gateway.protocols.builtin``); a beacon registered for it needs its
name among ``tracker.models.BeaconProtocol`` (the database checks the protocol column).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from beacon_gateway.position import Position

if TYPE_CHECKING:
    from beacon_gateway.decoders.capture import Item
    from beacon_gateway.servers.tcp import Session

TRANSPORTS = ("tcp", "http", "mqtt", "file")


@dataclass
class Link:
    """What one connection (or one capture) knows about its device while frames come in."""

    device_id: str | None = None                           # set once its login is admitted
    context: dict[str, Any] = field(default_factory=dict)  # the protocol's own (GT06: time zone)


@dataclass(frozen=True)
class Message:
    """One decoded frame, in the terms every server and reader shares."""

    positions: list[Position] = field(default_factory=list)
    kind: str = "status"       # how it is kept when it has no position (a DeviceMessage kind)
    reason: str = ""           # why it is kept
    login: str | None = None   # the device id this frame logs in as
    hang_up: bool = False      # kept, then the connection is closed (a frame the device may not send yet)
    native: Any = None         # the decoder's own result, for the acknowledgement


@dataclass(frozen=True)
class Framing:
    """How a byte stream is cut into frames."""

    split: Callable[[bytes], tuple[bytes | None, bytes]]   # (frame or None if incomplete, rest); DecodeError
    resync: Callable[[bytes], int]                          # after a broken frame: how many bytes to skip
    starts: tuple[bytes, ...]                               # the bytes a frame may start with


@dataclass
class SimulatedDevice:
    """The simulator's device: its id, its packet serial number and the packet type it sends."""

    device_id: str
    packet: str | None = None
    serial: int = 1

    def next_serial(self) -> int:
        """Return the next packet serial number."""
        self.serial += 1
        return self.serial


@dataclass(frozen=True)
class Encoder:
    """How the simulator speaks a protocol (the inverse of its decoder)."""

    messages: Callable[[Sequence[Position], SimulatedDevice], list[bytes]]   # one batch's messages
    opening: Callable[[str], bytes] | None = None           # what the device sends first (handshake, login)
    opening_answer: Callable[[str], bytes] | None = None    # what it then waits for
    answer: Callable[[list[bytes], SimulatedDevice], bytes] | None = None   # what it waits for after a batch
    text: bool = False            # messages are text lines; binary ones are written as hex, one per line
    opening_in_file: bool = True  # a file starts with the opening too (not NMEA's device-id line)
    lines: Callable[[Sequence[Position]], list[str]] | None = None   # a file's lines, when not the messages
    packets: tuple[str, ...] = ()  # packet types ``--packet`` may choose (the first is the default)


FrameDecoder = Callable[[bytes, Link], Message]
CaptureReader = Callable[[bytes, "str | None", "date | None"], Iterator["Item"]]


@dataclass(frozen=True)
class Protocol:
    """Everything the gateway knows about one beacon protocol."""

    name: str                     # Position.protocol, BeaconProtocol value, --format, --protocol, metrics label
    title: str                    # for people: README, serve's announcements
    transport: str                # one of TRANSPORTS
    summary: str = ""             # devices and messages, for the README's table
    framing: Framing | None = None
    decoder: FrameDecoder | None = None
    acknowledge: Callable[[Message], bytes | None] | None = None
    session: Session | None = None           # a conversation of its own; default: the framed session
    capture: CaptureReader | None = None     # a whole log; default: frames cut by ``framing``
    encoder: Encoder | None = None
    port_setting: str | None = None          # the setting that opens its listener
    default_port: int = 0                    # 0: off unless set
    usual_port: int | None = None            # where such devices are usually pointed (Traccar's ports)
    packet_type: Callable[[bytes], int | None] | None = None   # the type of a kept frame, for metrics

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"protocol {self.name}: transport {self.transport!r} not in {TRANSPORTS}")
        if self.transport == "tcp" and self.session is None and not (self.framing and self.decoder):
            raise ValueError(f"TCP protocol {self.name} needs a session, or a framing and a decoder")

    @property
    def readable(self) -> bool:
        """Return whether ``parse`` can read a log of this protocol."""
        return self.capture is not None or (self.framing is not None and self.decoder is not None)


_registry: dict[str, Protocol] = {}
_loaded = False


def register(protocol: Protocol) -> Protocol:
    """Add ``protocol`` (replacing an entry of the same name); returns it."""
    _load_builtin()
    _registry[protocol.name] = protocol
    return protocol


def unregister(name: str) -> None:
    """Remove the entry ``name`` (tests that register a protocol of their own remove it again)."""
    _load_builtin()
    _registry.pop(name, None)


def every() -> list[Protocol]:
    """Return every entry, in registration order."""
    _load_builtin()
    return list(_registry.values())


def get(name: str) -> Protocol:
    """Return the entry ``name``; LookupError naming the known ones otherwise."""
    _load_builtin()
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"unknown protocol {name!r}; expected one of {', '.join(_registry)}") from None


def find(name: str) -> Protocol | None:
    """Return the entry ``name``, or None."""
    _load_builtin()
    return _registry.get(name)


def names(transport: str | None = None) -> tuple[str, ...]:
    """Return the entries' names (of ``transport`` only, when given)."""
    return tuple(p.name for p in every() if transport is None or p.transport == transport)


def _load_builtin() -> None:
    """Register the built-in entries on first use (they import the servers, which import this)."""
    global _loaded
    if _loaded:
        return
    _loaded = True            # first, so that a lookup while the entries import does not recurse
    try:
        from beacon_gateway.protocols import builtin
    except BaseException:
        _loaded = False       # an import that failed is tried again, not taken for an empty registry
        raise
    for protocol in builtin.PROTOCOLS:
        _registry.setdefault(protocol.name, protocol)
