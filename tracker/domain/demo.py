"""Demo data: a small, coherent picture of the Kyrgyz mercury trade, loaded once.

Dealers and their licences, officers at checkpoints, flasks with valid SSCCs, one
declaration in every status, and the showcase: an export from the Khaidarkan combine
to Kazakhstan that is on the road right now. Every time is relative to ``now``; the
plans below are data, the loader at the bottom turns them into rows.
"""
from __future__ import annotations

import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain import geography as geo
from tracker.domain.alerts import acknowledge_alert, close_alert, open_alert
from tracker.domain.chain import append_to_chain
from tracker.domain.demo_books import record_books
from tracker.domain.demo_data import (
    BEACONS,
    BOTTLE_G,
    BOTTLE_TARE_G,
    BOTTLER_PREFIX,
    COMBINE_PREFIX,
    COMBINE_TAXPAYER,
    CUSTODY_REMARKS,
    DAY,
    DEALERS,
    END,
    EXPORTER_PREFIX,
    FLASK_G,
    FLASK_TARE_G,
    HOUR,
    KG_TIME,
    LICENCES,
    PLANS,
    REFERENCED,
    REPORTING_PERIOD_S,
    SALES,
    SEAL_SERIES,
    SHORTAGE_G,
    SPEED_KMH,
    STAFF,
    START,
    STOCK,
    SUSPENDED_DEALER,
    TUNNEL_SHADOW_M,
    Plan,
)
from tracker.domain.demo_zones import add_demo_zones
from tracker.domain.gs1 import make_sscc
from tracker.domain.passwords import generate_password
from tracker.domain.references import make_reference
from tracker.domain.route_geometry import plan_geometry, store_route
from tracker.domain.tokens import issue_token
from tracker.domain.users import create_user
from tracker.models import (
    DEFAULT_CORRIDOR_M,
    AlertSeverity,
    AuthorisedStop,
    Beacon,
    BeaconProtocol,
    Checkpoint,
    Container,
    ContainerStatus,
    ContainerType,
    CustodyEvent,
    CustodyKind,
    Dealer,
    Declaration,
    DeclarationItem,
    DeviceToken,
    ExpectedCheckpoint,
    ImportApproval,
    License,
    LicenseStatus,
    Position,
    Role,
    Transaction,
    TransactionKind,
    User,
)
from tracker.models import DeclarationKind as Kind
from tracker.models import DeclarationStatus as Status


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and its one-time password, to show once after loading."""

    login: str
    password: str
    role: str
    description: str


@dataclass(frozen=True)
class DemoResult:
    """What :func:`load_demo` did: whether it loaded, and the accounts it created."""

    loaded: bool
    accounts: list[DemoAccount] = field(default_factory=list)


def demo_loaded(session: Session) -> bool:
    """Tell whether the demo (or an 'admin' account that would clash with it) exists."""
    admin = session.scalar(select(User.id).where(User.login == "admin"))
    combine = session.scalar(select(Dealer.id).where(
        Dealer.country == "KG", Dealer.taxpayer_number == COMBINE_TAXPAYER))
    return admin is not None or combine is not None


def load_demo(session: Session, now: datetime | None = None) -> DemoResult:
    """Load the demo data unless it is there already; flush, never commit."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if demo_loaded(session):
        return DemoResult(loaded=False, accounts=[])
    accounts = _Loader(session, now.astimezone(timezone.utc)).run()
    session.flush()
    return DemoResult(loaded=True, accounts=accounts)


def raw_message(beacon: Beacon, fix: Position) -> bytes:
    """Return the message a beacon of this protocol would have sent for ``fix``."""
    stamp = int(fix.fix_time.timestamp())
    if beacon.protocol == BeaconProtocol.OSMAND:
        knots = (fix.speed_kmh or 0.0) / 1.852
        return (f"GET /?id={beacon.device_id}&timestamp={stamp}&lat={fix.lat:.6f}&lon={fix.lon:.6f}"
                f"&speed={knots:.1f}&bearing={fix.course or 0:.1f}&accuracy={fix.accuracy_m}"
                f"&hdop={fix.hdop} HTTP/1.1").encode("ascii")
    return json.dumps({"device_id": beacon.device_id, "fix_time": stamp, "lat": fix.lat, "lon": fix.lon,
                       "speed_kmh": fix.speed_kmh, "course": fix.course, "hdop": fix.hdop,
                       "satellites": fix.satellites}, separators=(",", ":")).encode("ascii")


