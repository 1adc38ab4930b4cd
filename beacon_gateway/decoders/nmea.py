"""NMEA 0183 lines (a receiver on TCP, or an uploaded log) into one Position per fix epoch.

Sentences RMC, GGA, GLL, VTG, GNS and ZDA from any talker (GP, GN, GL, GA, BD, ...) are read
with pynmea2 after their checksum is verified; other sentences (GSA, GSV, proprietary) are
skipped. A receiver reports one fix as several sentences sharing a time of day; they are
merged into one epoch: coordinates from GGA, GNS, RMC or GLL (in that order of preference;
differing coordinates of the other sentences are kept in ``extra["other_reports"]``),
date and validity from RMC, altitude/satellites/HDOP from GGA or GNS, speed and course from
RMC or VTG, date from RMC or ZDA. An epoch is complete when a sentence with another time of
day arrives (or the stream ends): a live receiver's fix is thus released one second late.

Only RMC and ZDA carry a date. As gpsd does, an epoch without one takes the last date seen
(rolled over at midnight); epochs before the first date wait for it (up to
``MAX_PENDING``); epochs that never get one take the fallback date, or the receive date
nearest to the time of day, and are marked ``extra["date_source"] = "assumed"``.

A sentence without a checksum is used only when it has all its fields (a truncated one is
an error), and its epoch is marked ``extra["checksum"] = "absent"``.
Bad lines (checksum mismatch, truncation, malformed fields, stray text) come back as
``LineError`` with their line number, and decoding goes on with the next line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Iterable, Iterator

import pynmea2

from beacon_gateway.decoders import nmea_fields as nf
from beacon_gateway.decoders.nmea_sentences import FIELD_COUNTS, READERS
from beacon_gateway.position import ChecksumError, DecodeError, Position

PROTOCOL = "nmea"
MAX_LINE = 1024         # NMEA allows 82 characters; a longer line is garbage or a run-on
MAX_PENDING = 3600      # epochs kept while waiting for a date (an hour at 1 Hz)
_HALF_DAY = 12 * 3600
_SENTENCE_START = re.compile(r"[$!]")
_COORDINATE_RANK = {"GGA": 0, "GNS": 1, "RMC": 2, "GLL": 3}
_SAME_PLACE = 1e-7      # degrees (about 1 cm): closer coordinates are the same report


@dataclass(frozen=True, slots=True)
class LineError:
    """A line (or one sentence of it) that could not be used, and why."""

    line_number: int | None
    message: str
    text: str


@dataclass(slots=True)
class _Epoch:
    """The sentences of one fix, merged."""

    line_number: int | None
    tod: time | None = None
    day: date | None = None
    lat: float | None = None
    lon: float | None = None
    rank: int = 99                  # preference of the sentence the coordinates came from
    source: str = ""                # that sentence's type
    speed_kmh: float | None = None
    course: float | None = None
    altitude_m: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    validity: list[bool] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


class NmeaStream:
    """Incremental decoder of one receiver's lines: ``feed`` each line, ``flush`` at the end."""

    def __init__(self, device_id: str, fallback_date: date | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.device_id = device_id
        self.fallback_date = fallback_date
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._current: _Epoch | None = None
        self._known: tuple[date, time] | None = None   # last date seen, at this time of day
        self._pending: list[_Epoch] = []

    def feed(self, line: bytes | str, line_number: int | None = None) -> list[Position | LineError]:
        """Decode one line; returns the positions completed by it and any errors in it."""
        out: list[Position | LineError] = []
        for sentence, error in _split(line):
            if error:
                out.append(LineError(line_number, error, sentence))
                continue
            try:
                self._sentence(sentence, line_number, out)
            except DecodeError as problem:
                out.append(LineError(line_number, str(problem), sentence))
        return out

    def flush(self) -> list[Position | LineError]:
        """Complete the last epoch and date every epoch still waiting for a date."""
        out: list[Position | LineError] = []
        self._close(out)
        for epoch in self._pending:
            epoch.day = self.fallback_date or self._receive_date(epoch.tod)
            epoch.extra["date_source"] = "assumed"
            out.append(self._position(epoch))
        self._pending = []
        return out

    def _sentence(self, sentence: str, line_number: int | None, out: list[Position | LineError]) -> None:
        """Verify, parse and merge one sentence."""
        body, verified = nf.verify_checksum(sentence)
        kind = body.split(",", 1)[0][2:]
        reader = READERS.get(kind) if not body.startswith("P") else None
        if reader is None:
            return                                   # GSA, GSV, proprietary: not about position
        try:
            message = pynmea2.parse(sentence, check=verified)
        except ValueError as error:                  # pynmea2.ParseError is a ValueError
            raise DecodeError(f"{kind} sentence does not parse: {error}") from None
        if not verified and len(message.data) < FIELD_COUNTS[kind]:
            raise ChecksumError("sentence has no checksum and too few fields (truncated?)")
        values = reader(message)
        if not verified:
            values["checksum"] = "absent"
        warning = values.pop("_warning", None)
        if warning:
            out.append(LineError(line_number, f"{warning}; the rest of the sentence is used", sentence))
        self._merge(values, kind, sentence, line_number, out)

    def _merge(self, values: dict, kind: str, sentence: str, line_number: int | None,
               out: list[Position | LineError]) -> None:
        """Add a sentence's values to the current epoch, closing it first on a new time of day."""
        tod = values.pop("tod", None)
        current = self._current
        if current is not None and tod is not None and current.tod is not None and tod != current.tod:
            self._close(out)
        if self._current is None:
            self._current = _Epoch(line_number)
        epoch = self._current
        epoch.tod = epoch.tod or tod
        epoch.sentences.append(sentence)
        valid = values.pop("valid", None)
        if valid is not None:
            epoch.validity.append(valid)
        _apply(epoch, values, kind)
        if epoch.day is not None and epoch.tod is not None:
            self._known = (epoch.day, epoch.tod)
            self._release_pending(out)

    def _close(self, out: list[Position | LineError]) -> None:
        """Turn the current epoch into a position (now, or once a date is known)."""
        epoch, self._current = self._current, None
        if epoch is None or epoch.lat is None or epoch.lon is None:
            return                                   # no coordinates: nothing to report
        if epoch.tod is None:
            out.append(LineError(epoch.line_number, "fix without a time of day: skipped",
                                 "\n".join(epoch.sentences)))
            return
        if epoch.day is None and self._known is not None:
            epoch.day = _nearest_day(self._known, epoch.tod)
            epoch.extra["date_source"] = "previous_sentence"
        if epoch.day is None:
            self._pending.append(epoch)
            if len(self._pending) > MAX_PENDING:
                oldest = self._pending.pop(0)
                oldest.day = self.fallback_date or self._receive_date(oldest.tod)
                oldest.extra["date_source"] = "assumed"
                out.append(self._position(oldest))
            return
        out.append(self._position(epoch))

    def _release_pending(self, out: list[Position | LineError]) -> None:
        """Date the epochs that waited for a date, now that one is known."""
        for epoch in self._pending:
            epoch.day = _nearest_day(self._known, epoch.tod)
            epoch.extra["date_source"] = "later_sentence"
            out.append(self._position(epoch))
        self._pending = []

    def _receive_date(self, tod: time) -> date:
        """The date that puts ``tod`` nearest to the receive clock."""
        now = self.clock().astimezone(timezone.utc)
        return _nearest_day((now.date(), now.time()), tod)

    def _position(self, epoch: _Epoch) -> Position:
        """The finished position of an epoch."""
        return Position(
            device_id=self.device_id, fix_time=datetime.combine(epoch.day, epoch.tod, timezone.utc),
            lat=epoch.lat, lon=epoch.lon, protocol=PROTOCOL,
            raw="\r\n".join(epoch.sentences).encode("ascii"), speed_kmh=epoch.speed_kmh,
            course=epoch.course, altitude_m=epoch.altitude_m, hdop=epoch.hdop,
            satellites=epoch.satellites, valid=all(epoch.validity), extra=dict(epoch.extra),
        )


def decode_lines(lines: Iterable[bytes | str], device_id: str, fallback_date: date | None = None,
                 clock: Callable[[], datetime] | None = None) -> Iterator[Position | LineError]:
    """Decode a whole log: positions in order, with a LineError (1-based line number) per bad line."""
    stream = NmeaStream(device_id, fallback_date, clock)
    for number, line in enumerate(lines, start=1):
        yield from stream.feed(line, number)
    yield from stream.flush()


def _split(line: bytes | str) -> Iterator[tuple[str, str | None]]:
    """The sentences of a line as (text, error or None); comments and blank lines give nothing.

    Receivers on a busy serial line sometimes run two sentences together or drop a line
    ending, so each ``$``/``!`` starts a new candidate sentence.
    """
    if isinstance(line, bytes):
        line = line.decode("ascii", errors="replace")
    if not line.isascii():
        yield repr(line[:80]), "line is not ASCII text"
        return
    text = line.strip()
    if not text or text.startswith("#"):
        return
    if len(text) > MAX_LINE:
        yield text[:80], f"line longer than {MAX_LINE} characters"
        return
    starts = [match.start() for match in _SENTENCE_START.finditer(text)]
    if not starts:
        yield text, "not an NMEA sentence (no $)"
        return
    if text[:starts[0]].strip():
        yield text[:starts[0]], "stray text before a sentence"
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        yield text[begin:end], None


def _nearest_day(known: tuple[date, time], tod: time) -> date:
    """The day of ``known`` moved by one when ``tod`` is across midnight from it."""
    day, known_tod = known
    delta = _seconds(tod) - _seconds(known_tod)
    step = 1 if delta < -_HALF_DAY else (-1 if delta > _HALF_DAY else 0)
    try:
        return day + timedelta(days=step)
    except OverflowError:       # a (bogus) ZDA date of 9999-12-31 or 0001-01-01
        return day


def _apply_coordinates(epoch: _Epoch, lat: float, lon: float, kind: str) -> None:
    """Keep the preferred sentence's coordinates; others that disagree are kept as other reports.

    Receivers sometimes give GGA and RMC of one second different coordinates (another
    precision, or computed at another instant): the position takes the preferred one, and
    ``extra["other_reports"]`` keeps what the others said, so nothing the device said is lost.
    """
    rank = _COORDINATE_RANK[kind]
    if epoch.lat is None or epoch.lon is None:
        epoch.lat, epoch.lon, epoch.rank, epoch.source = lat, lon, rank, kind
        return
    if abs(lat - epoch.lat) <= _SAME_PLACE and abs(lon - epoch.lon) <= _SAME_PLACE:
        return
    reports = epoch.extra.setdefault("other_reports", [])
    if rank < epoch.rank:
        reports.append({"sentence": epoch.source, "lat": epoch.lat, "lon": epoch.lon})
        epoch.lat, epoch.lon, epoch.rank, epoch.source = lat, lon, rank, kind
    else:
        reports.append({"sentence": kind, "lat": lat, "lon": lon})


def _seconds(tod: time) -> float:
    """Seconds since midnight."""
    return tod.hour * 3600 + tod.minute * 60 + tod.second + tod.microsecond / 1e6


def _apply(epoch: _Epoch, values: dict, kind: str) -> None:
    """Merge parsed values: coordinates by preference, other fields first come first kept."""
    lat, lon = values.pop("lat", None), values.pop("lon", None)
    if lat is not None and lon is not None:
        _apply_coordinates(epoch, lat, lon, kind)
    for name, value in values.items():
        if value is None:
            continue
        if name in ("day", "speed_kmh", "course", "altitude_m", "satellites", "hdop"):
            if getattr(epoch, name) is None:
                setattr(epoch, name, value)
        else:
            epoch.extra.setdefault(name, value)
