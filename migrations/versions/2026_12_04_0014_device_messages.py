"""device messages: what devices sent that is not a position, and each beacon's counts

Every login, heartbeat, cell-only report, command answer, unknown packet type or unreadable
stretch of bytes is kept with the reason (raw bytes bounded to 4 KiB) instead of being
dropped; ``device_traffic`` counts messages, positions, unknown, refused and unrecorded
(over the per-device bound) per beacon, for the admin's device page. The messages are
evidence: append-only on PostgreSQL, like the other evidence tables (0003).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

PROTOCOLS = ('json', 'osmand', 'nmea', 'teltonika', 'gt06', 'mqtt')
KINDS = ("login", "heartbeat", "status", "alarm", "time_request", "address_request",
         "command_response", "ping", "unknown", "malformed", "refused")
COUNTERS = ('messages', 'positions', 'unknown', 'refused', 'unrecorded')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'device_messages',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('device_id', sa.String(length=64), nullable=True),
        sa.Column('beacon_id', sa.Integer(), nullable=True),
        sa.Column('protocol', sa.Enum(*PROTOCOLS, name='protocol', native_enum=False, create_constraint=True,
                                      length=24), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.CheckConstraint('length(raw) <= 4096', name=op.f('ck_device_messages_raw_bounded')),
        sa.CheckConstraint('kind IN (' + ', '.join(f"'{kind}'" for kind in KINDS) + ')',
                           name=op.f('ck_device_messages_kind_known')),
        sa.ForeignKeyConstraint(['beacon_id'], ['beacons.id'], name=op.f('fk_device_messages_beacon_id_beacons')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_messages')),
    )
    op.create_index(op.f('ix_device_messages_beacon_id'), 'device_messages', ['beacon_id'], unique=False)
    op.create_index('ix_device_messages_device_id_received_at', 'device_messages', ['device_id', 'received_at'],
                    unique=False)
    op.create_table(
        'device_traffic',
        sa.Column('beacon_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTERS),
        sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
        *(sa.CheckConstraint(f'{name} >= 0', name=op.f(f'ck_device_traffic_{name}_not_negative'))
          for name in COUNTERS),
        sa.ForeignKeyConstraint(['beacon_id'], ['beacons.id'], name=op.f('fk_device_traffic_beacon_id_beacons')),
        sa.PrimaryKeyConstraint('beacon_id', name=op.f('pk_device_traffic')),
    )
    if op.get_bind().dialect.name == 'postgresql':  # evidence: append-only, like 0003's tables
        op.execute("CREATE TRIGGER device_messages_append_only BEFORE UPDATE OR DELETE ON device_messages "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_evidence_change()")
        op.execute("CREATE TRIGGER device_messages_no_truncate BEFORE TRUNCATE ON device_messages "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse_evidence_change()")


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('device_traffic')
    op.drop_table('device_messages')
