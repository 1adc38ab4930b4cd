"""Evaluate the declarations that got new fixes, then report the alerts that opened."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, select

from beacon_gateway import evaluation
from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch
from tracker.models import Alert, Declaration

log = logging.getLogger(__name__)


class EvaluateDeclarations:
    """Re-evaluate each affected declaration once per batch, from its earliest new fix."""

    name = "evaluate"

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to read here: the evaluation reads its own rules."""

    def __call__(self, batch: Batch) -> None:
        """Lock the affected declarations (PostgreSQL), then re-evaluate each in its own savepoint."""
        if not batch.affected:
            return
        ids = sorted(batch.affected)
        # Two gateway processes evaluating one declaration at once could each miss the
        # other's fixes; the row lock (taken in id order: no deadlock) serialises them, and
        # the later one then sees both. SQLite has one writer anyway and ignores FOR UPDATE.
        batch.session.execute(select(Declaration.id).where(Declaration.id.in_(ids))
                              .order_by(Declaration.id).with_for_update())
        opened = _collect_new_alerts(batch)
        try:
            for declaration_id in ids:
                self._evaluate(batch, declaration_id)
        finally:
            event.remove(batch.session, "transient_to_pending", opened)

    @staticmethod
    def _evaluate(batch: Batch, declaration_id: int) -> None:
        try:
            with batch.session.begin_nested():
                evaluation.reevaluate(batch.session, declaration_id,
                                      since=batch.affected[declaration_id], now=batch.now)
        except Exception:  # noqa: BLE001 - one declaration's failure must not stop the others
            log.exception("evaluation of declaration %s failed", declaration_id)


def _collect_new_alerts(batch: Batch) -> Any:
    def opened(_session: Any, instance: object) -> None:
        if isinstance(instance, Alert):
            batch.opened_alerts.append(instance)

    event.listen(batch.session, "transient_to_pending", opened)
    return opened


class ReportAlerts:
    """Log each alert the batch opened, for the operators watching the gateway's output."""

    name = "alerts"

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: alerts are logged at WARNING."""

    def __call__(self, batch: Batch) -> None:
        """Log one line per opened alert."""
        for alert in batch.opened_alerts:
            if isinstance(alert, Alert):
                log.warning("alert %s opened on declaration %s: %s", alert.kind, alert.declaration_id,
                            alert.details)
