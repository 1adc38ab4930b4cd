"""checkpoint names: a checkpoint's name in each of the portal's languages

A checkpoint's ``name`` is the one typed in English (the source language, the API's); ``names``
holds its name in the other languages, {"ru": "Ошский таможенный пост", "ky": "Ош бажы посту"},
so a Russian or Kyrgyz page names the place in its own language. Empty: the English name serves.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('checkpoints') as batch_op:
        batch_op.add_column(sa.Column(
            'names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=False, server_default='{}'))


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == 'sqlite':
        # In place (SQLite 3.35+): a batch copy would drop the table the declarations refer to.
        op.execute('ALTER TABLE checkpoints DROP COLUMN names')
        return
    op.drop_column('checkpoints', 'names')
