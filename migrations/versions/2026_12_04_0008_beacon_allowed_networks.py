"""beacon allowed networks: the addresses a TCP beacon may connect from

TCP protocols (GT06, Teltonika, NMEA) carry no secret: the device is known by its IMEI.
Each beacon may name the CIDR networks it connects from; an empty list admits any address.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('beacons', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'allowed_networks', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=False, server_default='[]'))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('beacons', schema=None) as batch_op:
        batch_op.drop_column('allowed_networks')
