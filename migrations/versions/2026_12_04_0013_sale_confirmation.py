"""sale confirmation: the buyer confirms or disputes a sale before it counts in the books

Adds ``transactions.needs_confirmation`` (true on sales and corrections entered from now
on; every entry already in the register counts as confirmed) and ``sale_answers``, a
chain of its own holding each buyer's confirmation or dispute: register entries are
hashed and append-only, so an answer is never written into the entry. On PostgreSQL
the append-only triggers of revision 0003 guard the new table too.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column('transactions', sa.Column('needs_confirmation', sa.Boolean(), server_default=sa.false(),
                                            nullable=False))
    op.create_table('sale_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Enum('confirmed', 'disputed', name='answer', native_enum=False,
                                create_constraint=True, length=24), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("answer = 'confirmed' OR length(reason) > 0", name=op.f('ck_sale_answers_dispute_has_reason')),
    sa.CheckConstraint('length(row_hash) = 64', name=op.f('ck_sale_answers_row_hash_sha256')),
    sa.CheckConstraint('prev_hash IS NULL OR length(prev_hash) = 64', name=op.f('ck_sale_answers_prev_hash_sha256')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_sale_answers_answered_by_id_users')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'],
                            name=op.f('fk_sale_answers_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_answers')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_sale_answers_prev_hash')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_sale_answers_row_hash'))
    )
    with op.batch_alter_table('sale_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_answers_transaction_id'), ['transaction_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER sale_answers_append_only BEFORE UPDATE OR DELETE ON sale_answers "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_evidence_change()")
        op.execute("CREATE TRIGGER sale_answers_no_truncate BEFORE TRUNCATE ON sale_answers "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change()")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sale_answers_append_only ON sale_answers")
        op.execute("DROP TRIGGER IF EXISTS sale_answers_no_truncate ON sale_answers")
    with op.batch_alter_table('sale_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sale_answers_transaction_id'))
    op.drop_table('sale_answers')
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_column('needs_confirmation')
