"""checkpoint day index: custody events by checkpoint and time

The officer's checkpoint page reads the events recorded at its posts since midnight; with
only the checkpoint index a busy post's whole history is read and filtered by time
(bench/load.py grows the demo to a year of traffic at such a post).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index('ix_custody_events_checkpoint_event_time', 'custody_events', ['checkpoint_id', 'event_time'])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_custody_events_checkpoint_event_time', table_name='custody_events')
