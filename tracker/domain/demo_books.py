"""The demo's books and evidence, entered through the same rules a user meets.

Production and declared use in the stock book, the buyers' confirmations of the sales
(and one sale its buyer disputes), the export's consent from Kazakhstan,
the closed import's report of receipt (a shortage beyond tolerance, explained by the
trader and closed by customs), a flask found at the Ak-Jol border on no declaration,
and a customs dataset. Together with the base demo they give the mass balance and the
reconciliation one true example of every kind of mismatch.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from tracker.domain.alerts import acknowledge_alert, close_alert, explain_alert
from tracker.domain.approvals import ExportConsentInput, record_export_consent
from tracker.domain.custody import record_custody_event
from tracker.domain.customs_import import import_customs_csv
from tracker.domain.demo_data import (
    BOTTLE_USE_G,
    COMBINE_PREFIX,
    DAY,
    FLASK_G,
    KG_TIME,
    PRODUCED_FLASKS,
)
from tracker.domain.gs1 import make_sscc
from tracker.domain.receipts import ReceiptInput, ReceivedContainer, report_receipt
from tracker.domain.register import SaleInput, StockEntryInput, record_sale, record_stock_entry
from tracker.domain.sale_answers import confirm_sale, dispute_sale
from tracker.models import Alert, DeclarationStatus, Transaction

if TYPE_CHECKING:
    from tracker.domain.demo import _Loader

#: An SSCC printed by the combine's prefix but never registered: seen only by customs.
UNREGISTERED_SERIAL = 9_876


def record_books(loader: _Loader) -> None:
    """Enter the books and the evidence trail, in the order things happened."""
    _production(loader)
    _export_consent(loader)
    _receipt(loader)
    _sales_confirmed(loader)
    _disputed_sale(loader)
    _bottling(loader)
    _use(loader)
    _border_find(loader)
    _customs_dataset(loader)


def _production(loader: _Loader) -> None:
    """The combine's campaign output enters the books before anything is sold."""
    when = loader.at(-190 * DAY).astimezone(KG_TIME).date()
    record_stock_entry(loader.session, loader.users["trader.khaidarkan"], StockEntryInput(
        kind="production", mass_g=PRODUCED_FLASKS * FLASK_G, entry_date=when, place="Khaidarkan",
        remarks=f"Spring campaign: {PRODUCED_FLASKS} flasks of primary mercury, filled and sealed."),
        today=when)


def _sales_confirmed(loader: _Loader) -> None:
    """Each buyer confirms the sales entered by its sellers: only then do they count in the books."""
    dealer_keys = {dealer.id: key for key, dealer in loader.dealers.items()}
    for sale in loader.session.scalars(select(Transaction).where(
            Transaction.buyer_id.in_(dealer_keys), Transaction.needs_confirmation).order_by(Transaction.id)):
        confirm_sale(loader.session, loader.users[f"trader.{dealer_keys[sale.buyer_id]}"], sale)


def _disputed_sale(loader: _Loader) -> None:
    """Osh enters a flask sold to Bishkek, which says it never bought it: the auditors see the dispute."""
    sale = record_sale(loader.session, loader.users["trader.osh"], SaleInput(
        seller_id=loader.dealers["osh"].id, buyer_id=loader.dealers["bishkek"].id, mass_g=FLASK_G,
        place="Osh", transaction_date=loader.at(-6 * DAY).astimezone(KG_TIME).date(), remarks="1 flask"))
    dispute_sale(loader.session, loader.users["trader.bishkek"], sale,
                 "We bought no flask from Osh Kimyo Trade in November and none has reached us.")


def _export_consent(loader: _Loader) -> None:
    """Kazakhstan's written consent (Minamata Art. 3(6)) behind the export on the road."""
    export = loader.declarations[DeclarationStatus.IN_TRANSIT]
    consent = record_export_consent(loader.session, loader.users["admin"], ExportConsentInput(
        number=f"KZ-HG-CONS-{loader.at(-10 * DAY).year}-017", exporter_id=export.consignor_id,
        importer_name=export.consignee.legal_name, importer_country=export.consignee.country,
        quantity_g=500_000, intended_use="Laboratory reagents and calibration standards.",
        valid_until=loader.at(200 * DAY).astimezone(KG_TIME).date()))
    export.export_consent = consent


