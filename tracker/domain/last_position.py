"""A declaration's last position: its latest fix that may stand for "where it is now" (one home).

A fix whose time is ahead of the receiving clock (flag ``future_fix``, set by the gateway)
would sort after every real fix for as long as the clock has not caught up, hiding the
real last position and making a silent beacon look alive. It stays stored as evidence,
but the maps, the Now page and the gateway's silence check all ask here and pass it by.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, not_, select
from sqlalchemy.orm import aliased

from tracker.models import Position

#: The gateway's ``beacon_gateway.position.FLAG_FUTURE`` (the tracker never imports the gateway;
#: a test keeps the two equal).
FUTURE_FIX = "future_fix"


def may_be_last(position: Any = Position) -> ColumnElement[bool]:
    """Return the SQL condition on a positions row (or alias) that it may be a last position."""
    return not_(cast(position.flags, String).like(f'%"{FUTURE_FIX}"%'))


def last_fix_time(declaration_id: Any) -> Any:
    """Return a scalar subquery: the time of the declaration's last position (None without one).

    One step back along ``ix_positions_declaration_fix_time`` (future fixes are passed over).
    """
    fix = aliased(Position)
    return select(func.max(fix.fix_time)).where(fix.declaration_id == declaration_id, may_be_last(fix)) \
        .scalar_subquery()
