"""Alert handling: traders explain, officers and admins acknowledge and close; the history is kept."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tracker.domain import alerts
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.models import AlertStatus, DeclarationStatus

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def shortage(db: Session, make_user, make_declaration):
    """A trader and a receipt_shortage alert on their dealer's closed declaration."""
    trader = make_user("trader")
    declaration = make_declaration(declarant=trader.dealer, status=DeclarationStatus.CLOSED)
    alert = alerts.open_alert(db, kind="receipt_shortage", severity="warning", declaration=declaration,
                              details={"declared_g": 34_500, "received_g": 33_700, "difference_g": -800})
    return trader, alert


def test_a_shortage_is_explained_acknowledged_and_closed_with_full_history(
        db: Session, shortage, make_user) -> None:
    trader, alert = shortage
    officer = make_user("customs_officer")
    alerts.explain(db, trader, alert.id, "800 g lost when a flask valve was replaced; act No. 12 attached")
    assert alert.status == AlertStatus.EXPLAINED
    alerts.acknowledge(db, officer, alert.id, "checking act No. 12")
    alerts.close(db, officer, alert.id, "loss documented and accepted")
    assert alert.status == AlertStatus.CLOSED and alert.resolved_by == officer and alert.closed_at is not None
    assert [(e.action, e.actor_name) for e in alert.history] == [
        ("opened", "system"), ("explained", trader.login), ("acknowledged", officer.login),
        ("closed", officer.login)]
    assert alert.history[1].note.startswith("800 g lost")


def test_a_trader_cannot_acknowledge_or_close(db: Session, shortage) -> None:
    trader, alert = shortage
    with pytest.raises(Forbidden):
        alerts.acknowledge(db, trader, alert.id)
    with pytest.raises(Forbidden):
        alerts.close(db, trader, alert.id, "fine")
    assert alert.status == AlertStatus.OPEN


def test_officers_and_auditors_do_not_explain(db: Session, shortage, make_user) -> None:
    _, alert = shortage
    for role in ("customs_officer", "auditor", "licensing_admin"):
        with pytest.raises(Forbidden):
            alerts.explain(db, make_user(role), alert.id, "not mine to explain")


def test_another_dealers_alert_does_not_exist_for_a_trader(db: Session, shortage, make_user) -> None:
    _, alert = shortage
    with pytest.raises(NotFound):
        alerts.explain(db, make_user("trader"), alert.id, "sneaky")


def test_an_explanation_must_say_something_and_closing_needs_a_resolution(
        db: Session, shortage, make_user) -> None:
    trader, alert = shortage
    with pytest.raises(ValidationFailed):
        alerts.explain(db, trader, alert.id, "   ")
    with pytest.raises(ValidationFailed):
        alerts.close(db, make_user("licensing_admin"), alert.id, "")
    assert [e.action for e in alert.history] == ["opened"]


def test_a_closed_alert_takes_no_more_steps(db: Session, shortage, make_user) -> None:
    trader, alert = shortage
    alerts.close(db, make_user("licensing_admin"), alert.id, "resolved")
    with pytest.raises(Conflict, match="is closed"):
        alerts.explain(db, trader, alert.id, "late explanation")
