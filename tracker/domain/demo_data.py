"""The demo's plans as data: dealers, licences, staff, stock, beacons and declarations.

:mod:`tracker.domain.demo` turns these into rows; every time here is in hours from
the moment the demo is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

from tracker.domain import geography as geo
from tracker.models import (
    Activity,
    BeaconProtocol,
    CustodyKind,
    Role,
)
from tracker.models import (
    DeclarationKind as Kind,
)
from tracker.models import (
    DeclarationStatus as Status,
)

KG_TIME = timezone(timedelta(hours=6))
HOUR, DAY = timedelta(hours=1), 24           # DAY counts hours in the plans below
COMBINE_TAXPAYER = "01207199310028"           # also the marker that the demo is loaded
# Made-up GS1 company prefixes: 470 is Kyrgyzstan, 690 China. Prefix -> seal series.
COMBINE_PREFIX, BOTTLER_PREFIX, EXPORTER_PREFIX = "470000001", "470000017", "690000002"
SEAL_SERIES = {COMBINE_PREFIX: "KHD", BOTTLER_PREFIX: "BCS", EXPORTER_PREFIX: "XJT"}
FLASK_G, FLASK_TARE_G, BOTTLE_G, BOTTLE_TARE_G = 34_500, 2_700, 1_000, 350
SPEED_KMH = 50.0                # a loaded truck on mountain roads
REPORTING_PERIOD_S = 300        # every beacon reports every five minutes
TUNNEL_SHADOW_M = 8_000         # no GSM coverage this close to the Too-Ashuu tunnel
SHORTAGE_G = 850                # the closed import's first flask weighed light on receipt (beyond tolerance)
PRODUCED_FLASKS = 34            # the combine's campaign: every flask with its company prefix
BOTTLE_USE_G = 400              # what the dental laboratory declares it used
REFERENCED = (Status.APPROVED, Status.IN_TRANSIT, Status.ARRIVED, Status.CLOSED)
START, END = "<start>", "<end>"  # custody anchors: before departure, after arrival
CUSTODY_REMARKS = {
    CustodyKind.DEPARTURE: "Loaded and sealed; UN 2809 placards and documents checked.",
    CustodyKind.INSPECTION: "Seals intact, documents in order.",
    CustodyKind.ARRIVAL: "Received; seals intact, flasks weighed.",
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
# domestic dealer: (licensed activities, annual quota in grams, trader's name)
LICENCES = {
    "khaidarkan": ({Activity.PRODUCTION, Activity.DOMESTIC_TRADE, Activity.EXPORT, Activity.STORAGE},
                   60_000_000, "Maksat Zhusupov"),
    "osh": ({Activity.DOMESTIC_TRADE, Activity.STORAGE}, 2_000_000, "Dilnoza Yusupova"),
    "bishkek": ({Activity.IMPORT, Activity.DOMESTIC_TRADE, Activity.STORAGE}, 1_000_000, "Igor Pak"),
    "dentalab": ({Activity.USE, Activity.STORAGE}, 20_000, "Aida Bekova"),
    "jalalabad": ({Activity.DOMESTIC_TRADE, Activity.STORAGE}, 500_000, "Ulan Sydykov"),
}
SUSPENDED_DEALER = "jalalabad"
# login, name, role, posts (checkpoint codes), what the account is for
STAFF: tuple[tuple[str, str, Role, tuple[str, ...], str], ...] = (
    ("admin", "Aibek Sadykov", Role.LICENSING_ADMIN, (),
     "licensing authority: licences, import approvals, users, devices"),
    ("auditor", "Nurgul Abdyldaeva", Role.AUDITOR, (), "Ministry of Finance auditor, reads everything"),
    ("officer.osh", "Bakyt Mamatov", Role.CUSTOMS_OFFICER, ("OSH", "KHD-GATE", "JALALABAD"),
     "customs officer: Osh post, Khaidarkan gate, Jalal-Abad"),
    ("officer.bishkek", "Elmira Asanova", Role.CUSTOMS_OFFICER, ("BISHKEK", "TOKTOGUL"),
     "customs officer: Bishkek terminal, Toktogul"),
    ("officer.akjol", "Talant Kadyrov", Role.CUSTOMS_OFFICER, ("AKJOL",), "customs officer: Ak-Jol border"),
    ("officer.south", "Azamat Toktomushev", Role.CUSTOMS_OFFICER,
     ("TORUGART", "NARYN", "IRKESHTAM", "DOSTUK"), "customs officer: Torugart, Naryn, Irkeshtam, Dostuk"),
)
# stock group: (owner, flask count, SSCC company prefix, days since registration)
STOCK = {
    "khaidarkan": ("khaidarkan", 22, COMBINE_PREFIX, 90), "osh": ("osh", 4, COMBINE_PREFIX, 120),
    "jalalabad": ("jalalabad", 2, COMBINE_PREFIX, 150), "bishkek": ("bishkek", 6, COMBINE_PREFIX, 60),
    "imported": ("bishkek", 4, EXPORTER_PREFIX, 22),
}
# key: (device id, i.e. IMEI, protocol, owner, description)
BEACONS = {
    "truck1": ("356938035643809", BeaconProtocol.OSMAND, "khaidarkan", "truck 09 KG 482 AAH, cab tracker"),
    "truck2": ("352091071128345", BeaconProtocol.JSON, "khaidarkan", "truck 09 KG 517 AAH, cab tracker"),
    "van": ("861234050188765", BeaconProtocol.TELTONIKA, "jalalabad", "van 03 KG 201 BCD"),
    "importer": ("358473112900425", BeaconProtocol.GT06, "bishkek", "container seal tracker"),
    "osh": ("862479046311570", BeaconProtocol.MQTT, "osh", "truck 05 KG 930 CCE"),
}
M41 = geo.KHAIDARKAN_AKJOL


@dataclass(frozen=True)
class Plan:
    """One demo declaration: parties, places, flasks, timing (hours from now) and events."""

    status: Status
    kind: Kind
    parties: tuple[str, str, str]          # declarant, consignor, consignee
    places: tuple[str, str]                # origin and destination checkpoint codes
    route: tuple[geo.Waypoint, ...]        # empty: no route yet (a draft)
    via: tuple[str, ...]                   # expected checkpoints, in order
    flasks: tuple[str, int, int]           # stock group, slice start and stop
    hours: dict[str, float]                # declaration time attribute -> hours from now
    beacon: str | None = None
    decided_by: str = "admin"
    reason: str = ""
    vehicle: str = ""
    stops: tuple[tuple[str, float], ...] = ()                    # waypoint, dwell hours
    events: tuple[tuple[CustodyKind, str, str, str], ...] = ()   # kind, checkpoint, recorder, anchor
    track: bool = False                    # store the beacon's fixes


PLANS = (
    Plan(Status.CLOSED, Kind.IMPORT, ("bishkek", "cn", "bishkek"), ("TORUGART", "BISHKEK"),
         geo.TORUGART_BISHKEK, ("NARYN", "BISHKEK"), ("imported", 0, 4),
         {"created_at": -21 * DAY, "submitted_at": -20 * DAY, "decided_at": -18 * DAY,
          "planned_departure": -15 * DAY - 1, "planned_arrival": -15 * DAY + 12,
          "departed_at": -15 * DAY},
         "importer", "officer.bishkek", vehicle="XJ A-3K217 (CN)", stops=(("Naryn", 0.5),),
         events=((CustodyKind.DEPARTURE, "TORUGART", "officer.south", START),
                 (CustodyKind.INSPECTION, "NARYN", "officer.south", "Naryn"),
                 (CustodyKind.ARRIVAL, "BISHKEK", "officer.bishkek", END))),
    Plan(Status.ARRIVED, Kind.DOMESTIC, ("khaidarkan", "khaidarkan", "bishkek"), ("KHD-GATE", "BISHKEK"),
         geo.section(M41, "Khaidarkan", "Bishkek"), ("OSH", "TOKTOGUL", "BISHKEK"), ("bishkek", 0, 6),
         {"created_at": -7 * DAY, "submitted_at": -6 * DAY, "decided_at": -5 * DAY,
          "planned_departure": -48.5, "planned_arrival": -32, "departed_at": -48},
         "truck2", vehicle="09 KG 517 AAH", stops=(("Osh", 0.75), ("Toktogul", 0.5)), track=True,
         events=((CustodyKind.DEPARTURE, "KHD-GATE", "station:KHD-GATE", START),
                 (CustodyKind.INSPECTION, "OSH", "officer.osh", "Osh"),
                 (CustodyKind.INSPECTION, "TOKTOGUL", "officer.bishkek", "Toktogul"),
                 (CustodyKind.ARRIVAL, "BISHKEK", "officer.bishkek", END))),
    Plan(Status.IN_TRANSIT, Kind.EXPORT, ("khaidarkan", "khaidarkan", "kz"), ("KHD-GATE", "AKJOL"), M41,
         ("OSH", "TOKTOGUL", "BISHKEK", "AKJOL"), ("khaidarkan", 0, 10),
         {"created_at": -4 * DAY, "submitted_at": -3 * DAY, "decided_at": -2 * DAY,
          "planned_departure": -5.75, "planned_arrival": 11, "departed_at": -5.5},
         "truck1", "officer.osh", vehicle="09 KG 482 AAH", stops=(("Osh", 0.75),), track=True,
         events=((CustodyKind.DEPARTURE, "KHD-GATE", "station:KHD-GATE", START),
                 (CustodyKind.INSPECTION, "OSH", "officer.osh", "Osh"))),
    Plan(Status.APPROVED, Kind.DOMESTIC, ("jalalabad", "jalalabad", "osh"), ("JALALABAD", "OSH"),
         geo.section(M41, "Jalal-Abad", "Osh"), ("OSH",), ("jalalabad", 0, 2),
         {"created_at": -4 * DAY, "submitted_at": -3 * DAY, "decided_at": -2 * DAY,
          "planned_departure": -20, "planned_arrival": -17}, "van", vehicle="03 KG 201 BCD"),
    Plan(Status.REJECTED, Kind.EXPORT, ("osh", "osh", "uz"), ("OSH", "DOSTUK"), geo.OSH_DOSTUK,
         ("DOSTUK",), ("osh", 0, 2), {"created_at": -5 * DAY, "submitted_at": -4 * DAY,
         "decided_at": -3 * DAY, "planned_departure": -2 * DAY, "planned_arrival": -2 * DAY + 2},
         "osh", "officer.osh", "The licence does not cover export, and the consignee holds no import "
         "consent of the Republic of Uzbekistan (Minamata Convention, Art. 3).", "05 KG 930 CCE"),
    Plan(Status.SUBMITTED, Kind.DOMESTIC, ("osh", "osh", "bishkek"), ("OSH", "BISHKEK"),
         geo.section(M41, "Osh", "Bishkek"), ("TOKTOGUL", "BISHKEK"), ("osh", 0, 2),
         {"created_at": -30, "submitted_at": -26, "planned_departure": 2 * DAY, "planned_arrival": 62},
         "osh", vehicle="05 KG 930 CCE"),
    Plan(Status.CANCELLED, Kind.DOMESTIC, ("khaidarkan", "khaidarkan", "osh"), ("KHD-GATE", "OSH"),
         geo.section(M41, "Khaidarkan", "Osh"), ("OSH",), ("khaidarkan", 10, 12),
         {"created_at": -10 * DAY, "submitted_at": -9 * DAY, "decided_at": -8 * DAY,
          "planned_departure": -7 * DAY, "planned_arrival": -7 * DAY + 4}, decided_by="trader.khaidarkan",
         reason="Withdrawn by the declarant: the buyer postponed the order."),
    Plan(Status.DRAFT, Kind.DOMESTIC, ("khaidarkan", "khaidarkan", "osh"), ("KHD-GATE", "OSH"), (),
         ("OSH",), ("khaidarkan", 10, 14),
         {"created_at": -2, "planned_departure": 5 * DAY, "planned_arrival": 5 * DAY + 4}),
)
# seller, buyer, grams, place, hours from now, declaration (by status), remarks
SALES = (
    ("khaidarkan", "jalalabad", 2 * FLASK_G, "Khaidarkan", -60 * DAY, None, "2 flasks"),
    ("khaidarkan", "osh", 4 * FLASK_G, "Khaidarkan", -40 * DAY, None, "4 flasks"),
    ("bishkek", "dentalab", 2 * BOTTLE_G, "Bishkek", -7 * DAY, None, "2 bottles of 1 kg, from one flask"),
    # The arrived delivery Khaidarkan -> Bishkek has no sale yet: reconciliation shows it.
)
