"""A deadline counted in hours keeps its precise moment: an acute melding's
veiligheidsbeoordeling.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``case_deadlines.due_at`` (nullable, UTC) is the moment an acute melding's
veiligheidsbeoordeling is due; the sweep escalates it once that moment has passed, not at the
next local midnight. Rows written before have none; ``phasedcare projections rebuild`` fills
it for the acute meldingen still waiting (and adds the vervolgmeldingen' own deadlines).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable moment column."""
    with op.batch_alter_table("case_deadlines") as table:
        table.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the moment column (acute deadlines fall back to their day)."""
    with op.batch_alter_table("case_deadlines") as table:
        table.drop_column("due_at")
