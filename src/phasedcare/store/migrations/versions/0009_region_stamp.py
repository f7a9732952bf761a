"""The database names the region it belongs to: one database, one region.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A ``store_meta`` row ``region`` holds the id of the region whose engine first opened the
database; an engine of another region refuses to open it. A database whose cases all belong
to one region (their projection rows say which) is stamped with that region here; an empty
one, or one whose rows name several regions, is stamped by the first engine that opens it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create store_meta; stamp the region the cases already held belong to."""
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    regions = op.get_bind().execute(sa.text("SELECT DISTINCT region FROM case_records")).all()
    if len(regions) == 1:
        op.execute(
            sa.text("INSERT INTO store_meta (name, value) VALUES ('region', :region)").bindparams(
                region=regions[0][0]
            )
        )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("store_meta")
