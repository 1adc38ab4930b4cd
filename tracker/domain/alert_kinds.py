"""Every kind of alert the system opens: its name, severity and wording, in one place.

The gateway's route rules, the custody check, licensing, receipts, the reports and the
portal's labels all name alerts through :class:`AlertKind`. An alert row stores the
kind's value (a plain string), so old rows of a kind no longer raised still read.
"""
from __future__ import annotations

from enum import StrEnum

from tracker.domain.text import Text, text
from tracker.models import AlertSeverity

_S = AlertSeverity


class AlertKind(StrEnum):
    """An alert's kind; ``severity`` and ``wording`` tell how urgent it is and what it says."""

    # The beacon's track, judged by the gateway.
    OFF_ROUTE = "off_route"
    UNSCHEDULED_STOP = "unscheduled_stop"
    SIGNAL_LOST = "signal_lost"
    SPOOFING_SUSPECTED = "spoofing_suspected"
    PROHIBITED_ZONE = "prohibited_zone"
    ARRIVED = "arrived"
    LATE = "late"
    # The receipt at the destination.
    RECEIPT_SHORTAGE = "receipt_shortage"
    RECEIPT_EXCESS = "receipt_excess"
    SEAL_BROKEN = "seal_broken"
    # Licences and approvals that stop holding while a declaration is open.
    LICENCE_SUSPENDED = "licence_suspended"
    LICENCE_REVOKED = "licence_revoked"
    LICENCE_EXPIRED = "licence_expired"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_EXHAUSTED = "approval_exhausted"
    APPROVAL_REVOKED = "approval_revoked"
    # Custody recorded at a checkpoint.
    CUSTODY_MASS_DISCREPANCY = "custody_mass_discrepancy"
    CUSTODY_OUT_OF_ORDER = "custody_out_of_order"
    CUSTODY_SEAL_BROKEN = "custody_seal_broken"
    CUSTODY_UNEXPECTED_CHECKPOINT = "custody_unexpected_checkpoint"
    CUSTODY_UNREGISTERED_CONTAINER = "custody_unregistered_container"
    CUSTODY_WITHOUT_DECLARATION = "custody_without_declaration"
    CUSTODY_LICENCE_INVALID = "custody_licence_invalid"
    CUSTODY_OUTSIDE_WINDOW = "custody_outside_window"
    CUSTODY_PARTIAL_DEPARTURE = "custody_partial_departure"
    BEACON_NOT_WITH_CARGO = "beacon_not_with_cargo"
    NO_BEACON_POSITION_AT_CUSTODY = "no_beacon_position_at_custody"

    @property
    def severity(self) -> AlertSeverity:
        """Return how urgent an alert of this kind is."""
        return _SEVERITY[self]

    @property
    def wording(self) -> Text:
        """Return the kind's name for people (English; translatable as a domain message)."""
        return _WORDING[self]


