"""consent status reason: why an import approval or export consent was revoked

The licensing authority may revoke a written consent; the reason is kept on the record, as a
licence's is, so the trader's form and the alerts on the declarations drawing on it can say why.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TABLES = ('import_approvals', 'export_consents')


def upgrade() -> None:
    """Apply this revision."""
    for table in TABLES:
        op.add_column(table, sa.Column('status_reason', sa.Text(), nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    """Revert this revision."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('status_reason')
