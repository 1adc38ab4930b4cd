"""What changed since a cursor, for the live pages: new fixes, alert steps and custody events.

One home for "what changed". The cursor is three ids: the last position, the last alert step
(:class:`AlertEvent`: opened, acknowledged, explained, closed) and the last custody event a
reader has been told about. :func:`changes_since` answers what the reader may see of the
rows after it, scoped like the pages (:mod:`tracker.domain.access`), and the new cursor.

Writers call :func:`announce` in the transaction that stores such rows (or a notification
written or read: the header's bell follows the same streams): on PostgreSQL it queues a
``NOTIFY`` that is delivered only if the transaction commits, so the portal's live streams wake
at once; on SQLite there is nothing to wake and the streams poll.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, event, func, or_, select, true
from sqlalchemy.orm import Session

from tracker.domain.access import alert_filter, custody_event_filter, declaration_filter
from tracker.domain.last_position import may_be_last
from tracker.models import (
    Alert,
    AlertEvent,
    CustodyEvent,
    Declaration,
    ExpectedCheckpoint,
    Notification,
    Position,
    User,
)

#: The PostgreSQL channel the writers notify and the portal listens on.
CHANNEL = "mercury_changes"
#: Most alert steps and custody events one answer lists (the pages re-read the rest themselves).
MAX_ROWS = 200
_CURSOR = re.compile(r"([0-9]{1,18})-([0-9]{1,18})-([0-9]{1,18})")


@dataclass(frozen=True)
class Cursor:
    """Where a reader stands: the last position, alert step and custody event it has been told about."""

    position: int = 0
    alert_step: int = 0
    custody: int = 0

    def token(self) -> str:
        """Return the cursor as the text of an event id ("12-3-4")."""
        return f"{self.position}-{self.alert_step}-{self.custody}"

    @classmethod
    def parse(cls, raw: str | None) -> Cursor | None:
        """Read a cursor written by :meth:`token`; None for anything else (never raises)."""
        match = _CURSOR.fullmatch(raw or "")
        return cls(*(int(part) for part in match.groups())) if match else None

    def at_most(self, other: Cursor) -> Cursor:
        """Return this cursor, held back to ``other`` where it runs ahead (a cursor from the future)."""
        return Cursor(min(self.position, other.position), min(self.alert_step, other.alert_step),
                      min(self.custody, other.custody))


@dataclass(frozen=True)
class Scope:
    """Which declarations a live page shows: all the reader may see, one of them, or those of some posts."""

    declaration_id: int | None = None
    posts: tuple[int, ...] | None = None

    def declarations(self) -> ColumnElement[bool]:
        """Return the condition on declarations of this scope (the reader's own view is added apart)."""
        if self.declaration_id is not None:
            return Declaration.id == self.declaration_id
        if self.posts is not None:
            passing = select(ExpectedCheckpoint.declaration_id).where(ExpectedCheckpoint.checkpoint_id.in_(self.posts))
            return or_(Declaration.origin_id.in_(self.posts), Declaration.destination_id.in_(self.posts),
                       Declaration.id.in_(passing))
        return true()


@dataclass(frozen=True)
class LastFix:
    """The newest new fix of one declaration."""

    declaration_id: int
    position_id: int
    lat: float
    lon: float
    fix_time: datetime


@dataclass(frozen=True)
class AlertStep:
    """An alert was opened, acknowledged, explained or closed."""

    alert_id: int
    declaration_id: int | None
    action: str
    kind: str
    severity: str
    status: str


@dataclass(frozen=True)
class CustodyChange:
    """A custody event was recorded."""

    event_id: int
    declaration_id: int | None
    checkpoint_id: int
    kind: str


@dataclass(frozen=True)
class Changes:
    """What a reader may see of the rows after a cursor, and the cursor after them."""

    cursor: Cursor
    fixes: tuple[LastFix, ...] = ()
    alerts: tuple[AlertStep, ...] = ()
    custody: tuple[CustodyChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.fixes or self.alerts or self.custody)

    def as_json(self) -> dict[str, Any]:
        """Return the changes as the live stream sends them (ids, places and states; no words)."""
        return {"cursor": self.cursor.token(),
                "declarations": sorted({d for d in self.declaration_ids() if d is not None}),
                "fixes": [{"declaration": f.declaration_id, "position": f.position_id, "lat": f.lat, "lon": f.lon,
                           "fix_time": f.fix_time.isoformat()} for f in self.fixes],
                "alerts": [{"alert": a.alert_id, "declaration": a.declaration_id, "action": a.action,
                            "kind": a.kind, "severity": a.severity, "status": a.status} for a in self.alerts],
                "custody": [{"event": c.event_id, "declaration": c.declaration_id, "checkpoint": c.checkpoint_id,
                             "kind": c.kind} for c in self.custody]}

    def declaration_ids(self) -> list[int | None]:
        """Return the declarations touched, in the order of the changes."""
        return ([f.declaration_id for f in self.fixes] + [a.declaration_id for a in self.alerts]
                + [c.declaration_id for c in self.custody])


def current_cursor(session: Session) -> Cursor:
    """Return the cursor standing after every row stored now (a page hands it to its live stream)."""
    row = session.execute(select(
        select(func.max(Position.id)).scalar_subquery(), select(func.max(AlertEvent.id)).scalar_subquery(),
        select(func.max(CustodyEvent.id)).scalar_subquery())).one()
    return Cursor(*(value or 0 for value in row))


def changes_since(session: Session, user: User, since: Cursor, scope: Scope = Scope()) -> Changes:
    """Return what ``user`` may see in ``scope`` of the rows stored after ``since``, and the new cursor.

    The new cursor stands after every row stored now, seen or not, so rows the reader may not
    see are never read again.
    """
    upto = current_cursor(session)
    visible = select(Declaration.id).where(declaration_filter(user), scope.declarations())
    return Changes(cursor=Cursor(max(upto.position, since.position), max(upto.alert_step, since.alert_step),
                                 max(upto.custody, since.custody)),
                   fixes=_fixes(session, visible, since.position, upto.position),
                   alerts=_alert_steps(session, user, scope, visible, since.alert_step, upto.alert_step),
                   custody=_custody(session, user, scope, visible, since.custody, upto.custody))


def _fixes(session: Session, visible: Select, after: int, upto: int) -> tuple[LastFix, ...]:
    """The newest new fix of each visible declaration (one row per declaration, however many fixes came)."""
    if upto <= after:
        return ()
    newest = (select(func.max(Position.id)).where(Position.id > after, Position.id <= upto, may_be_last(),
                                                   Position.declaration_id.in_(visible))
              .group_by(Position.declaration_id))
    rows = session.execute(select(Position.declaration_id, Position.id, Position.lat, Position.lon,
                                  Position.fix_time).where(Position.id.in_(newest)).order_by(Position.id)).all()
    return tuple(LastFix(*row) for row in rows)


def _alert_steps(session: Session, user: User, scope: Scope, visible: Select, after: int,
                 upto: int) -> tuple[AlertStep, ...]:
    if upto <= after:
        return ()
    query = (select(AlertEvent.alert_id, Alert.declaration_id, AlertEvent.action, Alert.kind, Alert.severity,
                    Alert.status).join(Alert, Alert.id == AlertEvent.alert_id)
             .where(AlertEvent.id > after, AlertEvent.id <= upto, alert_filter(user)))
    if scope != Scope():
        query = query.where(Alert.declaration_id.in_(visible))
    rows = session.execute(query.order_by(AlertEvent.id.desc()).limit(MAX_ROWS)).all()
    return tuple(AlertStep(a, d, action, kind, _value(severity), _value(status))
                 for a, d, action, kind, severity, status in reversed(rows))


def _custody(session: Session, user: User, scope: Scope, visible: Select, after: int,
             upto: int) -> tuple[CustodyChange, ...]:
    if upto <= after:
        return ()
    query = (select(CustodyEvent.id, CustodyEvent.declaration_id, CustodyEvent.checkpoint_id, CustodyEvent.kind)
             .where(CustodyEvent.id > after, CustodyEvent.id <= upto, custody_event_filter(user)))
    if scope.posts is not None:
        query = query.where(or_(CustodyEvent.checkpoint_id.in_(scope.posts), CustodyEvent.declaration_id.in_(visible)))
    elif scope != Scope():
        query = query.where(CustodyEvent.declaration_id.in_(visible))
    rows = session.execute(query.order_by(CustodyEvent.id.desc()).limit(MAX_ROWS)).all()
    return tuple(CustodyChange(e, d, c, _value(kind)) for e, d, c, kind in reversed(rows))


def _value(member: Any) -> str:
    return str(getattr(member, "value", member))


def announce(session: Session) -> None:
    """Tell the live streams that this transaction stores new fixes, alert steps, custody events or notifications.

    On PostgreSQL a ``pg_notify`` in the same transaction: delivered on commit, dropped on
    rollback, merged with the transaction's other identical ones. Nothing on SQLite (the streams poll).
    The gateway's writer calls it once per batch (it inserts positions in bulk); alert steps and
    custody events announce themselves (below), whichever path stores them, and so do notifications
    written or read one by one; a bulk update of notifications calls it.
    """
    _notify(session.connection())


def _notify(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_notify(CHANNEL, "")))


@event.listens_for(AlertEvent, "after_insert")
@event.listens_for(CustodyEvent, "after_insert")
@event.listens_for(Notification, "after_insert")
@event.listens_for(Notification, "after_update")
def _stored(_mapper: Any, connection: Connection, _row: Any) -> None:
    """Announce an alert step, a custody event or a notification (new, or read) in the transaction that stores it."""
    _notify(connection)
