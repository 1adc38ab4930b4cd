"""Demo data: a small, coherent picture of the Kyrgyz mercury trade, loaded once.

Dealers and their licences, officers at checkpoints, flasks with valid SSCCs, one
declaration in every status, and the showcase: an export from the Khaidarkan combine
to Kazakhstan that is on the road right now. Every time is relative to ``now``.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import geography as geo
from tracker.domain.chain import append_to_chain
from tracker.domain.gs1 import make_sscc
from tracker.domain.passwords import generate_password
from tracker.domain.references import make_reference
from tracker.domain.tokens import issue_token
from tracker.domain.users import create_user
from tracker.models import (
    Activity as A, Alert, AlertSeverity, AlertStatus, AuthorisedStop, Beacon, BeaconProtocol,
    Checkpoint, Container, ContainerStatus, ContainerType, CustodyEvent, CustodyKind, Dealer,
    Declaration, DeclarationItem, DeclarationKind as K, DeclarationStatus as S, DeviceToken,
    ExpectedCheckpoint, ImportApproval, License, LicenseStatus, Position, Role, Transaction,
    TransactionKind, User,
)

KG_TIME = timezone(timedelta(hours=6))
COMBINE_TAXPAYER = "01207199310028"
COMBINE_PREFIX = "470000001"    # made-up GS1 company prefix under 470 (Kyrgyzstan)
EXPORTER_PREFIX = "690000002"   # made-up prefix under 690 (China): the imported flasks
BOTTLE_PREFIX = "470000017"     # made-up prefix of the Bishkek supplier, who fills bottles
FLASK_G, FLASK_TARE_G, BOTTLE_G, BOTTLE_TARE_G = 34_500, 2_700, 1_000, 350
SPEED_KMH = 50.0                # mountain roads, loaded truck
TUNNEL_SHADOW_M = 8_000         # no fixes this close to the Too-Ashuu tunnel
HOUR = timedelta(hours=1)
REFERENCED = (S.APPROVED, S.IN_TRANSIT, S.ARRIVED, S.CLOSED)
CUSTODY_REMARKS = {
    CustodyKind.DEPARTURE: "Loaded and sealed; UN 2809 placards and documents checked.",
    CustodyKind.INSPECTION: "Seals intact, documents in order.",
    CustodyKind.ARRIVAL: "Received; seals intact, flasks weighed.",
    CustodyKind.HANDOVER: "Handed over.",
}

# key, legal name, taxpayer number (KG: 14-digit INN), country, address
DEALERS = (
    ("khaidarkan", "Khaidarkan Mercury Combine OJSC", COMBINE_TAXPAYER, "KG",
     "Khaidarkan, Kadamjai district, Batken region"),
    ("osh", "Osh Kimyo Trade LLC", "02508200510117", "KG", "Osh, Kurmanjan Datka st. 212"),
    ("bishkek", "Bishkek Chemical Supply LLC", "02911201110236", "KG", "Bishkek, Ibraimov st. 103"),
    ("dentalab", "Dentalab Bishkek LLC", "01403201610345", "KG", "Bishkek, Toktogul st. 77"),
    ("jalalabad", "Jalal-Abad Reagent LLC", "02206200810451", "KG", "Jalal-Abad, Lenin st. 15"),
    ("kz", "KazChemTrade LLP", "190440012345", "KZ", "Almaty, Kazakhstan"),
    ("cn", "Xinjiang Tianshan Recycling Co., Ltd.", "91650100MA7X3K2Q4B", "CN", "Urumqi, China"),
    ("uz", "Fergana Kimyo Savdo LLC", "305123456", "UZ", "Fergana, Uzbekistan"),
)
# domestic dealer key: (activities, annual quota in grams)
LICENCES = {
    "khaidarkan": ({A.PRODUCTION, A.DOMESTIC_TRADE, A.EXPORT, A.STORAGE}, 60_000_000),
    "osh": ({A.DOMESTIC_TRADE, A.STORAGE}, 2_000_000),
    "bishkek": ({A.IMPORT, A.DOMESTIC_TRADE, A.STORAGE}, 1_000_000),
    "dentalab": ({A.USE, A.STORAGE}, 20_000),
    "jalalabad": ({A.DOMESTIC_TRADE, A.STORAGE}, 500_000),
}
SUSPENDED_DEALER = "jalalabad"
# login, name, role, checkpoint codes, what the account is for (traders are added per dealer)
STAFF = (
    ("admin", "Aibek Sadykov", Role.LICENSING_ADMIN, (), "licensing authority: licences, approvals, users, devices"),
    ("auditor", "Nurgul Abdyldaeva", Role.AUDITOR, (), "Ministry of Finance auditor, reads everything"),
    ("officer.osh", "Bakyt Mamatov", Role.CUSTOMS_OFFICER, ("OSH", "KHD-GATE", "JALALABAD"),
     "customs officer: Osh post, Khaidarkan gate, Jalal-Abad"),
    ("officer.bishkek", "Elmira Asanova", Role.CUSTOMS_OFFICER, ("BISHKEK", "TOKTOGUL"),
     "customs officer: Bishkek terminal, Toktogul"),
    ("officer.akjol", "Talant Kadyrov", Role.CUSTOMS_OFFICER, ("AKJOL",), "customs officer: Ak-Jol border"),
    ("officer.south", "Azamat Toktomushev", Role.CUSTOMS_OFFICER, ("TORUGART", "NARYN", "IRKESHTAM", "DOSTUK"),
     "customs officer: Torugart, Naryn, Irkeshtam, Dostuk"),
)
TRADER_NAMES = {"khaidarkan": "Maksat Zhusupov", "osh": "Dilnoza Yusupova", "bishkek": "Igor Pak",
                "dentalab": "Aida Bekova", "jalalabad": "Ulan Sydykov"}
# stock group: (owner, flask count, SSCC company prefix, days since registration)
STOCK = {
    "khaidarkan": ("khaidarkan", 22, COMBINE_PREFIX, 90), "osh": ("osh", 4, COMBINE_PREFIX, 120),
    "jalalabad": ("jalalabad", 2, COMBINE_PREFIX, 150), "bishkek": ("bishkek", 6, COMBINE_PREFIX, 60),
    "imported": ("bishkek", 4, EXPORTER_PREFIX, 14),
}
# key: (device id, protocol, owner, description)
BEACONS = {
    "truck1": ("356938035643809", BeaconProtocol.OSMAND, "khaidarkan", "truck 09 KG 482 AAH, cab tracker"),
    "truck2": ("352091071128345", BeaconProtocol.JSON, "khaidarkan", "truck 09 KG 517 AAH, cab tracker"),
    "van": ("861234050188765", BeaconProtocol.TELTONIKA, "jalalabad", "van 03 KG 201 BCD"),
    "importer": ("358473112900425", BeaconProtocol.GT06, "bishkek", "container seal tracker"),
    "osh": ("862479046311570", BeaconProtocol.MQTT, "osh", "truck 05 KG 930 CCE"),
}
M41, TORUGART = geo.KHAIDARKAN_AKJOL, geo.TORUGART_BISHKEK
KHD_BISHKEK = geo.section(M41, "Khaidarkan", "Bishkek")
START, END = "<start>", "<end>"


@dataclass(frozen=True)
class Plan:
    """One demo declaration: parties, places, flasks, timing (hours from now) and events."""

    status: S
    kind: K
    parties: tuple[str, str, str]          # declarant, consignor, consignee
    places: tuple[str, str]                # origin and destination checkpoint codes
    route: tuple[geo.Waypoint, ...]
    via: tuple[str, ...]                   # expected checkpoints, in order
    flasks: tuple[str, int, int]           # stock group and slice
    hours: dict[str, float]                # declaration time attribute -> hours from now
    beacon: str | None = None
    decided_by: str = "admin"
    reason: str = ""
    vehicle: str = ""
    stops: tuple[tuple[str, float], ...] = ()   # (waypoint, dwell hours) on the road
    events: tuple[tuple[CustodyKind, str, str, str], ...] = ()   # kind, checkpoint, recorder, anchor
    track: bool = False                    # keep the beacon's positions


PLANS = (
    Plan(S.CLOSED, K.IMPORT, ("bishkek", "cn", "bishkek"), ("TORUGART", "BISHKEK"), TORUGART,
         ("NARYN", "BISHKEK"), ("imported", 0, 4), {"created_at": -24 * 21, "submitted_at": -24 * 20,
         "decided_at": -24 * 18, "planned_departure": -24 * 15 - 1, "planned_arrival": -24 * 15 + 12,
         "departed_at": -24 * 15, "closed_at": -24 * 13}, "importer", "officer.bishkek",
         vehicle="CN 新A 3K217", stops=(("Naryn", 0.5),),
         events=((CustodyKind.DEPARTURE, "TORUGART", "officer.south", START),
                 (CustodyKind.INSPECTION, "NARYN", "officer.south", "Naryn"),
                 (CustodyKind.ARRIVAL, "BISHKEK", "officer.bishkek", END))),
    Plan(S.ARRIVED, K.DOMESTIC, ("khaidarkan", "khaidarkan", "bishkek"), ("KHD-GATE", "BISHKEK"),
         KHD_BISHKEK, ("OSH", "TOKTOGUL", "BISHKEK"), ("bishkek", 0, 6), {"created_at": -24 * 7,
         "submitted_at": -24 * 6, "decided_at": -24 * 5, "planned_departure": -48.5,
         "planned_arrival": -32, "departed_at": -48}, "truck2", vehicle="09 KG 517 AAH",
         stops=(("Osh", 0.75), ("Toktogul", 0.5)), track=True,
         events=((CustodyKind.DEPARTURE, "KHD-GATE", "station:KHD-GATE", START),
                 (CustodyKind.INSPECTION, "OSH", "officer.osh", "Osh"),
                 (CustodyKind.INSPECTION, "TOKTOGUL", "officer.bishkek", "Toktogul"),
                 (CustodyKind.ARRIVAL, "BISHKEK", "officer.bishkek", END))),
    Plan(S.IN_TRANSIT, K.EXPORT, ("khaidarkan", "khaidarkan", "kz"), ("KHD-GATE", "AKJOL"), M41,
         ("OSH", "TOKTOGUL", "BISHKEK", "AKJOL"), ("khaidarkan", 0, 10), {"created_at": -24 * 4,
         "submitted_at": -24 * 3, "decided_at": -24 * 2, "planned_departure": -5.75,
         "planned_arrival": 11, "departed_at": -5.5}, "truck1", "officer.osh",
         vehicle="09 KG 482 AAH", stops=(("Osh", 0.75),), track=True,
         events=((CustodyKind.DEPARTURE, "KHD-GATE", "station:KHD-GATE", START),
                 (CustodyKind.INSPECTION, "OSH", "officer.osh", "Osh"))),
    Plan(S.APPROVED, K.DOMESTIC, ("jalalabad", "jalalabad", "osh"), ("JALALABAD", "OSH"),
         geo.section(M41, "Jalal-Abad", "Osh"), ("OSH",), ("jalalabad", 0, 2),
         {"created_at": -24 * 4, "submitted_at": -24 * 3, "decided_at": -48,
          "planned_departure": 20, "planned_arrival": 23}, "van", vehicle="03 KG 201 BCD"),
    Plan(S.REJECTED, K.EXPORT, ("osh", "osh", "uz"), ("OSH", "DOSTUK"), geo.OSH_DOSTUK,
         ("DOSTUK",), ("osh", 0, 2), {"created_at": -24 * 5, "submitted_at": -24 * 4,
         "decided_at": -24 * 3, "planned_departure": -24 * 2, "planned_arrival": -46}, "osh",
         "officer.osh", "Licence does not cover export, and the consignee holds no import "
         "consent of the Republic of Uzbekistan (Minamata Convention, Art. 3).", "05 KG 930 CCE"),
    Plan(S.SUBMITTED, K.DOMESTIC, ("osh", "osh", "bishkek"), ("OSH", "BISHKEK"),
         geo.section(M41, "Osh", "Bishkek"), ("TOKTOGUL", "BISHKEK"), ("osh", 0, 2),
         {"created_at": -30, "submitted_at": -26, "planned_departure": 48, "planned_arrival": 62},
         "osh", vehicle="05 KG 930 CCE"),
    Plan(S.CANCELLED, K.DOMESTIC, ("khaidarkan", "khaidarkan", "osh"), ("KHD-GATE", "OSH"),
         geo.section(M41, "Khaidarkan", "Osh"), ("OSH",), ("khaidarkan", 10, 12),
         {"created_at": -24 * 10, "submitted_at": -24 * 9, "decided_at": -24 * 8,
          "planned_departure": -24 * 7, "planned_arrival": -24 * 7 + 4}, decided_by="trader.khaidarkan",
         reason="Withdrawn by the declarant: the buyer postponed the order."),
    Plan(S.DRAFT, K.DOMESTIC, ("khaidarkan", "khaidarkan", "osh"), ("KHD-GATE", "OSH"), (),
         ("OSH",), ("khaidarkan", 10, 14), {"created_at": -2, "planned_departure": 24 * 5,
         "planned_arrival": 24 * 5 + 4}),
)
# seller, buyer, flasks or grams, place, hours from now, declaration status, remarks
SALES = (
    ("khaidarkan", "jalalabad", 2 * FLASK_G, "Khaidarkan", -24 * 60, None, "2 flasks"),
    ("khaidarkan", "osh", 4 * FLASK_G, "Khaidarkan", -24 * 40, None, "4 flasks"),
    ("khaidarkan", "bishkek", 6 * FLASK_G, "Khaidarkan", -24 * 6, S.ARRIVED, "6 flasks, delivered by road"),
    ("bishkek", "dentalab", 2_000, "Bishkek", -24 * 7, None, "2 bottles of 1 kg, decanted from a flask"),
)
SHORTAGE_G = 40   # the closed import's first flask weighed light on receipt


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and its one-time password, to print once after loading."""

    login: str
    password: str
    role: str
    description: str


