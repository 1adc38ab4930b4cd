"""The application's database role: owns nothing, holds only the grants it needs (PostgreSQL).

Migrations run as the owner role (``MIGRATION_DATABASE_URL``); the portal and the gateway
connect as a role that owns no table, so it cannot ``ALTER TABLE ... DISABLE TRIGGER``,
drop or truncate anything. On the evidence it may read and append, never change: the
append-only triggers stay in force, and even without them it holds no UPDATE or DELETE
there. Positions get UPDATE on their flags only (late fixes re-flag a neighbour).
"""
from __future__ import annotations

import re

from sqlalchemy import text as sql
from sqlalchemy.engine import Connection

from tracker.models import Base

#: Tables the application reads and appends to, and never changes.
APPEND_ONLY = ("custody_events", "transactions", "sale_answers", "stock_entries", "chain_signatures",
               "evidence_seals", "alert_events", "customs_records", "account_events", "device_messages")
#: Columns the application may change in an otherwise append-only table.
UPDATABLE_COLUMNS = {"positions": ("flags",)}
#: Tables the application only reads (the owner role writes them: migrations, archiving).
READ_ONLY = ("alembic_version", "position_archives")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """The role cannot be the application's role (bad name, missing, owns tables, superuser)."""


def _checked(role: str) -> str:
    if not ROLE_NAME.match(role):
        raise RoleError(f"{role!r} is not a plain role name (lower-case letters, digits, _)")
    return f'"{role}"'


def grant_statements(role: str) -> list[str]:
    """Return the SQL that gives ``role`` exactly what the application and gateway need."""
    who = _checked(role)
    statements = [f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
                  f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
                  f"REVOKE CREATE ON SCHEMA public FROM {who}",
                  f"GRANT USAGE ON SCHEMA public TO {who}"]
    for table in sorted(Base.metadata.tables):
        if table in READ_ONLY:
            continue
        if table in APPEND_ONLY:
            statements.append(f"GRANT SELECT, INSERT ON {table} TO {who}")
        elif table in UPDATABLE_COLUMNS:
            columns = ", ".join(UPDATABLE_COLUMNS[table])
            statements.append(f"GRANT SELECT, INSERT, UPDATE ({columns}) ON {table} TO {who}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {who}")
    statements += [f"GRANT SELECT ON {table} TO {who}" for table in READ_ONLY]
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    return statements


def role_problems(connection: Connection, role: str) -> list[str]:
    """Return why ``role`` may not be the application's role (empty when it may)."""
    _checked(role)
    found = connection.execute(sql("SELECT rolsuper FROM pg_roles WHERE rolname = :role"),
                               {"role": role}).first()
    if found is None:
        return [f"role {role} does not exist: CREATE ROLE {role} LOGIN PASSWORD '...'"]
    problems = [f"role {role} is a superuser (it can do anything)"] if found.rolsuper else []
    owned = connection.scalar(sql(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = :role AND c.relnamespace = 'public'::regnamespace"), {"role": role})
    if owned:
        problems.append(f"role {role} owns {owned} tables, sequences or indexes: migrate as another role")
    if connection.scalar(sql("SELECT current_user")) == role:
        problems.append(f"role {role} is the role migrations run as: use a separate owner role")
    return problems


def apply_grants(connection: Connection, role: str) -> list[str]:
    """Check ``role`` and run the grant statements (as the owner); return them."""
    problems = role_problems(connection, role)
    if problems:
        raise RoleError("; ".join(problems))
    statements = grant_statements(role)
    for statement in statements:
        connection.execute(sql(statement))
    return statements
