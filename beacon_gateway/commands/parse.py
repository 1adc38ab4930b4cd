"""``beacon-gateway parse``: decode a device log and print its positions as JSON lines.

One JSON object per position on standard output (``device_id``, ``fix_time`` ISO 8601 UTC,
``lat``, ``lon``, ``speed_kmh``, ``course``, ``altitude_m``, ``satellites``, ``valid``,
``flags``; ``date_assumed`` when an NMEA log never said the day). When the sentences of one
NMEA fix disagree on the coordinates, each other report follows as a line marked
``"alternative": true`` with its ``sentence`` type. One line per problem on standard error,
``FILE:WHERE: message`` (WHERE is a line number, a byte offset, a GPX point or a batch
field). Exit code 0 when everything decoded, 1 when something did not, 2 when the file
cannot be read.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from beacon_gateway.decoders.capture import Problem, formats, read_capture
from beacon_gateway.position import FLAG_INVALID_FIX, Position

HELP = "Decode a device log and print its positions as JSON lines"
MAX_FILE_BYTES = 256 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--format", "-f", required=True, choices=formats(),
                        help="the log's protocol (any of the registry's); a framed TCP protocol (teltonika, "
                             "gt06 ...) reads a captured TCP stream or a hex dump with one frame per line")
    parser.add_argument("--device-id", help="device the log belongs to (default: named by the log "
                                            "itself - IMEI handshake, login, id field - else 'unknown')")
    parser.add_argument("--date", type=date.fromisoformat,
                        help="NMEA only: UTC date (YYYY-MM-DD) for fixes of a log that never states "
                             "one (default: today's date nearest the time of day)")
    parser.add_argument("file", type=Path, help="the log file ('-' for standard input)")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    data = _read(args.file)
    if data is None:
        return 2
    failed = False
    for item in read_capture(args.format, data, args.device_id, args.date):
        if isinstance(item, Problem):
            failed = True
            print(f"{args.file}:{item.where}: {item.message}", file=sys.stderr)
        else:
            for printed in as_json_lines(item):
                print(json.dumps(printed, ensure_ascii=False))
    return 1 if failed else 0


def as_json(position: Position) -> dict[str, Any]:
    """The printed form of a position."""
    flags = position.flags if position.valid else position.flagged(FLAG_INVALID_FIX).flags
    printed: dict[str, Any] = {
        "device_id": position.device_id,
        "fix_time": iso_utc(position.fix_time),
        "lat": position.lat, "lon": position.lon, "speed_kmh": _rounded(position.speed_kmh),
        "course": position.course, "altitude_m": position.altitude_m,
        "satellites": position.satellites, "valid": position.valid, "flags": list(flags),
    }
    if position.extra.get("date_source") == "assumed":
        printed["date_assumed"] = True     # the log never said which day this was
    return printed


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond when the fix has a fraction of a second."""
    moment = moment.astimezone(timezone.utc)
    spec = "seconds" if not moment.microsecond else ("milliseconds" if moment.microsecond % 1000 == 0
                                                      else "microseconds")
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def as_json_lines(position: Position) -> list[dict[str, Any]]:
    """The position, then one line per differing coordinates another sentence of its fix gave."""
    main = as_json(position)
    others = [{**main, "lat": report["lat"], "lon": report["lon"], "alternative": True,
               "sentence": report["sentence"]} for report in position.extra.get("other_reports", ())]
    return [main, *others]


def _rounded(value: float | None) -> float | None:
    """Speeds converted from knots or m/s, without float noise."""
    return None if value is None else round(value, 3)


def _read(path: Path) -> bytes | None:
    """The file's bytes, or None after saying why it cannot be read."""
    try:
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1) if str(path) == "-" else None
        if data is not None and len(data) <= MAX_FILE_BYTES:
            return data
        if data is not None or path.stat().st_size > MAX_FILE_BYTES:
            print(f"{path}: larger than {MAX_FILE_BYTES} bytes", file=sys.stderr)
            return None
        return path.read_bytes()
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror or error}", file=sys.stderr)
        return None
