"""The messages a device sent that did not become positions, as the licensing authority reads them.

The gateway keeps them (``beacon_gateway.evidence``) in ``device_messages``; this module
selects one device's, newest first, by what they were (``kind``) and by words of their reason.
"""
from __future__ import annotations

from sqlalchemy import Select, select

from tracker.models import DeviceMessage
from tracker.models.device_messages import MESSAGE_KINDS

#: The longest text searched for in the reasons (a reason has at most 500 characters).
MAX_REASON_SEARCH = 100


def kept_messages(device_id: str, kind: str = "", reason: str = "") -> Select[tuple[DeviceMessage]]:
    """Select the messages kept from ``device_id``, newest first; only of ``kind`` when it is one of
    ``MESSAGE_KINDS``, only those whose reason contains ``reason`` (any case) when it is given."""
    query = select(DeviceMessage).where(DeviceMessage.device_id == device_id)
    if kind in MESSAGE_KINDS:
        query = query.where(DeviceMessage.kind == kind)
    words = reason.strip()[:MAX_REASON_SEARCH]
    if words:
        query = query.where(DeviceMessage.reason.ilike(f"%{_literal(words)}%", escape="\\"))
    return query.order_by(DeviceMessage.received_at.desc(), DeviceMessage.id.desc())


def _literal(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
