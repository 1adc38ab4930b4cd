"""beacon gateway: zones and route evaluation state

Adds the zones used by route evaluation (dead zones where signal loss is expected,
prohibited areas) and the key that identifies a rule-raised alert's episode, so that
re-evaluating a track never raises the same alert twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('dead_zone', 'prohibited', name='kind', native_enum=False,
                              create_constraint=True, length=24), nullable=False),
    sa.Column('polygon', sa.Text(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'],
                            name=op.f('fk_zones_declaration_id_declarations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zones'))
    )
    op.create_index(op.f('ix_zones_declaration_id'), 'zones', ['declaration_id'], unique=False)
    with op.batch_alter_table('alerts') as batch_op:
        batch_op.add_column(sa.Column('alert_key', sa.String(length=160), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_alerts_alert_key'), ['alert_key'])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('alerts') as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_alerts_alert_key'), type_='unique')
        batch_op.drop_column('alert_key')
    op.drop_index(op.f('ix_zones_declaration_id'), table_name='zones')
    op.drop_table('zones')
