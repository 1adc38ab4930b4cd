"""Evaluate the declarations that got new fixes, then report the alerts that opened."""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import event

from beacon_gateway import evaluation
from beacon_gateway.evaluation import incremental
from beacon_gateway.evaluation.track import Fix
from beacon_gateway.evaluation.watch_rows import forget_watch
from beacon_gateway.config import GatewaySettings
from beacon_gateway.pipeline import Batch
from tracker.models import Alert

log = logging.getLogger(__name__)


class EvaluateDeclarations:
    """Judge the batch's new fixes: quiet ones against their declaration's watch, the rest by every rule."""

    name = "evaluate"
    needs_savepoint = False  # its own savepoints hold all it sends

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to read here: the evaluation reads its own rules."""

    def __call__(self, batch: Batch) -> None:
        """Evaluate every affected declaration in one pass (a few queries for the whole batch).

        ``evaluate_new_fixes`` locks the declarations in id order (PostgreSQL), so two gateway
        processes evaluating one declaration at once take turns and the later one sees
        both's fixes. Should the pass fail as a whole (a database error while syncing
        alerts), each declaration is re-evaluated alone by every rule in its own savepoint,
        so one declaration's trouble cannot cost the others their alerts.
        """
        if not batch.affected:
            return
        opened = _collect_new_alerts(batch)
        try:
            try:
                with batch.session.begin_nested():
                    incremental.evaluate_new_fixes(batch.session, _new_fixes(batch), now=batch.now)
            except Exception:  # noqa: BLE001 - fall back to one declaration at a time
                log.exception("evaluation of %d declarations failed; retrying each alone", len(batch.affected))
                del batch.opened_alerts[:]
                for declaration_id in sorted(batch.affected):
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
            with batch.session.begin_nested():
                forget_watch(batch.session, declaration_id)   # its next fixes get every rule again


def _new_fixes(batch: Batch) -> dict[int, list[Fix]]:
    """Return the fixes the batch stored, per declaration."""
    fixes: dict[int, list[Fix]] = defaultdict(list)
    for ping in batch.pings:
        if ping.stored and ping.declaration_id is not None:
            fixes[ping.declaration_id].append(Fix.of(ping.position))
    return fixes


def _collect_new_alerts(batch: Batch) -> Any:
    def opened(_session: Any, instance: object) -> None:
        if isinstance(instance, Alert):
            batch.opened_alerts.append(instance)

    event.listen(batch.session, "transient_to_pending", opened)
    return opened


class ReportAlerts:
    """Log each alert the batch opened, for the operators watching the gateway's output."""

    name = "alerts"
    needs_savepoint = False  # logs only

    def __init__(self, settings: GatewaySettings) -> None:
        """Nothing to configure: alerts are logged at WARNING."""

    def __call__(self, batch: Batch) -> None:
        """Log one line per opened alert."""
        for alert in batch.opened_alerts:
            if isinstance(alert, Alert):
                log.warning("alert %s opened on declaration %s: %s", alert.kind, alert.declaration_id,
                            alert.details)