@dataclass(frozen=True)
class DemoResult:
    """What :func:`load_demo` did: whether it loaded, and the accounts it created."""

    loaded: bool
    accounts: list[DemoAccount] = field(default_factory=list)


@dataclass(frozen=True)
class Trip:
    """A vehicle driving a route at a steady speed, with dwells at named waypoints."""

    route: tuple[geo.Waypoint, ...]
    departed: datetime
    speed_mps: float
    stops: tuple[tuple[str, float], ...]

    def reaches(self, name: str) -> datetime:
        """Return when the vehicle reaches a named waypoint (or the end)."""
        at = geo.route_length_m(self.route) if name == END else geo.distance_to(self.route, name)
        dwell = sum(h for stop, h in self.stops if geo.distance_to(self.route, stop) < at)
        return self.departed + timedelta(seconds=at / self.speed_mps) + dwell * HOUR

    def odometer(self, when: datetime) -> tuple[float, bool]:
        """Return the distance driven by ``when`` and whether the vehicle stands still."""
        left, done = (when - self.departed).total_seconds(), 0.0
        for stop, hours in self.stops:
            drive = (geo.distance_to(self.route, stop) - done) / self.speed_mps
            if left < drive:
                break
            left, done = left - drive, done + drive * self.speed_mps
            if left < hours * 3600:
                return done, True
            left -= hours * 3600
        return min(done + left * self.speed_mps, geo.route_length_m(self.route)), False


