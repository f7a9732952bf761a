"""The caseload shows each case's next open obligation.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

``case_records.next_obligation`` (the obligation's id, ``kind:ref``) and
``case_records.next_obligation_due`` are the earliest open obligation of the case: a duty
the case still owes, also when its state moved on without it. Rows written before have none;
``phasedcare projections rebuild`` folds every case's events and fills them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two nullable columns."""
    with op.batch_alter_table("case_records") as table:
        table.add_column(sa.Column("next_obligation", sa.String(length=160), nullable=True))
        table.add_column(sa.Column("next_obligation_due", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop them (the caseload shows deadlines only)."""
    with op.batch_alter_table("case_records") as table:
        table.drop_column("next_obligation_due")
        table.drop_column("next_obligation")
