"""audit indexes: declarations by time of departure

The flow reports (issue 7) select the declarations that departed in a period; without
this index a period filter reads the whole declarations table (EXPLAIN in bench/audit.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index('ix_declarations_departed_at', 'declarations', ['departed_at'])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_declarations_departed_at', table_name='declarations')
