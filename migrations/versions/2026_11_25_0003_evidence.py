"""custody and transaction evidence, idempotency, customs records

Adds the stock book (production and declared use, chained like the other evidence),
the chain heads, the saved replies of idempotent requests, the imported customs
records, the reading device on custody events, and on PostgreSQL the triggers that
refuse UPDATE, DELETE and TRUNCATE on the evidence tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

EVIDENCE_TABLES = ("custody_events", "transactions", "stock_entries")

REFUSE_FUNCTION = """
CREATE FUNCTION refuse_evidence_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only evidence: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _create_tables() -> None:
    op.create_table('chain_heads',
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('tip_hash', sa.String(length=64), nullable=True),
    sa.CheckConstraint('length >= 0', name=op.f('ck_chain_heads_length_not_negative')),
    sa.CheckConstraint('tip_hash IS NULL OR length(tip_hash) = 64', name=op.f('ck_chain_heads_tip_hash_sha256')),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_chain_heads'))
    )
    op.create_table('idempotent_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(request_digest) = 64', name=op.f('ck_idempotent_replies_request_digest_sha256')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_replies')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotent_replies_scope_key'))
    )
    op.create_table('customs_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crossing_date', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=True),
    sa.Column('sscc', sa.String(length=18), nullable=True),
    sa.Column('direction', sa.Enum('import', 'export', name='direction', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('checkpoint_code', sa.String(length=24), nullable=True),
    sa.Column('source_name', sa.String(length=200), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('row_key', sa.String(length=64), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(row_key) = 64', name=op.f('ck_customs_records_row_key_sha256')),
    sa.CheckConstraint('mass_g > 0', name=op.f('ck_customs_records_mass_g_positive')),
    sa.CheckConstraint('reference IS NOT NULL OR sscc IS NOT NULL', name=op.f('ck_customs_records_identifies_goods')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_customs_records_imported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customs_records')),
    sa.UniqueConstraint('row_key', name=op.f('uq_customs_records_row_key'))
    )
    with op.batch_alter_table('customs_records', schema=None) as batch_op:
        batch_op.create_index('ix_customs_records_crossing_date', ['crossing_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_customs_records_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_customs_records_sscc'), ['sscc'], unique=False)

    op.create_table('stock_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('production', 'use', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(row_hash) = 64', name=op.f('ck_stock_entries_row_hash_sha256')),
    sa.CheckConstraint('mass_g > 0', name=op.f('ck_stock_entries_mass_g_positive')),
    sa.CheckConstraint('prev_hash IS NULL OR length(prev_hash) = 64', name=op.f('ck_stock_entries_prev_hash_sha256')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_stock_entries_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_stock_entries_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_entries')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_stock_entries_prev_hash')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_stock_entries_row_hash'))
    )
    with op.batch_alter_table('stock_entries', schema=None) as batch_op:
        batch_op.create_index('ix_stock_entries_dealer_date', ['dealer_id', 'entry_date'], unique=False)


def _create_triggers() -> None:
    op.execute(REFUSE_FUNCTION)
    for table in EVIDENCE_TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_evidence_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change()")


def _seed_chain_heads() -> None:
    """Start each chain head at the rows already chained, so they keep verifying."""
    for table in EVIDENCE_TABLES:
        op.execute(f"INSERT INTO chain_heads (chain, length, tip_hash) SELECT '{table}', count(*), "
                   f"(SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1) FROM {table}")


def upgrade() -> None:
    """Apply this revision."""
    _create_tables()
    # Existing rows get '' (no device named); the default is dropped so models and schema agree.
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=120), nullable=False, server_default=''))
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.alter_column('device', server_default=None)
        # An unregistered SSCC scanned at a checkpoint is kept too (container_id then empty).
        batch_op.add_column(sa.Column('unregistered_sscc', sa.String(length=18), nullable=True))
        batch_op.alter_column('container_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(
            'identifies_container', 'container_id IS NOT NULL OR unregistered_sscc IS NOT NULL')
    _seed_chain_heads()
    if op.get_bind().dialect.name == "postgresql":
        _create_triggers()


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        for table in EVIDENCE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS refuse_evidence_change()")
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_constraint('identifies_container', type_='check')
        batch_op.alter_column('container_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('unregistered_sscc')
        batch_op.drop_column('device')

    with op.batch_alter_table('stock_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_entries_dealer_date')
    op.drop_table('stock_entries')
    with op.batch_alter_table('customs_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customs_records_sscc'))
        batch_op.drop_index(batch_op.f('ix_customs_records_reference'))
        batch_op.drop_index('ix_customs_records_crossing_date')
    op.drop_table('customs_records')
    op.drop_table('idempotent_replies')
    op.drop_table('chain_heads')
