"""One shipment from filing to receipt, every role in the browser, with a screenshot of each step.

A trader files a declaration with a GPX route; the licensing authority approves it; an officer
on a phone scans the flask's label and records the departure; the truck's beacon streams its
trip through the real gateway, leaving the corridor once; the officer records the arrival; the
consignee reports a shortage and explains it; the declaration page then shows the corridor, the
track, the alert and both custody events. It runs twice: the office (declarant, licensing
authority, auditor) in English and the field (officer, consignee) in Russian, then the other way.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, DemoPortal, Screenshots, Tabs, Visitor, serving_demo
from tests.browser.trip_data import (
    WAREHOUSE,
    add_warehouse,
    drive_with_deviation,
    label_photo,
    short_haul_gpx,
    wait_for_alert,
)
from tracker.domain import geography as geo
from tracker.domain.place_names import place_name
from tracker.models import Alert, AlertStatus, Beacon, Declaration, DeclarationStatus, utcnow

pytestmark = pytest.mark.browser

DECLARANT, CONSIGNEE, OFFICER = "trader.osh", "trader.bishkek", "officer.osh"
CONSIGNEE_NAME = "Bishkek Chemical Supply LLC"
BISHKEK = ZoneInfo("Asia/Bishkek")
#: What is typed, per language: masses with the language's decimal sign, the consignee's words.
DECLARED_KG = {"en": "34.5", "ru": "34,5"}
RECEIVED_KG = {"en": "33.650", "ru": "33,650"}    # 850 g short
REMARKS = {
    "en": "One flask received 850 g short; seal intact, weighed on certified scales.",
    "ru": "Фляга принята с недостачей 850 г; пломба цела, вес проверен на поверенных весах.",
}
EXPLANATION = {
    "en": "850 g short: the flask's valve was damaged while unloading at the warehouse; the spill was "
          "collected into the emergency container and a report was drawn up.",
    "ru": "Недостача 850 г: при перегрузке на складе повреждён клапан фляги, часть ртути собрана "
          "в аварийную ёмкость; акт составлен.",
}


@pytest.fixture
def shipment_portal(tmp_path: Path) -> Iterator[DemoPortal]:
    """A portal of this test's own: the demo plus the consignee's warehouse near Osh."""
    with serving_demo(tmp_path) as served:
        with served.sessions() as session:
            add_warehouse(session, OFFICER)
        yield served


def local(moment: datetime) -> str:
    """Return ``moment`` as a datetime-local field wants it, in the traders' time zone."""
    return moment.astimezone(BISHKEK).strftime("%Y-%m-%dT%H:%M")


def option_value(tab: Visitor, select_id: str, text: str) -> str:
    """Return the value of the option of ``select_id`` whose text contains ``text``."""
    value = tab.page.locator(f"#{select_id} option", has_text=text).first.get_attribute("value")
    assert value, f"no option {text!r} in #{select_id}"
    return value


