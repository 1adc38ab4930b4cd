"""beacon gateway: ingestion

The gateway needs no schema of its own: positions are de-duplicated by the existing
unique key (beacon_id, fix_time) with ``INSERT ... ON CONFLICT DO NOTHING``, found by
beacon and time through that key's index, and by declaration through
ix_positions_declaration_fix_time. This revision keeps its place in the chain.

Partitioning positions by time on PostgreSQL (an operator's step, not a migration: the
partitions themselves are not in the models, so ``db check`` lists them). The unique key
contains fix_time, so ON CONFLICT keeps working on the partitioned table; the primary key
becomes (id, fix_time). Tested on PostgreSQL 15::

    BEGIN;
    ALTER TABLE positions RENAME TO positions_unpartitioned;
    ALTER TABLE positions_unpartitioned RENAME CONSTRAINT pk_positions TO pk_positions_old;
    ALTER TABLE positions_unpartitioned RENAME CONSTRAINT uq_positions_beacon_id_fix_time TO uq_positions_old;
    ALTER INDEX ix_positions_declaration_fix_time RENAME TO ix_positions_declaration_fix_time_old;
    CREATE TABLE positions (LIKE positions_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (fix_time);
    ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY (id, fix_time);
    ALTER TABLE positions ADD CONSTRAINT uq_positions_beacon_id_fix_time UNIQUE (beacon_id, fix_time);
    CREATE INDEX ix_positions_declaration_fix_time ON positions (declaration_id, fix_time);
    ALTER TABLE positions ADD CONSTRAINT fk_positions_beacon_id_beacons
        FOREIGN KEY (beacon_id) REFERENCES beacons (id);
    ALTER TABLE positions ADD CONSTRAINT fk_positions_declaration_id_declarations
        FOREIGN KEY (declaration_id) REFERENCES declarations (id);
    CREATE TABLE positions_2026_11 PARTITION OF positions
        FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');      -- one per month, made ahead
    CREATE TABLE positions_default PARTITION OF positions DEFAULT;  -- odd fix times (1024-week shifts)
    INSERT INTO positions SELECT * FROM positions_unpartitioned;
    ALTER SEQUENCE positions_id_seq OWNED BY positions.id;
    DROP TABLE positions_unpartitioned;
    COMMIT;

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from __future__ import annotations

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the gateway uses the positions table as revision 0001 made it."""


def downgrade() -> None:
    """Nothing to revert."""
