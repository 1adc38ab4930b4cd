"""The pipeline's handlers, in the one order they run (see ``beacon_gateway.pipeline``)."""
from __future__ import annotations

from beacon_gateway.handlers.authenticate import AuthenticateDevice
from beacon_gateway.handlers.custody_track import SettleCustodyTrack
from beacon_gateway.handlers.evaluate import EvaluateDeclarations, ReportAlerts
from beacon_gateway.handlers.flags import FlagSuspicious
from beacon_gateway.handlers.store import Deduplicate, StorePositions
from beacon_gateway.handlers.validate import ValidateFix

#: authenticate → validate → flag → de-duplicate → store → evaluate → custody track → alerts
HANDLERS = (
    AuthenticateDevice,
    ValidateFix,
    FlagSuspicious,
    Deduplicate,
    StorePositions,
    EvaluateDeclarations,
    SettleCustodyTrack,
    ReportAlerts,
)

__all__ = ["HANDLERS", "AuthenticateDevice", "ValidateFix", "FlagSuspicious", "Deduplicate",
           "StorePositions", "EvaluateDeclarations", "SettleCustodyTrack", "ReportAlerts"]
