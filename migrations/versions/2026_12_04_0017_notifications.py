"""notifications: who follows what, the bell, the delivery outbox and webhook endpoints

An alert opening writes one fan-out row in its own transaction; the deliverer
(``flask notifications deliver``) turns it into notifications (the portal's bell) and one
outbox row per notification and channel (e-mail, webhook), which it sends with retries.
The outbox's idempotency key is unique, so nothing is queued twice.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

SUBJECTS = ('alert_kind', 'declaration', 'dealer', 'checkpoint')
CHANNELS = ('email', 'webhook')
STATES = ('pending', 'sending', 'sent', 'failed')


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _user_fk(table: str, column: str = 'user_id') -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ['users.id'], name=op.f(f'fk_{table}_{column}_users'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'notification_settings',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('follow_defaults', sa.Boolean(), nullable=False),
        sa.Column('by_email', sa.Boolean(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.CheckConstraint('NOT by_email OR email IS NOT NULL', name=op.f('ck_notification_settings_email_needs_address')),
        _user_fk('notification_settings'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_settings')),
    )
    op.create_table(
        'notification_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('subject', _enum(SUBJECTS, 'subject'), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('length(value) > 0', name=op.f('ck_notification_subscriptions_value_not_empty')),
        _user_fk('notification_subscriptions'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_subscriptions')),
        sa.UniqueConstraint('user_id', 'subject', 'value', name='uq_notification_subscriptions_follow'),
    )
    op.create_index(op.f('ix_notification_subscriptions_user_id'), 'notification_subscriptions', ['user_id'])
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("url LIKE 'http://%' OR url LIKE 'https://%'", name=op.f('ck_webhook_endpoints_url_http')),
        sa.CheckConstraint('length(secret) >= 32', name=op.f('ck_webhook_endpoints_secret_long_enough')),
        _user_fk('webhook_endpoints', 'owner_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    op.create_index(op.f('ix_webhook_endpoints_owner_id'), 'webhook_endpoints', ['owner_id'])
    op.create_table(
        'notification_fanout',
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notification_fanout_alert_id_alerts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_notification_fanout')),
    )
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('read_at IS NULL OR read_at >= created_at', name=op.f('ck_notifications_read_after_created')),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notifications_alert_id_alerts'),
                                ondelete='CASCADE'),
        _user_fk('notifications'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
        sa.UniqueConstraint('user_id', 'alert_id', name='uq_notifications_user_alert'),
    )
    op.create_index(op.f('ix_notifications_alert_id'), 'notifications', ['alert_id'])
    op.create_index('ix_notifications_user_id_read_at', 'notifications', ['user_id', 'read_at'])
    op.create_table(
        'notification_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=False),
        sa.Column('channel', _enum(CHANNELS, 'channel'), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=True),
        sa.Column('state', _enum(STATES, 'state'), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=80), nullable=False),
        sa.CheckConstraint("(channel = 'webhook') = (webhook_id IS NOT NULL)",
                           name=op.f('ck_notification_outbox_webhook_has_endpoint')),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_notification_outbox_attempts_not_negative')),
        sa.CheckConstraint("(state = 'sent') = (sent_at IS NOT NULL)", name=op.f('ck_notification_outbox_sent_has_time')),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                                name=op.f('fk_notification_outbox_notification_id_notifications'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhook_endpoints.id'],
                                name=op.f('fk_notification_outbox_webhook_id_webhook_endpoints'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_notification_outbox_idempotency_key')),
    )
    op.create_index(op.f('ix_notification_outbox_notification_id'), 'notification_outbox', ['notification_id'])
    op.create_index(op.f('ix_notification_outbox_webhook_id'), 'notification_outbox', ['webhook_id'])
    op.create_index('ix_notification_outbox_state_next_attempt_at', 'notification_outbox',
                    ['state', 'next_attempt_at'])


def downgrade() -> None:
    """Revert this revision."""
    for table in ('notification_outbox', 'notifications', 'notification_fanout', 'webhook_endpoints',
                  'notification_subscriptions', 'notification_settings'):
        op.drop_table(table)
