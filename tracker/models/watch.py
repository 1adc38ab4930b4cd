"""Where the gateway's watch over a declaration stands: its rule state at the last settled fix.

The gateway judges each new fix against this state instead of re-running every rule over
the last half hour of the track (``beacon_gateway.evaluation.watch``). A row exists only
while the declaration's track is quiet (no alert going on, nothing pending); any full
re-evaluation writes it anew or deletes it, so the row is a cache the rules can always
rebuild, never evidence.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, PortableJSON, UTCDateTime, utcnow


class DeclarationWatch(Base):
    """The rule state of one declaration's track at its last settled fix."""

    __tablename__ = "declaration_watch"

    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"),
                                                primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<DeclarationWatch declaration={self.declaration_id}>"