def file_declaration(tab: Visitor, shots: Screenshots, portal: DemoPortal) -> int:
    """File the declaration through the four steps as the declarant; return its id."""
    page = tab.page
    tab.go("/declarations/new")
    page.locator("#kind").select_option("domestic")
    page.locator("#consignee_id").select_option(option_value(tab, "consignee_id", CONSIGNEE_NAME))
    page.locator("#origin").select_option("OSH")
    page.locator("#destination").select_option(WAREHOUSE.code)
    shots(page, "trader-parties")
    page.locator("#save-step").click()
    page.wait_for_url(re.compile(r"/declarations/\d+/edit\?step=containers"))
    declaration_id = int(re.search(r"/declarations/(\d+)/", page.url).group(1))  # type: ignore[union-attr]

    first = page.locator("input[name='sscc']").first
    sscc = first.get_attribute("value")
    first.check()
    page.locator(f"#mass-{sscc}").fill(DECLARED_KG[tab.language])
    shots(page, "trader-containers")
    page.locator("#save-step").click()
    page.wait_for_url(re.compile(r"step=route"))

    page.locator("#gpx").set_input_files(files=[{"name": "osh-warehouse.gpx", "mimeType": "application/gpx+xml",
                                                 "buffer": short_haul_gpx()}])
    page.locator("#corridor_m").fill("500")
    now = utcnow()
    page.locator("#planned_departure").fill(local(now + timedelta(hours=1)))
    page.locator("#planned_arrival").fill(local(now + timedelta(hours=3)))
    with portal.sessions() as session:
        device = session.scalars(select(Beacon.device_id)
                                 .where(Beacon.description.like("truck 05 KG 930 CCE%"))).one()
    page.locator("#beacon_id").select_option(option_value(tab, "beacon_id", device))
    page.locator("#vehicle").fill("05 KG 930 CCE")
    shots(page, "trader-route")
    page.locator("#save-step").click()
    page.wait_for_url(re.compile(r"step=review"))
    assert page.locator("#ready").is_visible(), page.locator("main").inner_text()
    shots(page, "trader-review")
    page.locator("#submit-declaration").click()
    page.wait_for_load_state()
    shots(page, "trader-submitted")
    return declaration_id


def status_of(portal: DemoPortal, declaration_id: int) -> DeclarationStatus:
    with portal.sessions() as session:
        return session.get(Declaration, declaration_id).status  # type: ignore[union-attr]


def record_custody(tab: Visitor, shots: Screenshots, photo: bytes, checkpoint: str, kind: str) -> None:
    """Photograph the label on the scan page, then confirm ``kind`` at ``checkpoint`` with the big button."""
    page = tab.page
    tab.go("/checkpoint/scan")
    shots(page, f"officer-scan-{kind}")
    page.locator("#photo").set_input_files(files=[{"name": "label.png", "mimeType": "image/png", "buffer": photo}])
    page.wait_for_url(re.compile(r"/checkpoint/containers/\d{18}"))
    if page.locator("select#checkpoint").count():
        page.locator("select#checkpoint").select_option(checkpoint)
    page.locator(f"#kind-{kind}").check()
    page.locator("#seal_intact").check()
    assert tab.overflow() == [], f"the confirm page scrolls sideways: {tab.overflow()}"
    shots(page, f"officer-confirm-{kind}")
    page.locator("#confirm").click()
    page.wait_for_url(re.compile(r"/checkpoint$"))
    assert tab.overflow() == []
    shots(page, f"officer-{kind}-recorded")


def approve(tab: Visitor, shots: Screenshots, declaration_id: int) -> None:
    """Approve the submitted declaration with the decision form on its page."""
    tab.go(f"/declarations/{declaration_id}")
    shots(tab.page, "admin-decision")
    tab.page.locator("#approve").click()
    tab.page.wait_for_url(re.compile(rf"/declarations/{declaration_id}$"))
    shots(tab.page, "admin-approved")


def report_receipt(tab: Visitor, shots: Screenshots, declaration_id: int, sscc: str) -> None:
    """Weigh the flask in short, then explain the shortage on the alert the receipt opened."""
    page = tab.page
    tab.go(f"/declarations/{declaration_id}/receipt")
    page.locator(f"#received-{sscc}").fill(RECEIVED_KG[tab.language])
    page.locator(f"#seal-{sscc}-intact").check()
    page.locator("#remarks").fill(REMARKS[tab.language])
    shots(page, "consignee-receipt")
    page.locator("#review-receipt").click()
    page.wait_for_load_state()
    shots(page, "consignee-receipt-review")
    page.locator("#file-receipt").click()
    page.wait_for_load_state()
    shots(page, "consignee-receipt-filed")
    page.locator("p.flash a[href*='/alerts/']").click()
    page.wait_for_url(re.compile(r"/alerts/\d+$"))
    page.locator("#explanation").fill(EXPLANATION[tab.language])
    page.locator("#explain").click()
    page.wait_for_load_state()
    shots(page, "consignee-shortage-explained")


