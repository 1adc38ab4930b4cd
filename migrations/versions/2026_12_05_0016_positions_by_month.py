"""positions by month: on PostgreSQL, positions partitioned by RANGE on fix_time

PostgreSQL: ``positions`` becomes a partitioned table with one partition per month (schema
``position_months``, tables ``positions_YYYY_MM``) from the month the first fix was received
to three months ahead, and a DEFAULT partition for every other fix time (a beacon's clock in
2000 or 2080 is stored, flagged, never refused). Rows are copied with their ids; the id
sequence, CHECK and NOT NULL constraints, foreign keys, indexes, triggers and the grants of
other roles (the application role's UPDATE on ``flags``) are carried over. A unique key of a
partitioned table must hold the partition key: the primary key becomes (id, fix_time) — ids
still come from one sequence and nothing references positions.id — and the gateway's
duplicate key (beacon_id, fix_time) already holds it. Both dialects get ``position_archives``,
the record of months moved out to files by ``flask --app tracker positions archive``.

Downgrade restores the plain table (refused while an archived month is not restored).
On a large table the copy takes a while: run it in a maintenance window (docs: README).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from tracker.db_partitions import AHEAD, DEFAULT_PARTITION, SCHEMA, Month

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

#: Indexes of positions (named by their constraint or index): renamed out of the way during the rebuild.
INDEXES = ('pk_positions', 'uq_positions_beacon_id_fix_time', 'ix_positions_declaration_fix_time')
FOREIGN_KEYS = (
    ('fk_positions_beacon_id_beacons', 'beacon_id', 'beacons'),
    ('fk_positions_declaration_id_declarations', 'declaration_id', 'declarations'),
)


def _grants_of(table: str) -> list[str]:
    """Return GRANT statements repeating what other roles hold on ``table`` (read before it is renamed)."""
    bind = op.get_bind()
    table_grants = bind.execute(sa.text(
        "SELECT a.privilege_type, r.rolname FROM pg_class c, aclexplode(c.relacl) a "
        "JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner"),
        {"t": table}).all()
    column_grants = bind.execute(sa.text(
        "SELECT a.privilege_type, r.rolname, t.attname FROM pg_attribute t, aclexplode(t.attacl) a "
        "JOIN pg_roles r ON r.oid = a.grantee WHERE t.attrelid = CAST(:t AS regclass) AND t.attacl IS NOT NULL"),
        {"t": table}).all()
    return ([f'GRANT {p} ON positions TO "{role}"' for p, role in table_grants]
            + [f'GRANT {p} ({column}) ON positions TO "{role}"' for p, role, column in column_grants])


def _triggers_of(table: str) -> list[str]:
    """Return the CREATE TRIGGER statements of ``table``'s own triggers (read before it is renamed)."""
    return list(op.get_bind().scalars(sa.text(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"),
        {"t": table}))


def _move_aside(old: str) -> None:
    op.execute(f"ALTER TABLE positions RENAME TO {old}")
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")


def _add_keys(primary_key: str) -> None:
    op.execute(f"ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY ({primary_key})")
    op.execute("ALTER TABLE positions ADD CONSTRAINT uq_positions_beacon_id_fix_time UNIQUE (beacon_id, fix_time)")
    op.execute("CREATE INDEX ix_positions_declaration_fix_time ON positions (declaration_id, fix_time)")
    for name, column, target in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE positions ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {target} (id)")


def _take_over(old: str, statements: list[str]) -> None:
    """Copy the rows, hand the id sequence to the new table, repeat grants and triggers, drop ``old``."""
    op.execute(f"INSERT INTO positions SELECT * FROM {old}")
    op.execute("ALTER SEQUENCE positions_id_seq OWNED BY positions.id")
    for statement in statements:
        op.execute(statement)
    op.execute(f"DROP TABLE {old} CASCADE")


def _first_month() -> Month:
    """Return the month the first fix was received (the current month on an empty table)."""
    first = op.get_bind().scalar(sa.text("SELECT min(received_at) FROM positions_plain"))
    return Month.of(first.astimezone(timezone.utc) if first else datetime.now(timezone.utc))


def _partition() -> None:
    statements = _grants_of("positions") + _triggers_of("positions")
    _move_aside("positions_plain")
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")  # left empty by a DROP SCHEMA public CASCADE
    op.execute("CREATE TABLE positions (LIKE positions_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
               "INCLUDING STORAGE) PARTITION BY RANGE (fix_time)")
    _add_keys("id, fix_time")
    month, last = _first_month(), Month.of(datetime.now(timezone.utc)).plus(AHEAD)
    while month <= last:
        op.execute(f"CREATE TABLE {month.qualified} PARTITION OF positions "
                   f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')")
        month = month.plus(1)
    op.execute(f"CREATE TABLE {SCHEMA}.{DEFAULT_PARTITION} PARTITION OF positions DEFAULT")
    _take_over("positions_plain", statements)


def _unpartition() -> None:
    statements = _grants_of("positions") + _triggers_of("positions")
    _move_aside("positions_by_month")
    op.execute("CREATE TABLE positions (LIKE positions_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
               "INCLUDING STORAGE)")
    _add_keys("id")
    _take_over("positions_by_month", statements)
    op.execute(f"DROP SCHEMA {SCHEMA}")  # RESTRICT: a table left detached there is never dropped unseen


def _create_archives() -> None:
    op.create_table('position_archives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('restored_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_position_archives_sha256_hex')),
    sa.CheckConstraint('restored_at IS NULL OR restored_at >= archived_at',
                       name=op.f('ck_position_archives_restored_after_archived')),
    sa.CheckConstraint('row_count >= 0', name=op.f('ck_position_archives_row_count_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_position_archives'))
    )
    op.create_index('ix_position_archives_month', 'position_archives', ['month'], unique=False)


def upgrade() -> None:
    """Apply this revision."""
    _create_archives()
    if op.get_bind().dialect.name == "postgresql":
        _partition()


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT count(*) FROM position_archives WHERE restored_at IS NULL")):
        raise RuntimeError("archived months of positions are not in the database: restore them first "
                           "(flask --app tracker positions restore FILE)")
    if bind.dialect.name == "postgresql":
        _unpartition()
    op.drop_index('ix_position_archives_month', table_name='position_archives')
    op.drop_table('position_archives')
