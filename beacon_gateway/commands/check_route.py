"""``beacon-gateway check-route``: evaluate a recorded track against a planned route offline.

Prints one JSON line per alert the rules would raise (``kind``, ``start``, ``end``,
``opened_at``, ``closed_at``, ``duration_s``, ``lat``, ``lon``, and per kind
``max_distance_m``, ``allowance_s``, ``signs``, ``zone``, ``delay_s``). Nothing is stored.
Exit code 0 when the track was evaluated, 1 when it had undecodable parts (reported on
standard error, the rest is evaluated), 2 when a file cannot be used.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Iterable

import defusedxml.ElementTree as safe_xml
import gpxpy
from defusedxml import DefusedXmlException
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import LineString

from beacon_gateway.decoders.capture import FORMATS, Problem, read_capture
from beacon_gateway.decoders.timestamps import parse_time
from beacon_gateway.evaluation import Area, Fix, Rules, evaluate, plan_for_route
from beacon_gateway.position import DecodeError
from tracker.domain.route_geometry import plan_geometry

HELP = "Evaluate a recorded track against a planned route offline"
TRACK_FORMATS = (*FORMATS, "jsonl")
MAX_ROUTE_BYTES = 20 * 1024 * 1024
_BY_SUFFIX = {".gpx": "gpx", ".nmea": "nmea", ".log": "nmea", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class InputError(Exception):
    """A file or option that cannot be used; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--route", required=True, type=Path,
                        help="planned route: GPX (route, else track points) or a WKT LINESTRING (lon lat)")
    parser.add_argument("--corridor", type=float, default=500.0, metavar="METRES",
                        help="corridor half-width around the route (default 500)")
    parser.add_argument("--format", choices=TRACK_FORMATS,
                        help="track format (default from the file name: .gpx, .nmea/.log, .jsonl); "
                             "jsonl is the output of 'parse' and 'simulate'")
    parser.add_argument("--reporting-period", type=float, metavar="SECONDS",
                        help="the device's reporting period: silence over twice this is signal loss "
                             "(default 300)")
    parser.add_argument("--end-radius", type=float, default=500.0, metavar="METRES",
                        help="start and end zones around the route's ends (default 500)")
    parser.add_argument("--planned-arrival", type=_when, metavar="ISO8601",
                        help="end of the planned window: arriving later raises 'late'")
    parser.add_argument("--departed-at", type=_when, metavar="ISO8601",
                        help="when the trip began: no fix for two reporting periods after it is signal loss")
    parser.add_argument("--dead-zone", action="append", default=[], metavar="WKT",
                        help="a polygon (lon lat) where silence is expected; repeatable")
    parser.add_argument("--prohibited", action="append", default=[], metavar="WKT",
                        help="a polygon (lon lat) the vehicle must not enter; repeatable")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                        help="override a rule setting, e.g. off_route_min_s=180; repeatable")
    parser.add_argument("track", type=Path, help="the recorded track ('-' for standard input)")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    try:
        rules = Rules.from_mapping(dict(_pair(s) for s in args.settings))
        route = plan_geometry(read_route(args.route), args.corridor).route   # judged as the gateway judges it
        fixes, problems = read_track(args.track, args.format or _guess(args.track))
        plan = plan_for_route(route, args.corridor, rules, end_radius_m=args.end_radius,
                              reporting_period_s=args.reporting_period or rules.default_reporting_period_s,
                              planned_arrival=args.planned_arrival, departed_at=args.departed_at,
                              dead_zones=_areas(args.dead_zone, "dead zone"),
                              prohibited=_areas(args.prohibited, "prohibited zone"))
    except (InputError, ValueError) as error:
        print(f"beacon-gateway check-route: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"{args.track}:{problem.where}: {problem.message}", file=sys.stderr)
    for episode in evaluate(fixes, plan, rules):
        print(json.dumps(episode.summary(), ensure_ascii=False))
    return 1 if problems else 0


def read_route(path: Path) -> LineString:
    """Return the planned route of a GPX or WKT file as a line (lon, lat)."""
    data = _read(path, MAX_ROUTE_BYTES)
    if data.lstrip().upper().startswith(b"LINESTRING"):
        try:
            line = wkt.loads(data.decode("utf-8"))
        except (ShapelyError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: not a WKT line: {error}") from error
    else:
        line = _gpx_route(path, data)
    if len(line.coords) < 2:
        raise InputError(f"{path}: a route needs at least two points")
    return line


def _gpx_route(path: Path, data: bytes) -> LineString:
    """Route points of the first route, else the track points, else the waypoints, in order."""
    try:
        safe_xml.fromstring(data, forbid_dtd=True)          # no entities reach gpxpy
        document = gpxpy.parse(data.decode("utf-8-sig"))
    except (DefusedXmlException, safe_xml.ParseError, gpxpy.gpx.GPXException, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a usable GPX file: {error}") from error
    for points in ([p for r in document.routes for p in r.points],
                   [p for t in document.tracks for s in t.segments for p in s.points], document.waypoints):
        if len(points) >= 2:
            return LineString([(p.longitude, p.latitude) for p in points])
    raise InputError(f"{path}: no route, track or waypoints with two points or more")


def read_track(path: Path, fmt: str) -> tuple[list[Fix], list[Problem]]:
    """Return the track's fixes and the problems met decoding it."""
    data = _read(path, 256 * 1024 * 1024)
    items: Iterable[object] = _jsonl(data) if fmt == "jsonl" else read_capture(fmt, data, "track")
    fixes, problems = [], []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            fixes.append(item if isinstance(item, Fix) else Fix.of(item))  # type: ignore[arg-type]
    return fixes, problems


def _jsonl(data: bytes) -> Iterable[object]:
    """Positions printed by ``parse`` or ``simulate``: one JSON object per line."""
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            speed = item.get("speed_kmh")
            yield Fix(parse_time(item["fix_time"]), float(item["lat"]), float(item["lon"]),
                      None if speed is None else float(speed), tuple(item.get("flags") or ()),
                      bool(item.get("valid", True)))
        except (ValueError, KeyError, TypeError, AttributeError, DecodeError) as error:
            yield Problem(f"line {number}", f"not a position: {error}")


def _read(path: Path, limit: int) -> bytes:
    try:
        data = sys.stdin.buffer.read(limit + 1) if str(path) == "-" else path.open("rb").read(limit + 1)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from error
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit} bytes")
    return data


def _guess(path: Path) -> str:
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: say which format it is with --format ({', '.join(TRACK_FORMATS)})")
    return fmt


def _areas(texts: list[str], what: str) -> tuple[Area, ...]:
    areas = []
    for n, text in enumerate(texts, start=1):
        try:
            polygon = wkt.loads(text)
        except ShapelyError as error:
            raise InputError(f"{what} {n}: not WKT: {error}") from error
        if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid:
            raise InputError(f"{what} {n}: not a valid polygon")
        areas.append(Area(f"{what} {n}", polygon))
    return tuple(areas)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise InputError(f"--set {text!r}: expected NAME=VALUE")
    return name.strip(), value.strip()


def _when(text: str) -> datetime:
    try:
        return parse_time(text)
    except DecodeError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
