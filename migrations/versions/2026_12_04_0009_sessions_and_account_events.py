"""accounts: server-side sessions and the account audit trail

A session is a row: the signed cookie carries a random secret whose SHA-256 is kept
here, so sign-out, a password reset or a deactivation ends every copy of the cookie at
once. The account audit trail keeps the administrator's acts on accounts and every
sign-in attempt (failed ones count towards the per-account limit); on PostgreSQL it is
append-only, refused UPDATE, DELETE and TRUNCATE by the evidence tables' trigger function.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

EVENT_KINDS = ('created', 'role_changed', 'deactivated', 'reactivated', 'password_reset', 'signed_in',
               'sign_in_failed', 'sign_in_limited')


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.CheckConstraint('length(secret_hash) = 64', name=op.f('ck_user_sessions_secret_hash_sha256')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_user_sessions_secret_hash')),
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)
    op.create_table(
        'account_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.Enum(*EVENT_KINDS, name='kind', native_enum=False, create_constraint=True,
                                  length=24), nullable=False),
        sa.Column('login', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_account_events_actor_id_users')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_events_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_events')),
    )
    op.create_index(op.f('ix_account_events_at'), 'account_events', ['at'], unique=False)
    op.create_index(op.f('ix_account_events_actor_id'), 'account_events', ['actor_id'], unique=False)
    op.create_index('ix_account_events_login_at', 'account_events', ['login', 'at'], unique=False)
    op.create_index('ix_account_events_user_id_at', 'account_events', ['user_id', 'at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':  # the audit trail is append-only, like the evidence (0003)
        op.execute("CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_evidence_change()")
        op.execute("CREATE TRIGGER account_events_no_truncate BEFORE TRUNCATE ON account_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change()")


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('account_events')
    op.drop_table('user_sessions')
