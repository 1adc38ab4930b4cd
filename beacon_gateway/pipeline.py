"""The ingestion pipeline: an ordered list of small handlers, declared once (as in Traccar).

A batch holds the positions of many submissions (one HTTP request, one TCP packet, one
MQTT message each) and goes through every handler in one database transaction. A handler
reads its settings once, when the pipeline is built; when one fails it is logged and the
pipeline goes on, with a savepoint so the failure cannot spoil the transaction. Nothing
reaches the database unless the store handler accepted it, so a failing authenticate or
validate handler stores nothing rather than something unchecked. A failure of the database
itself (connection lost, transaction unusable) is not a handler's failure: it ends the
batch, and the writer rolls back and retries it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Protocol, Sequence

from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.orm import Session

from beacon_gateway.config import GatewaySettings
from beacon_gateway.position import Position
from tracker.models import utcnow

log = logging.getLogger(__name__)

# Why a ping was not stored; the servers turn these into HTTP statuses or log lines.
UNAUTHORIZED = "unauthorized"            # bad token, or a device id that is no registered beacon
FORBIDDEN = "forbidden"                  # a valid token for another beacon
INVALID = "invalid"                      # coordinates or values that cannot be stored
BATCH_REJECTED = "batch_rejected"        # another ping of the same submission was bad

#: the database went away or the transaction can no longer be used: no handler can go on
DATABASE_LOST = (OperationalError, InterfaceError, PendingRollbackError)
#: SQLSTATE of a write on a server that has become read-only (the old primary after a failover)
READ_ONLY_SQL_TRANSACTION = "25006"


@dataclass(eq=False)
class Ping:
    """One position on its way through the pipeline, with what the handlers found out."""

    position: Position
    submission: int                      # index of the submission it came in
    index: int                           # its index within that submission
    token: str | None = None             # the bearer token it came with (HTTP JSON)
    beacon_id: int | None = None
    declaration_id: int | None = None
    rejection: str | None = None
    reason: str = ""
    stored: bool = False                 # a new row was inserted
    duplicate: bool = False              # the row was already there (same beacon + fix time)

    def reject(self, code: str, reason: str) -> None:
        """Mark the ping as refused (the first reason wins)."""
        if self.rejection is None:
            self.rejection, self.reason = code, reason

    @property
    def settled(self) -> bool:
        """Return whether the ping has a final outcome: stored, already there, or refused."""
        return self.stored or self.duplicate or self.rejection is not None


@dataclass
class Batch:
    """The pings of one transaction and what the later handlers need to know about it."""

    session: Session
    pings: list[Ping]
    now: datetime = field(default_factory=utcnow)
    #: declaration id -> earliest fix time newly stored for it (what evaluation re-reads)
    affected: dict[int, datetime] = field(default_factory=dict)
    opened_alerts: list[object] = field(default_factory=list)
    #: set by the store handler when it finished: only then are in-batch duplicates safe to ack
    stored: bool = False

    def live(self) -> list[Ping]:
        """Return the pings no handler has refused."""
        return [ping for ping in self.pings if ping.rejection is None]


class Handler(Protocol):
    """One step of the pipeline; built once from the settings, called once per batch."""

    name: str
    #: False for a handler that sends no SQL, or wraps all it sends in savepoints of its own:
    #: the pipeline then spares it the savepoint (two round trips a batch)
    needs_savepoint: bool

    def __call__(self, batch: Batch) -> None:
        """Do this step for every ping of the batch."""


class Pipeline:
    """Runs the handlers in order over a batch; a failing handler is logged and skipped."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        self.handlers = list(handlers)

    def run(self, batch: Batch) -> Batch:
        """Pass the batch through every handler, each inside a savepoint when it needs one."""
        for handler in self.handlers:
            try:
                if getattr(handler, "needs_savepoint", True):
                    with batch.session.begin_nested():
                        handler(batch)
                else:
                    handler(batch)
            except Exception as exc:  # noqa: BLE001 - the pipeline must go on (Traccar's rule)
                if database_lost(exc, batch.session):
                    raise
                log.exception("handler %s failed on a batch of %d pings", handler.name, len(batch.pings))
        return batch


def database_lost(exc: Exception, session: Session) -> bool:
    """Return whether ``exc`` means the database or this transaction is gone, not a handler bug.

    A connection to a server that can no longer write counts as gone too: the writer then
    discards it, and the next one reaches the server that took over.
    """
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return (isinstance(exc, DATABASE_LOST) or bool(getattr(exc, "connection_invalidated", False))
            or sqlstate == READ_ONLY_SQL_TRANSACTION or not session.is_active)


def build_pipeline(settings: GatewaySettings,
                   extra: Iterable[Callable[[GatewaySettings], Handler]] = ()) -> Pipeline:
    """Return the gateway's pipeline: the handlers of ``HANDLERS`` in order, then ``extra``."""
    from beacon_gateway.handlers import HANDLERS  # the handlers import this module

    return Pipeline([make(settings) for make in (*HANDLERS, *extra)])