def check_declaration_page(tab: Visitor, shots: Screenshots, declaration_id: int, off_route: Alert,
                           sscc: str) -> None:
    """The page shows the corridor, the track, the alert and both custody events, on the map and in lists;
    then the same page in the other language."""
    page = tab.page
    tab.go(f"/declarations/{declaration_id}")
    for layer in ("path.layer-corridor", "path.layer-track", ".marker-alert", ".marker-custody"):
        page.locator(layer).first.wait_for(state="attached")
    custody_rows = page.locator("#custody-events tbody tr").all_inner_texts()
    assert len(custody_rows) == 2, custody_rows
    osh = place_name({"name": geo.site("OSH").name, "names": geo.CHECKPOINT_NAMES["OSH"]}, tab.language)
    assert osh in custody_rows[0] and WAREHOUSE.name in custody_rows[1], custody_rows
    assert page.locator(f"#declaration-alerts a[href$='/alerts/{off_route.id}']").count() == 1
    scans = [entry for entry in page.locator("#timeline > li").all_inner_texts() if sscc in entry]
    assert len(scans) == 2, f"the timeline has {len(scans)} scans of {sscc}"
    shots(page, f"declaration-desktop-{tab.language}")
    tab.switch_language("ru" if tab.language == "en" else "en")
    page.locator("path.layer-track").first.wait_for(state="attached")
    shots(page, f"declaration-desktop-{tab.language}")


@pytest.mark.parametrize("office, field", [pytest.param("en", "ru", id="office-en-field-ru"),
                                           pytest.param("ru", "en", id="office-ru-field-en")])
def test_a_shipment_from_filing_to_receipt_in_the_browser(
        visit_portal: Callable[[DemoPortal], Tabs], shipment_portal: DemoPortal, shots: Screenshots,
        office: str, field: str) -> None:
    portal = shipment_portal
    visit = visit_portal(portal)
    shots.know_data_of(portal)

    trader = visit(DECLARANT, size=DESKTOP, language=office)
    declaration_id = file_declaration(trader, shots, portal)
    assert status_of(portal, declaration_id) == DeclarationStatus.SUBMITTED
    trader.watch.assert_clean()

    admin = visit("admin", size=DESKTOP, language=office)
    approve(admin, shots, declaration_id)
    assert status_of(portal, declaration_id) == DeclarationStatus.APPROVED
    admin.watch.assert_clean()

    with portal.sessions() as session:
        declaration = session.get(Declaration, declaration_id)
        assert declaration is not None
        item = declaration.items[0]
        reference, sscc = declaration.reference, item.container.sscc
        photo = label_photo(sscc, item.declared_net_g)

    officer = visit(OFFICER, size=PHONE, language=field)
    record_custody(officer, shots, photo, "OSH", "departure")
    assert status_of(portal, declaration_id) == DeclarationStatus.IN_TRANSIT

    with portal.sessions() as session:
        departed = session.get(Declaration, declaration_id).departed_at  # type: ignore[union-attr]
    drive_with_deviation(portal.database_url, portal.path / "gateway", reference, departed)
    off_route = wait_for_alert(portal.sessions, declaration_id, "off_route")

    record_custody(officer, shots, photo, WAREHOUSE.code, "arrival")
    assert status_of(portal, declaration_id) == DeclarationStatus.ARRIVED
    officer.watch.assert_clean()

    consignee = visit(CONSIGNEE, size=DESKTOP, language=field)
    report_receipt(consignee, shots, declaration_id, sscc)
    with portal.sessions() as session:
        received = session.get(Declaration, declaration_id).items[0].received_net_g  # type: ignore[union-attr]
        shortage = session.scalars(select(Alert).where(Alert.declaration_id == declaration_id,
                                                       Alert.kind == "receipt_shortage")).one()
        assert (received, shortage.status) == (33_650, AlertStatus.EXPLAINED)
    consignee.watch.assert_clean()

    auditor = visit("auditor", size=DESKTOP, language=office)
    check_declaration_page(auditor, shots, declaration_id, off_route, sscc)
    auditor.watch.assert_clean()