class _Loader:
    """Builds the demo in dependency order, keeping what later steps refer to."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now, self.rng = session, now, random.Random(2809)
        self.dealers: dict[str, Dealer] = {}
        self.sites: dict[str, Checkpoint] = {}
        self.users: dict[str, User] = {}
        self.stations: dict[str, DeviceToken] = {}
        self.beacons: dict[str, Beacon] = {}
        self.stock: dict[str, list[Container]] = {}
        self.declarations: dict[Status, Declaration] = {}
        self.trips: dict[Status, geo.Trip] = {}
        self.fixes: dict[Status, list[Position]] = {}
        self.approval: ImportApproval | None = None
        self.suspended_licence: License | None = None

    def at(self, hours: float) -> datetime:
        """Return the moment ``hours`` from now."""
        return self.now + hours * HOUR

    def run(self) -> list[DemoAccount]:
        """Create everything; return the accounts with their passwords."""
        self.places_and_parties()
        accounts = self.people()
        self.licences()
        self.devices()
        self.containers()
        for plan in PLANS:
            self.declare(plan)
        self.references()
        self.session.flush()
        self.track()
        self.custody()
        self.sales()
        self.alerts()
        record_books(self)
        add_demo_zones(self.session)
        return accounts

    def places_and_parties(self) -> None:
        """Create the checkpoints and the dealers, domestic and foreign."""
        for s in geo.CHECKPOINTS:
            self.sites[s.code] = Checkpoint(code=s.code, name=s.name, kind=s.kind, lat=s.lat, lon=s.lon,
                                            radius_m=s.radius_m, country="KG",
                                            neighbour_country=s.neighbour_country,
                                            names=geo.CHECKPOINT_NAMES.get(s.code, {}))
        for key, name, taxpayer, country, address in DEALERS:
            self.dealers[key] = Dealer(legal_name=name, taxpayer_number=taxpayer, country=country,
                                       address=address, created_at=self.at(-400 * DAY))
        self.session.add_all([*self.sites.values(), *self.dealers.values()])
        self.session.flush()

    def people(self) -> list[DemoAccount]:
        """Create the staff and one trader per domestic dealer, each with a fresh password."""
        accounts = [self.account(login, name, role, description, posts=posts)
                    for login, name, role, posts, description in STAFF]
        return accounts + [self.account(f"trader.{key}", name, Role.TRADER,
                                        f"trader for {self.dealers[key].legal_name}", dealer=key)
                           for key, (_, _, name) in LICENCES.items()]

    def account(self, login: str, name: str, role: Role, description: str,
                dealer: str | None = None, posts: tuple[str, ...] = ()) -> DemoAccount:
        """Create one user with a fresh password and return the account to show."""
        password = generate_password([login, name])
        user = create_user(self.session, login=login, name=name, role=role, password=password,
                           dealer=self.dealers[dealer] if dealer else None,
                           checkpoints=[self.sites[code] for code in posts])
        user.created_at = self.at(-365 * DAY)
        self.users[login] = user
        return DemoAccount(login, password, role.value, description)

    def licences(self) -> None:
        """Issue the licences (one suspended) and the Bishkek supplier's import consent."""
        admin, start = self.users["admin"], self.at(-200 * DAY)
        for serial, (key, (activities, quota, _trader)) in enumerate(LICENCES.items(), start=1):
            licence = License(number=f"KG-HG-{start.year}-{serial:04d}", dealer=self.dealers[key],
                              valid_from=start.astimezone(KG_TIME).date(), annual_quota_g=quota,
                              valid_to=self.at(900 * DAY).astimezone(KG_TIME).date(),
                              issued_by=admin, issued_at=start)
            licence.activities = activities
            if key == SUSPENDED_DEALER:
                licence.status = LicenseStatus.SUSPENDED
                licence.status_reason = (f"Suspended {self.at(-DAY):%Y-%m-%d}: inspection found the store "
                                         "without mercury vapour monitoring; re-inspection pending.")
                self.suspended_licence = licence
            self.session.add(licence)
        self.approval = ImportApproval(
            number=f"KG-HG-IMP-{self.at(-30 * DAY).year}-0001", importer=self.dealers["bishkek"],
            exporter_name=self.dealers["cn"].legal_name, exporter_country="CN", quantity_g=200_000,
            intended_use="Dental amalgam and laboratory reagents, resold to licensed users.",
            source_not_primary_mining=True, issued_by_id=admin.id, issued_at=self.at(-30 * DAY),
            source_statement="Recovered by the exporter from spent lamps and dental waste; not from "
                             "primary mercury mining nor chlor-alkali surplus (exporter's certificate).",
            valid_until=self.at(330 * DAY).astimezone(KG_TIME).date())
        self.session.add(self.approval)

    def devices(self) -> None:
        """Register the beacons; issue a beacon token and two checkpoint station tokens."""
        for key, (device_id, protocol, owner, description) in BEACONS.items():
            self.beacons[key] = Beacon(device_id=device_id, protocol=protocol, description=description,
                                       owner_id=self.dealers[owner].id, reporting_period_s=REPORTING_PERIOD_S,
                                       created_at=self.at(-45 * DAY))
        self.session.add_all(self.beacons.values())
        admin = self.users["admin"]
        tokens = [issue_token(self.session, name="truck 09 KG 482 AAH", beacon=self.beacons["truck1"],
                              created_by=admin)[0]]
        for code in ("KHD-GATE", "OSH"):   # the secrets are not kept: re-issue to use them
            self.stations[code] = issue_token(self.session, name=f"{code} scanner station",
                                              checkpoint=self.sites[code], created_by=admin)[0]
            tokens.append(self.stations[code])
        for token in tokens:
            token.created_at = self.at(-45 * DAY)

    def containers(self) -> None:
        """Register the flasks (SSCC, seal, owner, custodian) and the dental lab's bottles."""
        serials = {COMBINE_PREFIX: 1000, EXPORTER_PREFIX: 7000, BOTTLER_PREFIX: 300}
        for group, (owner, count, prefix, days) in STOCK.items():
            self.stock[group] = [self.container(owner, prefix, serials[prefix] + i, days, FLASK_G)
                                 for i in range(1, count + 1)]
            serials[prefix] += count
        self.stock["bottles"] = [self.container("dentalab", BOTTLER_PREFIX, serials[BOTTLER_PREFIX] + i,
                                                7, BOTTLE_G) for i in (1, 2)]
        self.session.add_all(c for group in self.stock.values() for c in group)

    def container(self, owner: str, prefix: str, serial: int, days: int, net_g: int) -> Container:
        """Return one full, sealed container held by its owner."""
        flask = net_g == FLASK_G
        return Container(
            sscc=make_sscc(3 if flask else 0, prefix, serial), net_g=net_g, capacity_g=net_g,
            container_type=ContainerType.FLASK_34_5KG if flask else ContainerType.BOTTLE,
            tare_g=FLASK_TARE_G if flask else BOTTLE_TARE_G, status=ContainerStatus.IN_STOCK,
            seal_number=f"{SEAL_SERIES[prefix]}-{serial:06d}", registered_at=self.at(-days * DAY),
            owner=self.dealers[owner], custodian=self.dealers[owner])

    def declare(self, plan: Plan) -> None:
        """Create one declaration with its items, checkpoints, route and status times."""
        declarant, consignor, consignee = (self.dealers[key] for key in plan.parties)
        group, first, stop = plan.flasks
        # A closed declaration is loaded as arrived: its report of receipt closes it (demo_books).
        status = Status.ARRIVED if plan.status == Status.CLOSED else plan.status
        declaration = Declaration(
            kind=plan.kind, status=status, declarant=declarant, consignor=consignor,
            consignee=consignee, origin=self.sites[plan.places[0]], destination=self.sites[plan.places[1]],
            corridor_m=DEFAULT_CORRIDOR_M,
            beacon=self.beacons[plan.beacon] if plan.beacon else None, vehicle=plan.vehicle,
            decision_reason=plan.reason, created_by=self.users[f"trader.{plan.parties[0]}"],
            items=[DeclarationItem(container=flask, declared_net_g=flask.net_g)
                   for flask in self.stock[group][first:stop]],
            expected_checkpoints=[ExpectedCheckpoint(seq=i, checkpoint=self.sites[code])
                                  for i, code in enumerate(plan.via)])
        if plan.route:
            route = geo.route_line(plan.route)
            store_route(declaration, route, plan_geometry(route, DEFAULT_CORRIDOR_M))
        for attribute, hours in plan.hours.items():
            setattr(declaration, attribute, self.at(hours))
        if declaration.decided_at is not None:
            declaration.decided_by_id = self.users[plan.decided_by].id
        if plan.kind == Kind.IMPORT:
            declaration.import_approval = self.approval
        self.declarations[plan.status] = declaration
        self.session.add(declaration)
        if "departed_at" in plan.hours:
            self.drive(plan, declaration, self.at(plan.hours["departed_at"]))

    def drive(self, plan: Plan, declaration: Declaration, departed: datetime) -> None:
        """Put a departed declaration on the road: stops, arrival, receipt, container status."""
        trip = geo.Trip(plan.route, departed, SPEED_KMH, plan.stops)
        self.trips[plan.status] = trip
        if plan.track:
            declaration.authorised_stops = [AuthorisedStop(seq=i, name=n, lat=lat, lon=lon, radius_m=r)
                                            for i, (n, lat, lon, r) in enumerate(geo.M41_AUTHORISED_STOPS)]
        if plan.status in (Status.ARRIVED, Status.CLOSED):
            declaration.arrived_at = trip.reaches()
        for i, item in enumerate(declaration.items):
            if plan.status == Status.IN_TRANSIT:
                item.container.status = ContainerStatus.IN_TRANSIT
            if plan.status == Status.CLOSED:
                item.received_net_g = item.declared_net_g - (SHORTAGE_G if i == 0 else 0)
                item.container.net_g = item.received_net_g

    def references(self) -> None:
        """Number approved-and-later declarations per year, in order of decision."""
        serials: dict[int, int] = {}
        decided = {d: d.decided_at or self.now for d in self.declarations.values() if d.status in REFERENCED}
        for declaration, when in sorted(decided.items(), key=lambda pair: pair[1]):
            year = when.year
            serials[year] = serials.get(year, 0) + 1
            declaration.reference = make_reference(year, serials[year])

    def track(self) -> None:
        """Store the fixes of tracked trips, one per reporting period, up to now or arrival."""
        for plan in (p for p in PLANS if p.track):
            declaration, trip = self.declarations[plan.status], self.trips[plan.status]
            beacon = self.beacons[plan.beacon or ""]
            tunnel = geo.distance_to(trip.route, geo.TOO_ASHUU_TUNNEL.name)
            fixes, when = [], trip.departed
            while when <= min(self.now, declaration.arrived_at or self.now):
                driven, standing = trip.odometer(when)
                if abs(driven - tunnel) > TUNNEL_SHADOW_M:
                    fixes.append(self.fix(beacon, declaration, trip, when, (driven, standing)))
                when += timedelta(seconds=beacon.reporting_period_s)
            self.fixes[plan.status] = fixes
            self.session.add_all(fixes)

    def fix(self, beacon: Beacon, declaration: Declaration, trip: geo.Trip, when: datetime,
            odometer: tuple[float, bool]) -> Position:
        """Return one plausible fix, with a little GPS noise, and its raw message."""
        (driven, standing), noise = odometer, self.rng.uniform
        point, course = geo.point_along(trip.route, driven)
        position = Position(
            beacon_id=beacon.id, declaration_id=declaration.id, fix_time=when, protocol=beacon.protocol,
            received_at=when + timedelta(seconds=noise(1, 20)), flags=[],
            lat=round(point.lat + noise(-4e-5, 4e-5), 6), lon=round(point.lon + noise(-4e-5, 4e-5), 6),
            speed_kmh=0.0 if standing else round(max(5.0, trip.speed_kmh + noise(-15, 15)), 1),
            course=None if standing else round(course, 1), accuracy_m=round(noise(3, 12), 1),
            hdop=round(noise(0.7, 1.6), 1), satellites=self.rng.randint(7, 13))
        position.raw = raw_message(beacon, position)
        return position

    def custody(self) -> None:
        """Record the custody events of departed declarations, chained in time order."""
        events = []
        for plan in PLANS:
            declaration = self.declarations[plan.status]
            for kind, code, recorder, anchor in plan.events:
                when = self.event_time(self.trips[plan.status], anchor)
                events += [self.custody_event(declaration, item, kind, code, recorder,
                                              when + timedelta(seconds=40 * i))  # one scan per flask
                           for i, item in enumerate(declaration.items)]
        for event in sorted(events, key=lambda e: (e.event_time, e.container_id)):
            append_to_chain(self.session, event)

    @staticmethod
    def event_time(trip: geo.Trip, anchor: str) -> datetime:
        """Return when a checkpoint scanned the load: before departure, at a stop, after arrival."""
        if anchor == START:
            return trip.departed - timedelta(minutes=15)
        if anchor == END:
            return trip.reaches() + timedelta(minutes=15)
        return trip.reaches(anchor) + timedelta(minutes=10)

    def custody_event(self, declaration: Declaration, item: DeclarationItem, kind: CustodyKind,
                      code: str, recorder: str, when: datetime) -> CustodyEvent:
        """Return one custody event with every foreign key set as an integer."""
        site, station = self.sites[code], self.stations.get(recorder.removeprefix("station:"))
        officer = None if station else self.users[recorder]
        arrival = kind == CustodyKind.ARRIVAL
        return CustodyEvent(
            client_event_id=str(uuid.uuid4()), kind=kind, container_id=item.container_id,
            declaration_id=declaration.id, checkpoint_id=site.id,
            from_party_id=declaration.consignor_id if kind != CustodyKind.INSPECTION else None,
            to_party_id=declaration.consignee_id if arrival else None,
            officer_id=officer.id if officer else None, device_token_id=station.id if station else None,
            event_time=when, event_time_zone="+06:00", recorded_at=when + timedelta(seconds=30),
            lat=site.lat, lon=site.lon, seal_intact=True, remarks=CUSTODY_REMARKS[kind],
            measured_net_g=item.received_net_g if arrival else None)

    def sales(self) -> None:
        """Enter the sales register in date order (the dental lab's bottles come from one flask)."""
        for seller, buyer, mass_g, place, hours, status, remarks in sorted(SALES, key=lambda s: s[4]):
            when, declaration = self.at(hours), self.declarations[status] if status else None
            append_to_chain(self.session, Transaction(
                kind=TransactionKind.SALE, seller_id=self.dealers[seller].id,
                buyer_id=self.dealers[buyer].id, mass_g=mass_g, place=place, remarks=remarks,
                transaction_date=when.astimezone(KG_TIME).date(),
                declaration_id=declaration.id if declaration else None,
                recorded_by_id=self.users[f"trader.{seller}"].id, recorded_at=when + HOUR,
                needs_confirmation=True))  # the buyers confirm them (demo_books)

    def alerts(self) -> None:
        """Raise a tunnel signal loss (closed) and the suspended licence's alert (open)."""
        officer = self.users["officer.bishkek"]
        arrived = self.declarations[Status.ARRIVED]
        period = timedelta(seconds=REPORTING_PERIOD_S)
        pairs = itertools.pairwise(self.fixes[Status.ARRIVED])
        before, after = max(pairs, key=lambda pair: pair[1].fix_time - pair[0].fix_time)
        opened = before.fix_time + 2 * period
        lost = open_alert(self.session, kind=AlertKind.SIGNAL_LOST,
                          declaration=arrived, at=opened, lat=before.lat, lon=before.lon,
                          details={"last_fix_at": before.fix_time.isoformat(),
                                   "missed_reports": (after.fix_time - before.fix_time) // period - 1})
        acknowledge_alert(self.session, lost, officer, at=opened + timedelta(minutes=3))
        close_alert(self.session, lost, officer, "No coverage in the Too-Ashuu tunnel; fixes resumed on the "
                    "far side, on the route.", at=after.fix_time)
        suspended, licence = self.declarations[Status.APPROVED], self.suspended_licence
        assert licence is not None
        # What licensing.suspend_licence's alert says (tracker/domain/lapses.py).
        open_alert(self.session, kind=AlertKind.LICENCE_SUSPENDED,
                   declaration=suspended, at=self.at(-DAY),
                   details={"licence": licence.number, "dealer": suspended.declarant.legal_name,
                            "reason": licence.status_reason, "since": self.at(-DAY).isoformat(),
                            "by": self.users["admin"].login})
