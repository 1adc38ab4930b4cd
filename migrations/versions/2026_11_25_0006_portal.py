"""portal: each user's language and time zone

The portal shows times in the user's time zone (the configured default, Asia/Bishkek,
when none is chosen) and its text in the user's language (the browser's preference
when none is chosen).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('language')
