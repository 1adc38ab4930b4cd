"""``beacon-gateway simulate``: drive a simulated beacon along a declaration's route.

The route comes from a stored declaration (``--declaration`` reference or id, whose beacon
is then the device), a route file (``--route``, GPX or WKT), or else the demo road
Khaidarkan → Ak-Jol. Fixes carry 10–30 m of correlated GPS noise; stops, a tunnel gap and
deviations are injected on request. They go to standard output (default), a file, an HTTP
gateway (json, osmand), a TCP port (teltonika, gt06, nmea) or an MQTT broker, in any protocol of
the registry that has an encoder (``beacon_gateway.protocols``), as any of its packet types.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Sequence

from beacon_gateway.decoders.timestamps import parse_time
from beacon_gateway.position import DecodeError, Position
from beacon_gateway.simulator import Deviation, Pause, Simulation
from beacon_gateway.simulator.send import packet_types, sender_for, simulated_protocols
from tracker.domain import geography as geo

HELP = "Drive a simulated beacon along a declaration's route"
LATEST_IN_TRANSIT = "in-transit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--declaration", metavar="REFERENCE_OR_ID",
                       help="drive this stored declaration's route with its beacon (reads DATABASE_URL); "
                            f"'{LATEST_IN_TRANSIT}': the last one to depart of those in transit")
    where.add_argument("--route", type=Path, help="a route file: GPX or WKT LINESTRING (lon lat)")
    parser.add_argument("--device-id", help="device id (default: the declaration's beacon, else SIM-0001)")
    parser.add_argument("--protocol", choices=simulated_protocols(), default="json",
                        help="how the beacon talks (default json)")
    parser.add_argument("--packet", metavar="TYPE", help=f"the packet type it sends ({packet_types()}); "
                                                         "default the protocol's first")
    parser.add_argument("--to", default="-", metavar="TARGET",
                        help="'-' (standard output, default), a file, http://host:port, tcp://host:port "
                             "or mqtt://host:port")
    parser.add_argument("--token", help="the beacon's token: the bearer token of json, the key of osmand (over HTTP)")
    parser.add_argument("--speed", type=float, default=60.0, metavar="KMH", help="driving speed (default 60)")
    parser.add_argument("--period", type=float, default=30.0, metavar="SECONDS",
                        help="reporting period (default 30)")
    parser.add_argument("--noise", type=float, default=20.0, metavar="METRES",
                        help="GPS noise, 10-30 m is realistic (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same trip")
    parser.add_argument("--stop", action="append", default=[], type=_parsed(Pause.parse),
                        metavar="AT_MIN:MINUTES|PLACE:MINUTES", help="stand still; repeatable")
    parser.add_argument("--deviate", action="append", default=[], type=_parsed(Deviation.parse),
                        metavar="AT_MIN:DURATION_MIN:DISTANCE_M", help="leave the route; repeatable")
    parser.add_argument("--tunnel-gap", type=float, default=0.0, metavar="MINUTES",
                        help="minutes without signal around the Too-Ashuu tunnel (or --gap-at)")
    parser.add_argument("--gap-at", default=geo.TOO_ASHUU_TUNNEL.name, metavar="WAYPOINT",
                        help="named route point of the signal gap (default: the Too-Ashuu tunnel)")
    parser.add_argument("--departed", type=_parsed(parse_time), metavar="ISO8601",
                        help="departure time (default: so that the trip ends as the simulation does)")
    parser.add_argument("--start-at", type=float, metavar="MINUTES",
                        help="begin this many minutes into the trip (default 0; for a declaration that "
                             "has departed: where its trip is now, so the beacon carries on live)")
    parser.add_argument("--speedup", type=float, default=1.0, help="real-time factor (default 1)")
    parser.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                        help="wait between fixes as the device would (default: on for network targets)")
    parser.add_argument("--batch", type=int, default=1, help="fixes per message (default 1)")
    parser.add_argument("--limit", type=int, help="stop after this many fixes")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    try:
        route, device_id, departed = _route_and_device(args)
        realtime = args.realtime if args.realtime is not None else args.to != "-" and "://" in args.to
        if departed is not None and args.departed is None:
            args.departed = departed
            if args.start_at is None:
                args.start_at = max(0.0, (datetime.now(timezone.utc) - departed).total_seconds() / 60)
        args.start_at = args.start_at or 0.0
        simulation = _simulation(args, route, device_id, realtime)
        sender = sender_for(args.to, args.protocol, device_id, args.token, args.packet)
    except (ValueError, LookupError, OSError) as error:
        print(f"beacon-gateway simulate: {error}", file=sys.stderr)
        return 2
    try:
        sent = drive(simulation, sender.send, args, realtime)
    except OSError as error:
        print(f"beacon-gateway simulate: delivery failed: {error}", file=sys.stderr)
        return 1
    finally:
        sender.close()
    print(f"simulated {sent} fixes of {device_id}", file=sys.stderr)
    return 0


def drive(simulation: Simulation, send: object, args: argparse.Namespace, realtime: bool) -> int:
    """Deliver the fixes from ``--start-at`` on, in batches, waiting between them when ``realtime``."""
    start = simulation.departed + timedelta(minutes=args.start_at)
    wall_start, count = time.monotonic(), 0
    for batch in _batches((p for p in simulation.positions() if p.fix_time >= start), args.batch, args.limit):
        if realtime:
            due = wall_start + (batch[-1].fix_time - start).total_seconds() / args.speedup
            time.sleep(max(0.0, due - time.monotonic()))
        send(batch)  # type: ignore[operator]
        count += len(batch)
    return count


def _batches(positions: Iterator[Position], size: int, limit: int | None) -> Iterator[list[Position]]:
    batch: list[Position] = []
    for n, position in enumerate(positions):
        if limit is not None and n >= limit:
            break
        batch.append(position)
        if len(batch) >= max(1, size):
            yield batch
            batch = []
    if batch:
        yield batch


def _simulation(args: argparse.Namespace, route: Sequence[geo.Waypoint], device_id: str,
                realtime: bool) -> Simulation:
    has_gap = args.tunnel_gap > 0 and any(w.name == args.gap_at for w in route)
    if args.tunnel_gap > 0 and not has_gap:
        raise ValueError(f"--gap-at {args.gap_at!r} is not a named point of the route")
    simulation = Simulation(route, args.departed or datetime.now(timezone.utc), device_id=device_id,
                            protocol=args.protocol, speed_kmh=args.speed, period_s=args.period,
                            noise_m=args.noise, seed=args.seed, pauses=args.stop, deviations=args.deviate,
                            gap_at=args.gap_at if has_gap else None, gap_min=args.tunnel_gap)
    if args.departed is None:
        # End the trip when the simulation ends, so no fix is ever from the future.
        remaining = max(0.0, simulation.duration_s - args.start_at * 60)
        lead = remaining * (1 - 1 / args.speedup) if realtime else remaining
        simulation.departed = datetime.now(timezone.utc) - timedelta(minutes=args.start_at, seconds=lead)
    return simulation


Route = tuple[Sequence[geo.Waypoint], str, datetime | None]


def _route_and_device(args: argparse.Namespace) -> Route:
    """Return the route, the device id and (for a declaration that has left) its departure time."""
    if args.declaration:
        return _declared_route(args.declaration, args.device_id)
    if args.route:
        from beacon_gateway.commands.check_route import read_route
        return _named(read_route(args.route).coords), args.device_id or "SIM-0001", None
    return geo.KHAIDARKAN_AKJOL, args.device_id or "SIM-0001", None


def _declared_route(reference: str, device_id: str | None) -> Route:
    from sqlalchemy import or_, select

    from tracker.config import load_settings
    from tracker.db import make_engine, make_session_factory
    from tracker.models import Declaration, DeclarationStatus

    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as session:
            if reference == LATEST_IN_TRANSIT:
                query = (select(Declaration).where(Declaration.status == DeclarationStatus.IN_TRANSIT,
                                                   Declaration.beacon_id.is_not(None))
                         .order_by(Declaration.departed_at.desc().nulls_last(), Declaration.id.desc()).limit(1))
            else:
                query = select(Declaration).where(or_(
                    Declaration.reference == reference,
                    Declaration.id == (int(reference) if reference.isdigit() else -1)))
            declaration = session.scalars(query).one_or_none()
            if declaration is None or declaration.route is None:
                raise LookupError(f"no declaration {reference!r} with a route")
            beacon = declaration.beacon
            return (_named(declaration.route.coords), device_id or (beacon.device_id if beacon else "SIM-0001"),
                    declaration.departed_at)
    finally:
        engine.dispose()


def _named(coords: Sequence[tuple[float, ...]]) -> tuple[geo.Waypoint, ...]:
    """Route points as waypoints, named where they are a known place of the demo roads (the tunnel)."""
    known = {(round(w.lat, 6), round(w.lon, 6)): w.name
             for road in (geo.KHAIDARKAN_AKJOL, geo.OSH_DOSTUK, geo.TORUGART_BISHKEK) for w in road if w.name}
    return tuple(geo.Waypoint(lat, lon, known.get((round(lat, 6), round(lon, 6)), ""))
                 for lon, lat, *_ in coords)


def _parsed(parse: object) -> object:
    def convert(text: str) -> object:
        """Parse one option value; argparse reports the error."""
        try:
            return parse(text)  # type: ignore[operator]
        except (ValueError, DecodeError) as error:
            raise argparse.ArgumentTypeError(str(error)) from error
    convert.__name__ = getattr(parse, "__name__", "value")
    return convert
