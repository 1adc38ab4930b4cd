"""route geometry: the route as uploaded, the simplified route, its tolerance and corridor outline

A route is now stored simplified (at most 10,000 points) with its corridor outline built
once (issue 12: a 50,000-point noisy track took minutes and gigabytes per corridor). Routes
saved before keep their original in ``route_uploaded``; their ``route`` becomes the
simplified one, fitted to the point limit even if that needs a coarser tolerance (the
tolerance used is stored). Downgrading puts the uploaded routes back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

declarations = sa.table(
    'declarations', sa.column('id', sa.Integer), sa.column('route', sa.Text),
    sa.column('corridor_m', sa.Integer), sa.column('route_uploaded', sa.Text),
    sa.column('route_tolerance_m', sa.Float), sa.column('corridor_outline', sa.Text),
)


def upgrade() -> None:
    """Apply this revision."""
    # Plain ADD COLUMN (SQLite has it): the table keeps its constraints and partial indexes as they are.
    op.add_column('declarations', sa.Column('route_uploaded', sa.Text(), nullable=True))
    op.add_column('declarations', sa.Column('route_tolerance_m', sa.Float(), nullable=True))
    op.add_column('declarations', sa.Column('corridor_outline', sa.Text(), nullable=True))
    _simplify_stored_routes()


def _simplify_stored_routes() -> None:
    """Simplify every stored route and build its outline, one declaration at a time."""
    from shapely import wkt

    from tracker.domain.route_geometry import fitted_geometry

    connection = op.get_bind()
    ids = connection.execute(sa.select(declarations.c.id).where(declarations.c.route.is_not(None))
                             .order_by(declarations.c.id)).scalars().all()
    for declaration_id in ids:
        route_text, corridor_m = connection.execute(
            sa.select(declarations.c.route, declarations.c.corridor_m)
            .where(declarations.c.id == declaration_id)).one()
        geometry = fitted_geometry(wkt.loads(route_text), corridor_m)
        connection.execute(declarations.update().where(declarations.c.id == declaration_id).values(
            route_uploaded=route_text, route=geometry.route.wkt, route_tolerance_m=geometry.tolerance_m,
            corridor_outline=geometry.outline.wkt))


def downgrade() -> None:
    """Revert this revision."""
    op.execute(declarations.update().where(declarations.c.route_uploaded.is_not(None))
               .values(route=declarations.c.route_uploaded))
    with op.batch_alter_table('declarations') as batch:
        batch.drop_column('corridor_outline')
        batch.drop_column('route_tolerance_m')
        batch.drop_column('route_uploaded')
