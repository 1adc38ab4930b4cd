"""declarations by beacon: an index for the gateway's "which trip was this beacon on" read

Every batch of pings asks, for each of its beacons, which declarations the beacon has
travelled with. Only the in-transit ones had an index (the partial unique one), so with
arrived and closed trips counted the read filtered every declaration against every beacon.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""
from __future__ import annotations

from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index('ix_declarations_beacon_departed', 'declarations', ['beacon_id', 'departed_at'])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_declarations_beacon_departed', table_name='declarations')