def _receipt(loader: _Loader) -> None:
    """The import's report of receipt: one flask light, explained, acknowledged, closed."""
    declaration = loader.declarations[DeclarationStatus.CLOSED]
    received_at = declaration.arrived_at + timedelta(minutes=30)
    filed_at = received_at + timedelta(hours=2)
    trader, officer = loader.users["trader.bishkek"], loader.users["officer.bishkek"]
    report_receipt(loader.session, trader, declaration.id, ReceiptInput(
        containers=[ReceivedContainer(item.container.sscc, item.received_net_g or item.declared_net_g, True)
                    for item in declaration.items],
        remarks="Seals intact. Flask 1 weighed light on the terminal's calibrated scale.",
        received_at=received_at), now=filed_at)
    shortage = loader.session.scalars(select(Alert).where(
        Alert.declaration_id == declaration.id, Alert.kind == "receipt_shortage")).one()
    explain_alert(loader.session, shortage, trader, (
        "Flask 1 showed a wet valve thread at Torugart; the exporter's fill certificate gives "
        "34.5 kg. We suspect loss at filling; claim lodged with the exporter."),
        at=filed_at + timedelta(hours=20))
    acknowledge_alert(loader.session, shortage, officer, "Valve photographed and resealed.",
                      at=filed_at + timedelta(hours=22))
    close_alert(loader.session, shortage, officer, (
        "Explanation accepted: no vapour found; exporter's claim reference noted on the file."),
        at=filed_at + timedelta(days=1))


def _bottling(loader: _Loader) -> None:
    """The importer filled the dental laboratory's two bottles from one received flask."""
    loader.stock["imported"][1].net_g -= sum(bottle.net_g for bottle in loader.stock["bottles"])


def _use(loader: _Loader) -> None:
    """The dental laboratory declares what it used from its first bottle."""
    bottle = loader.stock["bottles"][0]
    record_stock_entry(loader.session, loader.users["trader.dentalab"], StockEntryInput(
        kind="use", mass_g=BOTTLE_USE_G, entry_date=loader.at(-2 * DAY).astimezone(KG_TIME).date(),
        place="Bishkek", remarks="Amalgam capsules for the clinic, November."))
    bottle.net_g -= BOTTLE_USE_G


def _border_find(loader: _Loader) -> None:
    """Ak-Jol customs finds an Osh flask in a car bound for Kazakhstan, on no declaration."""
    flask = loader.stock["osh"][3]
    record_custody_event(loader.session, loader.users["officer.akjol"], {
        "client_event_id": str(uuid.uuid4()), "sscc": flask.sscc, "checkpoint": "AKJOL",
        "kind": "inspection", "seal_intact": True, "measured_net_g": flask.net_g,
        "event_time": loader.at(-3 * DAY).isoformat(), "device": "officer phone",
        "remarks": "Found in the boot of a passenger car leaving for Kazakhstan; the driver holds "
                   "no declaration. Flask detained at the post; Osh Kimyo Trade notified.",
    }, now=loader.at(-3 * DAY + 0.1))


def _customs_dataset(loader: _Loader) -> None:
    """The customs service's border-crossing records for the period, as a CSV file."""
    imported = loader.declarations[DeclarationStatus.CLOSED]
    unknown = make_sscc(3, COMBINE_PREFIX, UNREGISTERED_SERIAL)
    rows = [
        "date,reference,sscc,direction,mass_g,checkpoint",
        f"{imported.departed_at.astimezone(KG_TIME).date()},{imported.reference},,import,"
        f"{imported.declared_net_g},TORUGART",
        f"{loader.at(-9 * DAY).astimezone(KG_TIME).date()},,{unknown},export,{FLASK_G},DOSTUK",
    ]
    import_customs_csv(loader.session, None, "\n".join(rows) + "\n", "State Customs Service, demo extract")
