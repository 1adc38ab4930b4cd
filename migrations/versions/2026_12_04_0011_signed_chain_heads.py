"""signed chain heads and evidence seals

Adds ``chain_signatures`` (every chain head the application signed with its Ed25519
key) and ``evidence_seals`` (a fourth chain: digests of positions per declaration and
hour, declaration items once submitted, alert history and customs records). On
PostgreSQL the append-only triggers of revision 0003 now also guard these two tables,
alert history and customs records.

Existing chains have no signed head: after upgrading, check them with
``flask --app tracker verify-chain`` and sign them once with
``flask --app tracker evidence sign-heads``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

APPEND_ONLY = ("chain_signatures", "evidence_seals", "alert_events", "customs_records")


def _create_tables() -> None:
    op.create_table('chain_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('tip_hash', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.CheckConstraint('length >= 0', name=op.f('ck_chain_signatures_length_not_negative')),
    sa.CheckConstraint('tip_hash IS NULL OR length(tip_hash) = 64', name=op.f('ck_chain_signatures_tip_hash_sha256')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_signatures')),
    sa.UniqueConstraint('chain', 'length', name=op.f('uq_chain_signatures_chain_length'))
    )
    op.create_table('evidence_seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('row_keys', sa.Text(), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(digest) = 64', name=op.f('ck_evidence_seals_digest_sha256')),
    sa.CheckConstraint('length(row_hash) = 64', name=op.f('ck_evidence_seals_row_hash_sha256')),
    sa.CheckConstraint('prev_hash IS NULL OR length(prev_hash) = 64', name=op.f('ck_evidence_seals_prev_hash_sha256')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_seals')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_evidence_seals_prev_hash')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_evidence_seals_row_hash'))
    )
    with op.batch_alter_table('evidence_seals', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_seals_kind_subject', ['kind', 'subject'], unique=False)


def upgrade() -> None:
    """Apply this revision."""
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_evidence_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change()")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    with op.batch_alter_table('evidence_seals', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_seals_kind_subject')
    op.drop_table('evidence_seals')
    op.drop_table('chain_signatures')
