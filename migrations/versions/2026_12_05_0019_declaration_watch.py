"""declaration watch: the gateway's rule state per declaration at its last settled fix

The gateway judges a new fix against this state instead of re-reading the last half hour of
the track; any full re-evaluation rewrites or deletes the row (it is a cache, not evidence).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'declaration_watch',
        sa.Column('declaration_id', sa.Integer(), sa.ForeignKey('declarations.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('declaration_watch')
