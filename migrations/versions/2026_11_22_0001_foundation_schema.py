"""foundation schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('production_site', 'customs_post', 'border_crossing', 'warehouse', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('neighbour_country', sa.String(length=2), nullable=True),
    sa.CheckConstraint('lat IS NULL OR (lat >= -90 AND lat <= 90)', name=op.f('ck_checkpoints_lat_range')),
    sa.CheckConstraint('length(country) = 2', name=op.f('ck_checkpoints_country_iso2')),
    sa.CheckConstraint('lon IS NULL OR (lon >= -180 AND lon <= 180)', name=op.f('ck_checkpoints_lon_range')),
    sa.CheckConstraint('radius_m > 0', name=op.f('ck_checkpoints_radius_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
    sa.UniqueConstraint('code', name=op.f('uq_checkpoints_code'))
    )
    op.create_table('dealers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('taxpayer_number', sa.String(length=32), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(country) = 2', name=op.f('ck_dealers_country_iso2')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dealers')),
    sa.UniqueConstraint('country', 'taxpayer_number', name=op.f('uq_dealers_country_taxpayer_number'))
    )
    op.create_table('beacons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('protocol', sa.Enum('json', 'osmand', 'nmea', 'teltonika', 'gt06', 'mqtt', name='protocol', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('reporting_period_s', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['dealers.id'], name=op.f('fk_beacons_owner_id_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beacons')),
    sa.UniqueConstraint('device_id', name=op.f('uq_beacons_device_id'))
    )
    op.create_table('containers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sscc', sa.String(length=18), nullable=False),
    sa.Column('container_type', sa.Enum('flask_34_5kg', 'drum', 'bottle', 'other', name='container_type', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('tare_g', sa.BigInteger(), nullable=False),
    sa.Column('capacity_g', sa.BigInteger(), nullable=False),
    sa.Column('net_g', sa.BigInteger(), nullable=False),
    sa.Column('seal_number', sa.String(length=40), nullable=True),
    sa.Column('status', sa.Enum('in_stock', 'in_transit', 'emptied', 'retired', name='status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('custodian_id', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("CASE WHEN length(sscc) = 18 AND replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(sscc, '0', ''), '1', ''), '2', ''), '3', ''), '4', ''), '5', ''), '6', ''), '7', ''), '8', ''), '9', '') = '' THEN (10 - (3 * CAST(substr(sscc, 1, 1) AS INTEGER) + 1 * CAST(substr(sscc, 2, 1) AS INTEGER) + 3 * CAST(substr(sscc, 3, 1) AS INTEGER) + 1 * CAST(substr(sscc, 4, 1) AS INTEGER) + 3 * CAST(substr(sscc, 5, 1) AS INTEGER) + 1 * CAST(substr(sscc, 6, 1) AS INTEGER) + 3 * CAST(substr(sscc, 7, 1) AS INTEGER) + 1 * CAST(substr(sscc, 8, 1) AS INTEGER) + 3 * CAST(substr(sscc, 9, 1) AS INTEGER) + 1 * CAST(substr(sscc, 10, 1) AS INTEGER) + 3 * CAST(substr(sscc, 11, 1) AS INTEGER) + 1 * CAST(substr(sscc, 12, 1) AS INTEGER) + 3 * CAST(substr(sscc, 13, 1) AS INTEGER) + 1 * CAST(substr(sscc, 14, 1) AS INTEGER) + 3 * CAST(substr(sscc, 15, 1) AS INTEGER) + 1 * CAST(substr(sscc, 16, 1) AS INTEGER) + 3 * CAST(substr(sscc, 17, 1) AS INTEGER)) % 10) % 10 = CAST(substr(sscc, 18, 1) AS INTEGER) ELSE 1 = 0 END", name=op.f('ck_containers_sscc_check_digit')),
    sa.CheckConstraint('capacity_g > 0', name=op.f('ck_containers_capacity_g_positive')),
    sa.CheckConstraint('net_g <= capacity_g', name=op.f('ck_containers_net_within_capacity')),
    sa.CheckConstraint('net_g >= 0', name=op.f('ck_containers_net_g_not_negative')),
    sa.CheckConstraint('tare_g > 0', name=op.f('ck_containers_tare_g_positive')),
    sa.ForeignKeyConstraint(['custodian_id'], ['dealers.id'], name=op.f('fk_containers_custodian_id_dealers')),
    sa.ForeignKeyConstraint(['owner_id'], ['dealers.id'], name=op.f('fk_containers_owner_id_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_containers')),
    sa.UniqueConstraint('sscc', name=op.f('uq_containers_sscc'))
    )
    op.create_index(op.f('ix_containers_custodian_id'), 'containers', ['custodian_id'], unique=False)
    op.create_index(op.f('ix_containers_owner_id'), 'containers', ['owner_id'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.Enum('trader', 'customs_officer', 'auditor', 'licensing_admin', name='role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'trader') = (dealer_id IS NOT NULL)", name=op.f('ck_users_trader_has_dealer')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_users_dealer_id_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('login', name=op.f('uq_users_login'))
    )
    op.create_index(op.f('ix_users_dealer_id'), 'users', ['dealer_id'], unique=False)
    op.create_table('device_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('beacon', 'station', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('beacon_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'beacon' AND beacon_id IS NOT NULL AND checkpoint_id IS NULL) OR (kind = 'station' AND checkpoint_id IS NOT NULL AND beacon_id IS NULL)", name=op.f('ck_device_tokens_kind_target')),
    sa.CheckConstraint('length(token_hash) = 64', name=op.f('ck_device_tokens_token_hash_sha256')),
    sa.ForeignKeyConstraint(['beacon_id'], ['beacons.id'], name=op.f('fk_device_tokens_beacon_id_beacons')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_device_tokens_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_device_tokens_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_device_tokens_token_hash'))
    )
    op.create_index(op.f('ix_device_tokens_beacon_id'), 'device_tokens', ['beacon_id'], unique=False)
    op.create_index(op.f('ix_device_tokens_checkpoint_id'), 'device_tokens', ['checkpoint_id'], unique=False)
    op.create_table('import_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('importer_id', sa.Integer(), nullable=False),
    sa.Column('exporter_name', sa.String(length=200), nullable=False),
    sa.Column('exporter_country', sa.String(length=2), nullable=False),
    sa.Column('quantity_g', sa.BigInteger(), nullable=False),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('source_not_primary_mining', sa.Boolean(), nullable=False),
    sa.Column('source_statement', sa.Text(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('active', 'exhausted', 'expired', 'revoked', name='status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(exporter_country) = 2', name=op.f('ck_import_approvals_exporter_country_iso2')),
    sa.CheckConstraint('quantity_g > 0', name=op.f('ck_import_approvals_quantity_g_positive')),
    sa.CheckConstraint('source_not_primary_mining', name=op.f('ck_import_approvals_source_statement_given')),
    sa.ForeignKeyConstraint(['importer_id'], ['dealers.id'], name=op.f('fk_import_approvals_importer_id_dealers')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_import_approvals_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_approvals')),
    sa.UniqueConstraint('number', name=op.f('uq_import_approvals_number'))
    )
    op.create_index(op.f('ix_import_approvals_importer_id'), 'import_approvals', ['importer_id'], unique=False)
    op.create_table('licenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('annual_quota_g', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'revoked', 'expired', name='status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('annual_quota_g > 0', name=op.f('ck_licenses_annual_quota_g_positive')),
    sa.CheckConstraint('valid_to >= valid_from', name=op.f('ck_licenses_valid_period')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_licenses_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_licenses_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses')),
    sa.UniqueConstraint('number', name=op.f('uq_licenses_number'))
    )
    op.create_index(op.f('ix_licenses_dealer_id'), 'licenses', ['dealer_id'], unique=False)
    op.create_table('officer_checkpoints',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_officer_checkpoints_checkpoint_id_checkpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_officer_checkpoints_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'checkpoint_id', name=op.f('pk_officer_checkpoints'))
    )
    op.create_table('declarations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=True),
    sa.Column('kind', sa.Enum('domestic', 'import', 'export', 'transit', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'in_transit', 'arrived', 'closed', 'cancelled', name='status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('declarant_id', sa.Integer(), nullable=False),
    sa.Column('consignor_id', sa.Integer(), nullable=False),
    sa.Column('consignee_id', sa.Integer(), nullable=False),
    sa.Column('origin_id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('import_approval_id', sa.Integer(), nullable=True),
    sa.Column('route', sa.Text(), nullable=True),
    sa.Column('corridor_m', sa.Integer(), nullable=False),
    sa.Column('beacon_id', sa.Integer(), nullable=True),
    sa.Column('vehicle', sa.String(length=80), nullable=False),
    sa.Column('planned_departure', sa.DateTime(timezone=True), nullable=True),
    sa.Column('planned_arrival', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('departed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'cancelled') OR route IS NOT NULL", name=op.f('ck_declarations_submitted_has_route')),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'rejected', 'cancelled') OR reference IS NOT NULL", name=op.f('ck_declarations_approved_has_reference')),
    sa.CheckConstraint('corridor_m > 0 AND corridor_m <= 50000', name=op.f('ck_declarations_corridor_range')),
    sa.CheckConstraint('planned_arrival IS NULL OR planned_departure IS NULL OR planned_arrival > planned_departure', name=op.f('ck_declarations_window_order')),
    sa.ForeignKeyConstraint(['beacon_id'], ['beacons.id'], name=op.f('fk_declarations_beacon_id_beacons')),
    sa.ForeignKeyConstraint(['consignee_id'], ['dealers.id'], name=op.f('fk_declarations_consignee_id_dealers')),
    sa.ForeignKeyConstraint(['consignor_id'], ['dealers.id'], name=op.f('fk_declarations_consignor_id_dealers')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_declarations_created_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_declarations_decided_by_id_users')),
    sa.ForeignKeyConstraint(['declarant_id'], ['dealers.id'], name=op.f('fk_declarations_declarant_id_dealers')),
    sa.ForeignKeyConstraint(['destination_id'], ['checkpoints.id'], name=op.f('fk_declarations_destination_id_checkpoints')),
    sa.ForeignKeyConstraint(['import_approval_id'], ['import_approvals.id'], name=op.f('fk_declarations_import_approval_id_import_approvals')),
    sa.ForeignKeyConstraint(['origin_id'], ['checkpoints.id'], name=op.f('fk_declarations_origin_id_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declarations')),
    sa.UniqueConstraint('reference', name=op.f('uq_declarations_reference'))
    )
    op.create_index(op.f('ix_declarations_consignee_id'), 'declarations', ['consignee_id'], unique=False)
    op.create_index(op.f('ix_declarations_consignor_id'), 'declarations', ['consignor_id'], unique=False)
    op.create_index(op.f('ix_declarations_declarant_id'), 'declarations', ['declarant_id'], unique=False)
    op.create_index('ix_declarations_status_departure', 'declarations', ['status', 'planned_departure'], unique=False)
    op.create_index('uq_declarations_beacon_busy', 'declarations', ['beacon_id'], unique=True, sqlite_where=sa.text("status IN ('approved', 'in_transit')"), postgresql_where=sa.text("status IN ('approved', 'in_transit')"))
    op.create_table('license_activities',
    sa.Column('license_id', sa.Integer(), nullable=False),
    sa.Column('activity', sa.Enum('production', 'import', 'export', 'domestic_trade', 'transit', 'storage', 'use', name='activity', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_license_activities_license_id_licenses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('license_id', 'activity', name=op.f('pk_license_activities'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.Enum('info', 'warning', 'critical', name='severity', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'explained', 'closed', name='status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_alerts_closed_has_time')),
    sa.CheckConstraint('closed_at IS NULL OR closed_at >= opened_at', name=op.f('ck_alerts_closed_after_opened')),
    sa.CheckConstraint('lat IS NULL OR (lat >= -90 AND lat <= 90)', name=op.f('ck_alerts_lat_range')),
    sa.CheckConstraint('lon IS NULL OR (lon >= -180 AND lon <= 180)', name=op.f('ck_alerts_lon_range')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_alerts_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_alerts_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index(op.f('ix_alerts_declaration_id'), 'alerts', ['declaration_id'], unique=False)
    op.create_index('ix_alerts_status_opened_at', 'alerts', ['status', 'opened_at'], unique=False)
    op.create_table('authorised_stops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Integer(), nullable=False),
    sa.CheckConstraint('lat IS NULL OR (lat >= -90 AND lat <= 90)', name=op.f('ck_authorised_stops_lat_range')),
    sa.CheckConstraint('lon IS NULL OR (lon >= -180 AND lon <= 180)', name=op.f('ck_authorised_stops_lon_range')),
    sa.CheckConstraint('radius_m > 0', name=op.f('ck_authorised_stops_radius_positive')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_authorised_stops_declaration_id_declarations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorised_stops'))
    )
    op.create_index(op.f('ix_authorised_stops_declaration_id'), 'authorised_stops', ['declaration_id'], unique=False)
    op.create_table('custody_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_event_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('departure', 'arrival', 'inspection', 'handover', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('container_id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('from_party_id', sa.Integer(), nullable=True),
    sa.Column('to_party_id', sa.Integer(), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('device_token_id', sa.Integer(), nullable=True),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_time_zone', sa.String(length=6), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('seal_intact', sa.Boolean(), nullable=False),
    sa.Column('measured_net_g', sa.BigInteger(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('photo_digest', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('lat IS NULL OR (lat >= -90 AND lat <= 90)', name=op.f('ck_custody_events_lat_range')),
    sa.CheckConstraint('length(row_hash) = 64', name=op.f('ck_custody_events_row_hash_sha256')),
    sa.CheckConstraint('lon IS NULL OR (lon >= -180 AND lon <= 180)', name=op.f('ck_custody_events_lon_range')),
    sa.CheckConstraint('measured_net_g IS NULL OR measured_net_g > 0', name=op.f('ck_custody_events_measured_net_g_positive')),
    sa.CheckConstraint('officer_id IS NOT NULL OR device_token_id IS NOT NULL', name=op.f('ck_custody_events_has_recorder')),
    sa.CheckConstraint('photo_digest IS NULL OR length(photo_digest) = 64', name=op.f('ck_custody_events_photo_digest_sha256')),
    sa.CheckConstraint('prev_hash IS NULL OR length(prev_hash) = 64', name=op.f('ck_custody_events_prev_hash_sha256')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_custody_events_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_custody_events_container_id_containers')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_custody_events_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['device_token_id'], ['device_tokens.id'], name=op.f('fk_custody_events_device_token_id_device_tokens')),
    sa.ForeignKeyConstraint(['from_party_id'], ['dealers.id'], name=op.f('fk_custody_events_from_party_id_dealers')),
    sa.ForeignKeyConstraint(['officer_id'], ['users.id'], name=op.f('fk_custody_events_officer_id_users')),
    sa.ForeignKeyConstraint(['to_party_id'], ['dealers.id'], name=op.f('fk_custody_events_to_party_id_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_events')),
    sa.UniqueConstraint('client_event_id', name=op.f('uq_custody_events_client_event_id')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_custody_events_prev_hash')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_custody_events_row_hash'))
    )
    op.create_index(op.f('ix_custody_events_checkpoint_id'), 'custody_events', ['checkpoint_id'], unique=False)
    op.create_index('ix_custody_events_container_event_time', 'custody_events', ['container_id', 'event_time'], unique=False)
    op.create_index(op.f('ix_custody_events_declaration_id'), 'custody_events', ['declaration_id'], unique=False)
    op.create_table('declaration_items',
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('container_id', sa.Integer(), nullable=False),
    sa.Column('declared_net_g', sa.BigInteger(), nullable=False),
    sa.Column('received_net_g', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('declared_net_g > 0', name=op.f('ck_declaration_items_declared_net_g_positive')),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_declaration_items_container_id_containers')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_declaration_items_declaration_id_declarations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('declaration_id', 'container_id', name=op.f('pk_declaration_items'))
    )
    op.create_index(op.f('ix_declaration_items_container_id'), 'declaration_items', ['container_id'], unique=False)
    op.create_table('expected_checkpoints',
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('seq >= 0', name=op.f('ck_expected_checkpoints_seq_not_negative')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_expected_checkpoints_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_expected_checkpoints_declaration_id_declarations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('declaration_id', 'seq', name=op.f('pk_expected_checkpoints')),
    sa.UniqueConstraint('declaration_id', 'checkpoint_id', name=op.f('uq_expected_checkpoints_declaration_id_checkpoint_id'))
    )
    op.create_index(op.f('ix_expected_checkpoints_checkpoint_id'), 'expected_checkpoints', ['checkpoint_id'], unique=False)
    op.create_table('positions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('beacon_id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('fix_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('course', sa.Float(), nullable=True),
    sa.Column('altitude_m', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('hdop', sa.Float(), nullable=True),
    sa.Column('satellites', sa.Integer(), nullable=True),
    sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('protocol', sa.Enum('json', 'osmand', 'nmea', 'teltonika', 'gt06', 'mqtt', name='protocol', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint('course IS NULL OR (course >= 0 AND course < 360)', name=op.f('ck_positions_course_range')),
    sa.CheckConstraint('lat IS NULL OR (lat >= -90 AND lat <= 90)', name=op.f('ck_positions_lat_range')),
    sa.CheckConstraint('lon IS NULL OR (lon >= -180 AND lon <= 180)', name=op.f('ck_positions_lon_range')),
    sa.CheckConstraint('satellites IS NULL OR satellites >= 0', name=op.f('ck_positions_satellites_not_negative')),
    sa.CheckConstraint('speed_kmh IS NULL OR speed_kmh >= 0', name=op.f('ck_positions_speed_not_negative')),
    sa.ForeignKeyConstraint(['beacon_id'], ['beacons.id'], name=op.f('fk_positions_beacon_id_beacons')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_positions_declaration_id_declarations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_positions')),
    sa.UniqueConstraint('beacon_id', 'fix_time', name=op.f('uq_positions_beacon_id_fix_time'))
    )
    op.create_index('ix_positions_declaration_fix_time', 'positions', ['declaration_id', 'fix_time'], unique=False)
    op.create_table('transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('sale', 'reversal', 'correction', name='kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('transaction_date', sa.Date(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("(kind = 'sale') = (corrects_id IS NULL)", name=op.f('ck_transactions_correction_refers')),
    sa.CheckConstraint('length(row_hash) = 64', name=op.f('ck_custody_events_row_hash_sha256')),
    sa.CheckConstraint('mass_g > 0', name=op.f('ck_transactions_mass_g_positive')),
    sa.CheckConstraint('prev_hash IS NULL OR length(prev_hash) = 64', name=op.f('ck_custody_events_prev_hash_sha256')),
    sa.CheckConstraint('seller_id <> buyer_id', name=op.f('ck_transactions_distinct_parties')),
    sa.ForeignKeyConstraint(['buyer_id'], ['dealers.id'], name=op.f('fk_transactions_buyer_id_dealers')),
    sa.ForeignKeyConstraint(['corrects_id'], ['transactions.id'], name=op.f('fk_transactions_corrects_id_transactions')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_transactions_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_transactions_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['seller_id'], ['dealers.id'], name=op.f('fk_transactions_seller_id_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_transactions_prev_hash')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_transactions_row_hash'))
    )
    op.create_index('ix_transactions_buyer_date', 'transactions', ['buyer_id', 'transaction_date'], unique=False)
    op.create_index(op.f('ix_transactions_declaration_id'), 'transactions', ['declaration_id'], unique=False)
    op.create_index('ix_transactions_seller_date', 'transactions', ['seller_id', 'transaction_date'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_transactions_seller_date', table_name='transactions')
    op.drop_index(op.f('ix_transactions_declaration_id'), table_name='transactions')
    op.drop_index('ix_transactions_buyer_date', table_name='transactions')
    op.drop_table('transactions')
    op.drop_index('ix_positions_declaration_fix_time', table_name='positions')
    op.drop_table('positions')
    op.drop_index(op.f('ix_expected_checkpoints_checkpoint_id'), table_name='expected_checkpoints')
    op.drop_table('expected_checkpoints')
    op.drop_index(op.f('ix_declaration_items_container_id'), table_name='declaration_items')
    op.drop_table('declaration_items')
    op.drop_index(op.f('ix_custody_events_declaration_id'), table_name='custody_events')
    op.drop_index('ix_custody_events_container_event_time', table_name='custody_events')
    op.drop_index(op.f('ix_custody_events_checkpoint_id'), table_name='custody_events')
    op.drop_table('custody_events')
    op.drop_index(op.f('ix_authorised_stops_declaration_id'), table_name='authorised_stops')
    op.drop_table('authorised_stops')
    op.drop_index('ix_alerts_status_opened_at', table_name='alerts')
    op.drop_index(op.f('ix_alerts_declaration_id'), table_name='alerts')
    op.drop_table('alerts')
    op.drop_table('license_activities')
    op.drop_index('uq_declarations_beacon_busy', table_name='declarations', sqlite_where=sa.text("status IN ('approved', 'in_transit')"), postgresql_where=sa.text("status IN ('approved', 'in_transit')"))
    op.drop_index('ix_declarations_status_departure', table_name='declarations')
    op.drop_index(op.f('ix_declarations_declarant_id'), table_name='declarations')
    op.drop_index(op.f('ix_declarations_consignor_id'), table_name='declarations')
    op.drop_index(op.f('ix_declarations_consignee_id'), table_name='declarations')
    op.drop_table('declarations')
    op.drop_table('officer_checkpoints')
    op.drop_index(op.f('ix_licenses_dealer_id'), table_name='licenses')
    op.drop_table('licenses')
    op.drop_index(op.f('ix_import_approvals_importer_id'), table_name='import_approvals')
    op.drop_table('import_approvals')
    op.drop_index(op.f('ix_device_tokens_checkpoint_id'), table_name='device_tokens')
    op.drop_index(op.f('ix_device_tokens_beacon_id'), table_name='device_tokens')
    op.drop_table('device_tokens')
    op.drop_index(op.f('ix_users_dealer_id'), table_name='users')
    op.drop_table('users')
    op.drop_index(op.f('ix_containers_owner_id'), table_name='containers')
    op.drop_index(op.f('ix_containers_custodian_id'), table_name='containers')
    op.drop_table('containers')
    op.drop_table('beacons')
    op.drop_table('dealers')
    op.drop_table('checkpoints')