_SEVERITY: dict[AlertKind, AlertSeverity] = {
    AlertKind.OFF_ROUTE: _S.WARNING,
    AlertKind.UNSCHEDULED_STOP: _S.WARNING,
    AlertKind.SIGNAL_LOST: _S.WARNING,
    AlertKind.SPOOFING_SUSPECTED: _S.CRITICAL,
    AlertKind.PROHIBITED_ZONE: _S.CRITICAL,
    AlertKind.ARRIVED: _S.INFO,
    AlertKind.LATE: _S.WARNING,
    AlertKind.RECEIPT_SHORTAGE: _S.WARNING,
    AlertKind.RECEIPT_EXCESS: _S.WARNING,
    AlertKind.SEAL_BROKEN: _S.CRITICAL,
    AlertKind.LICENCE_SUSPENDED: _S.CRITICAL,
    AlertKind.LICENCE_REVOKED: _S.CRITICAL,
    AlertKind.LICENCE_EXPIRED: _S.CRITICAL,
    AlertKind.APPROVAL_EXPIRED: _S.CRITICAL,
    AlertKind.APPROVAL_EXHAUSTED: _S.WARNING,
    AlertKind.APPROVAL_REVOKED: _S.CRITICAL,
    AlertKind.CUSTODY_MASS_DISCREPANCY: _S.WARNING,
    AlertKind.CUSTODY_OUT_OF_ORDER: _S.WARNING,
    AlertKind.CUSTODY_SEAL_BROKEN: _S.CRITICAL,
    AlertKind.CUSTODY_UNEXPECTED_CHECKPOINT: _S.WARNING,
    AlertKind.CUSTODY_UNREGISTERED_CONTAINER: _S.CRITICAL,
    AlertKind.CUSTODY_WITHOUT_DECLARATION: _S.CRITICAL,
    AlertKind.CUSTODY_LICENCE_INVALID: _S.CRITICAL,
    AlertKind.CUSTODY_OUTSIDE_WINDOW: _S.WARNING,
    AlertKind.CUSTODY_PARTIAL_DEPARTURE: _S.WARNING,
    AlertKind.BEACON_NOT_WITH_CARGO: _S.CRITICAL,
    AlertKind.NO_BEACON_POSITION_AT_CUSTODY: _S.WARNING,
}

_WORDING: dict[AlertKind, Text] = {
    AlertKind.OFF_ROUTE: text("off route"),
    AlertKind.UNSCHEDULED_STOP: text("unscheduled stop"),
    AlertKind.SIGNAL_LOST: text("signal lost"),
    AlertKind.SPOOFING_SUSPECTED: text("position spoofing suspected"),
    AlertKind.PROHIBITED_ZONE: text("in a prohibited zone"),
    AlertKind.ARRIVED: text("arrived"),
    AlertKind.LATE: text("late"),
    AlertKind.RECEIPT_SHORTAGE: text("shortage on receipt"),
    AlertKind.RECEIPT_EXCESS: text("excess on receipt"),
    AlertKind.SEAL_BROKEN: text("seal broken"),
    AlertKind.LICENCE_SUSPENDED: text("licence suspended"),
    AlertKind.LICENCE_REVOKED: text("licence revoked"),
    AlertKind.LICENCE_EXPIRED: text("licence expired"),
    AlertKind.APPROVAL_EXPIRED: text("approval or consent expired"),
    AlertKind.APPROVAL_EXHAUSTED: text("approval or consent used up"),
    AlertKind.APPROVAL_REVOKED: text("approval or consent revoked"),
    AlertKind.CUSTODY_MASS_DISCREPANCY: text("mass differs at checkpoint"),
    AlertKind.CUSTODY_OUT_OF_ORDER: text("checkpoints out of order"),
    AlertKind.CUSTODY_SEAL_BROKEN: text("seal broken at checkpoint"),
    AlertKind.CUSTODY_UNEXPECTED_CHECKPOINT: text("unexpected checkpoint"),
    AlertKind.CUSTODY_UNREGISTERED_CONTAINER: text("unregistered container"),
    AlertKind.CUSTODY_WITHOUT_DECLARATION: text("container moved without declaration"),
    AlertKind.CUSTODY_LICENCE_INVALID: text("custody recorded while a licence or approval does not hold"),
    AlertKind.CUSTODY_OUTSIDE_WINDOW: text("departure outside the planned window"),
    AlertKind.CUSTODY_PARTIAL_DEPARTURE: text("departed with containers missing"),
    AlertKind.BEACON_NOT_WITH_CARGO: text("beacon not with the cargo"),
    AlertKind.NO_BEACON_POSITION_AT_CUSTODY: text("no beacon position at custody"),
}


def kind_of(value: str) -> AlertKind | None:
    """Return the kind named by a stored alert's ``kind``, or None for one no longer raised."""
    try:
        return AlertKind(value)
    except ValueError:
        return None