def demo_loaded(session: Session) -> bool:
    """Tell whether the demo (or an 'admin' account that would clash with it) exists."""
    admin = session.scalar(select(User.id).where(User.login == "admin"))
    combine = session.scalar(select(Dealer.id).where(
        Dealer.country == "KG", Dealer.taxpayer_number == COMBINE_TAXPAYER))
    return admin is not None or combine is not None


def load_demo(session: Session, now: datetime | None = None) -> DemoResult:
    """Load the demo data unless it is there already; flush, never commit."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if demo_loaded(session):
        return DemoResult(loaded=False, accounts=[])
    loader = _Loader(session, now.astimezone(timezone.utc))
    accounts = loader.run()
    session.flush()
    return DemoResult(loaded=True, accounts=accounts)


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
        self.declarations: dict[S, Declaration] = {}
        self.trips: dict[S, Trip] = {}
        self.fixes: dict[S, list[Position]] = {}
        self.approval: ImportApproval | None = None

    def at(self, hours: float) -> datetime:
        """Return the moment ``hours`` from now."""
        return self.now + hours * HOUR

    def add(self, row: object) -> None:
        """Add a row to the session."""
        self.session.add(row)

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
        return accounts

    def places_and_parties(self) -> None:
        """Create the checkpoints and the dealers, domestic and foreign."""
        for s in geo.CHECKPOINTS:
            self.sites[s.code] = Checkpoint(code=s.code, name=s.name, kind=s.kind, lat=s.lat, lon=s.lon,
                                            radius_m=s.radius_m, country="KG", neighbour_country=s.neighbour_country)
        for key, name, taxpayer, country, address in DEALERS:
            self.dealers[key] = Dealer(legal_name=name, taxpayer_number=taxpayer, country=country,
                                       address=address, created_at=self.at(-24 * 400))
        self.session.add_all([*self.sites.values(), *self.dealers.values()])
        self.session.flush()

    def people(self) -> list[DemoAccount]:
        """Create staff and one trader per domestic dealer, each with a fresh password."""
        traders = tuple((f"trader.{key}", TRADER_NAMES[key], Role.TRADER, key,
                         f"trader for {self.dealers[key].legal_name}") for key in LICENCES)
        accounts = []
        for login, name, role, posts, description in STAFF + traders:
            password = generate_password()
            dealer = self.dealers[posts] if role == Role.TRADER else None
            checkpoints = [] if dealer else [self.sites[code] for code in posts]
            user = create_user(self.session, login=login, name=name, role=role, password=password,
                               dealer=dealer, checkpoints=checkpoints)
            user.created_at = self.at(-24 * 30)
            self.users[login] = user
            accounts.append(DemoAccount(login, password, role.value, description))
        return accounts

    def licences(self) -> None:
        """Issue the licences (one suspended) and the import consent of the Bishkek supplier."""
        admin, start = self.users["admin"], self.at(-24 * 200)
        for serial, (key, (activities, quota)) in enumerate(LICENCES.items(), start=1):
            licence = License(number=f"KG-HG-{start.year}-{serial:04d}", dealer=self.dealers[key],
                              valid_from=start.astimezone(KG_TIME).date(), annual_quota_g=quota,
                              valid_to=self.at(24 * 900).astimezone(KG_TIME).date(),
                              issued_by=admin, issued_at=start)
            licence.activities = activities
            if key == SUSPENDED_DEALER:
                licence.status = LicenseStatus.SUSPENDED
                licence.status_reason = (f"Suspended {self.at(-24):%Y-%m-%d}: inspection found the store "
                                         "without mercury vapour monitoring; re-inspection pending.")
            self.add(licence)
        self.approval = ImportApproval(
            number=f"KG-HG-IMP-{self.at(-24 * 30).year}-0001", importer=self.dealers["bishkek"],
            exporter_name=self.dealers["cn"].legal_name, exporter_country="CN", quantity_g=200_000,
            intended_use="Dental amalgam and laboratory reagents, resold to licensed users.",
            source_not_primary_mining=True, issued_by_id=admin.id, issued_at=self.at(-24 * 30),
            source_statement="Recovered by the exporter from spent lamps and dental waste; not from "
                             "primary mercury mining nor chlor-alkali surplus (exporter's certificate).",
            valid_until=self.at(24 * 330).date())
        self.add(self.approval)

    def devices(self) -> None:
        """Register the beacons; issue a beacon token and two checkpoint station tokens."""
        for key, (device_id, protocol, owner, description) in BEACONS.items():
            self.beacons[key] = Beacon(device_id=device_id, protocol=protocol, description=description,
                                       owner_id=self.dealers[owner].id, reporting_period_s=300,
                                       created_at=self.at(-24 * 45))
        self.session.add_all(self.beacons.values())
        admin = self.users["admin"]
        issued = [issue_token(self.session, name="truck 09 KG 482 AAH", beacon=self.beacons["truck1"],
                              created_by=admin)[0]]
        for code in ("KHD-GATE", "OSH"):
            self.stations[code], _secret = issue_token(
                self.session, name=f"{code} scanner station", checkpoint=self.sites[code], created_by=admin)
            issued.append(self.stations[code])
        for token in issued:
            token.created_at = self.at(-24 * 45)

    def containers(self) -> None:
        """Register the flasks (SSCC, seal, owner, custodian) and the dental lab's bottles."""
        serials = {COMBINE_PREFIX: 1000, EXPORTER_PREFIX: 7000, BOTTLE_PREFIX: 300}
        for group, (owner, count, prefix, days) in STOCK.items():
            self.stock[group] = [self.container(owner, prefix, serials[prefix] + i, days, FLASK_G)
                                 for i in range(1, count + 1)]
            serials[prefix] += count
        self.stock["bottles"] = [self.container("dentalab", BOTTLE_PREFIX, serials[BOTTLE_PREFIX] + i, 7,
                                                BOTTLE_G) for i in (1, 2)]
        self.session.add_all(c for group in self.stock.values() for c in group)

    def container(self, owner: str, prefix: str, serial: int, days: int, net_g: int) -> Container:
        """Return one full, sealed container held by its owner."""
        flask = net_g == FLASK_G
        return Container(
            sscc=make_sscc(3 if flask else 0, prefix, serial), net_g=net_g, capacity_g=net_g,
            container_type=ContainerType.FLASK_34_5KG if flask else ContainerType.BOTTLE,
            tare_g=FLASK_TARE_G if flask else BOTTLE_TARE_G, seal_number=f"S{prefix[-3:]}-{serial:06d}",
            status=ContainerStatus.IN_STOCK, owner=self.dealers[owner], custodian=self.dealers[owner],
            registered_at=self.at(-24 * days))

    def declare(self, plan: Plan) -> None:
        """Create one declaration with its items, checkpoints, route and status times."""
        declarant, consignor, consignee = (self.dealers[key] for key in plan.parties)
        group, first, stop = plan.flasks
        declaration = Declaration(
            kind=plan.kind, status=plan.status, declarant=declarant, consignor=consignor,
            consignee=consignee, origin=self.sites[plan.places[0]], destination=self.sites[plan.places[1]],
            route=geo.route_line(plan.route) if plan.route else None, corridor_m=500,
            beacon=self.beacons.get(plan.beacon or ""), vehicle=plan.vehicle, decision_reason=plan.reason,
            created_by=self.users[f"trader.{plan.parties[0]}"],
            items=[DeclarationItem(container=c, declared_net_g=c.net_g) for c in self.stock[group][first:stop]],
            expected_checkpoints=[ExpectedCheckpoint(seq=i, checkpoint=self.sites[code])
                                  for i, code in enumerate(plan.via)])
        for attribute, hours in plan.hours.items():
            setattr(declaration, attribute, self.at(hours))
        if declaration.decided_at is not None:
            declaration.decided_by_id = self.users[plan.decided_by].id
        if plan.kind == K.IMPORT:
            declaration.import_approval = self.approval
        self.declarations[plan.status] = declaration
        self.add(declaration)
        if declaration.departed_at is not None:
            self.drive(plan, declaration)

    def drive(self, plan: Plan, declaration: Declaration) -> None:
        """Put a departed declaration on the road: arrival, receipt, stops and containers."""
        trip = Trip(plan.route, declaration.departed_at, SPEED_KMH / 3.6, plan.stops)
        self.trips[plan.status] = trip
        if plan.status in (S.ARRIVED, S.CLOSED):
            declaration.arrived_at = trip.reaches(END)
        if plan.status == S.CLOSED:
            for i, item in enumerate(declaration.items):
                item.received_net_g = item.declared_net_g - (SHORTAGE_G if i == 0 else 0)
                item.container.net_g = item.received_net_g
        if plan.status == S.IN_TRANSIT:
            for item in declaration.items:
                item.container.status = ContainerStatus.IN_TRANSIT
        if plan.track:
            declaration.authorised_stops = [AuthorisedStop(seq=i, name=n, lat=lat, lon=lon, radius_m=r)
                                            for i, (n, lat, lon, r) in enumerate(geo.M41_AUTHORISED_STOPS)]

    def references(self) -> None:
        """Number approved-and-later declarations per year, in order of decision."""
        serials: dict[int, int] = {}
        referenced = [d for d in self.declarations.values() if d.status in REFERENCED]
        for declaration in sorted(referenced, key=lambda d: d.decided_at):
            year = declaration.decided_at.year
            serials[year] = serials.get(year, 0) + 1
            declaration.reference = make_reference(year, serials[year])

    def track(self) -> None:
        """Store the beacon fixes of tracked trips, every reporting period up to now."""
        for plan in PLANS:
            if not plan.track:
                continue
            declaration, trip = self.declarations[plan.status], self.trips[plan.status]
            beacon = declaration.beacon
            end = min(self.now, declaration.arrived_at or self.now)
            tunnel = geo.distance_to(trip.route, geo.TOO_ASHUU_TUNNEL.name)
            fixes, when = [], trip.departed
            while when <= end:
                driven, standing = trip.odometer(when)
                if abs(driven - tunnel) > TUNNEL_SHADOW_M:
                    fixes.append(self.fix(beacon, declaration, trip, when, driven, standing))
                when += timedelta(seconds=beacon.reporting_period_s)
            self.fixes[plan.status] = fixes
            self.session.add_all(fixes)

    def fix(self, beacon: Beacon, declaration: Declaration, trip: Trip, when: datetime,
            driven: float, standing: bool) -> Position:
        """Return one plausible fix, with a little GPS noise, and its raw message."""
        point, course = geo.point_along(trip.route, driven)
        jitter = self.rng.uniform
        position = Position(
            beacon_id=beacon.id, declaration_id=declaration.id, fix_time=when,
            received_at=when + timedelta(seconds=jitter(1, 20)), protocol=beacon.protocol, flags=[],
            lat=round(point.lat + jitter(-4e-5, 4e-5), 6), lon=round(point.lon + jitter(-4e-5, 4e-5), 6),
            speed_kmh=0.0 if standing else round(max(5.0, SPEED_KMH + jitter(-15, 15)), 1),
            course=None if standing else round(course, 1), accuracy_m=round(jitter(3, 12), 1),
            hdop=round(jitter(0.7, 1.6), 1), satellites=self.rng.randint(7, 13))
        position.raw = raw_message(beacon, position)
        return position

    def custody(self) -> None:
        """Record the custody events of departed declarations, chained in time order."""
        events = []
        for plan in PLANS:
            declaration = self.declarations[plan.status]
            for kind, code, recorder, anchor in plan.events:
                when = self.event_time(self.trips[plan.status], anchor)
                for i, item in enumerate(declaration.items):
                    events.append(self.custody_event(declaration, item, kind, code, recorder,
                                                     when + timedelta(seconds=40 * i)))
        for event in sorted(events, key=lambda e: (e.event_time, e.container_id)):
            append_to_chain(self.session, event)

    @staticmethod
    def event_time(trip: Trip, anchor: str) -> datetime:
        """Return when a checkpoint scanned the load: before departure, at a stop, after arrival."""
        if anchor == START:
            return trip.departed - timedelta(minutes=15)
        return trip.reaches(anchor) + timedelta(minutes=15 if anchor == END else 10)

    def custody_event(self, declaration: Declaration, item: DeclarationItem, kind: CustodyKind,
                      code: str, recorder: str, when: datetime) -> CustodyEvent:
        """Return one custody event with every foreign key set as an integer."""
        site = self.sites[code]
        station = self.stations.get(recorder.removeprefix("station:"))
        officer = None if station else self.users[recorder]
        handing = kind in (CustodyKind.DEPARTURE, CustodyKind.ARRIVAL)
        return CustodyEvent(
            client_event_id=str(uuid.uuid4()), kind=kind, container_id=item.container_id,
            declaration_id=declaration.id, checkpoint_id=site.id,
            from_party_id=declaration.consignor_id if handing else None,
            to_party_id=declaration.consignee_id if kind == CustodyKind.ARRIVAL else None,
            officer_id=officer.id if officer else None, device_token_id=station.id if station else None,
            event_time=when, event_time_zone="+06:00", recorded_at=when + timedelta(seconds=30),
            lat=site.lat, lon=site.lon, seal_intact=True, remarks=CUSTODY_REMARKS[kind],
            measured_net_g=item.received_net_g if kind == CustodyKind.ARRIVAL else None)

    def sales(self) -> None:
        """Enter the sales register in date order; the dental lab's bottles came from one flask."""
        for seller, buyer, mass_g, place, hours, status, remarks in sorted(SALES, key=lambda s: s[4]):
            when, declaration = self.at(hours), self.declarations.get(status)
            append_to_chain(self.session, Transaction(
                kind=TransactionKind.SALE, seller_id=self.dealers[seller].id,
                buyer_id=self.dealers[buyer].id, mass_g=mass_g, place=place,
                transaction_date=when.astimezone(KG_TIME).date(), remarks=remarks,
                declaration_id=declaration.id if declaration else None,
                recorded_by_id=self.users[f"trader.{seller}"].id, recorded_at=when + HOUR))
        self.stock["imported"][1].net_g -= len(self.stock["bottles"]) * BOTTLE_G

    def alerts(self) -> None:
        """Raise a tunnel signal loss (closed), a suspended licence (open), a shortage (closed)."""
        officer = self.users["officer.bishkek"]
        arrived, closed = self.declarations[S.ARRIVED], self.declarations[S.CLOSED]
        fixes = self.fixes[S.ARRIVED]
        before, after = max(zip(fixes, fixes[1:]), key=lambda pair: pair[1].fix_time - pair[0].fix_time)
        opened = before.fix_time + 2 * timedelta(seconds=arrived.beacon.reporting_period_s)
        self.add(Alert(
            declaration_id=arrived.id, kind="signal_lost", severity=AlertSeverity.WARNING,
            status=AlertStatus.CLOSED, opened_at=opened, closed_at=after.fix_time, lat=before.lat,
            lon=before.lon, details={"last_fix_at": before.fix_time.isoformat(), "missed_reports": 2},
            acknowledged_by_id=officer.id, acknowledged_at=opened + timedelta(minutes=3),
            resolved_by_id=officer.id, resolution="No coverage in the Too-Ashuu tunnel; fixes resumed "
            "on the far side, on the route."))
        suspended = self.declarations[S.APPROVED]
        self.add(Alert(
            declaration_id=suspended.id, kind="license_suspended", severity=AlertSeverity.CRITICAL,
            status=AlertStatus.OPEN, opened_at=self.at(-24),
            details={"dealer": suspended.declarant.legal_name, "declaration": suspended.reference}))
        declared, received = closed.declared_net_g, sum(i.received_net_g or 0 for i in closed.items)
        receipt = closed.arrived_at + timedelta(minutes=30)
        self.add(Alert(
            declaration_id=closed.id, kind="receipt_shortage", severity=AlertSeverity.INFO,
            status=AlertStatus.CLOSED, opened_at=receipt, closed_at=closed.closed_at,
            details={"declared_g": declared, "received_g": received, "shortage_g": declared - received},
            acknowledged_by_id=officer.id, acknowledged_at=receipt + HOUR, resolved_by_id=officer.id,
            resolution="Shortage within the 1 permille tolerance: scale difference at the terminal."))


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
