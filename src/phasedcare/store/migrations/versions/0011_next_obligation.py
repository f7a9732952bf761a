"""The caseload shows each case's next open obligation.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

``case_records.next_obligation`` is the id (``kind:ref``) of the case's earliest open
obligation, whose date and kind are ``next_deadline`` and ``next_deadline_kind``: a duty the
case still owes, also when its state moved on without it. The ``case_deadlines`` rows become
the open obligations. Rows written before have no id and list the deadlines of that moment;
``phasedcare projections rebuild`` folds every case's events and fills them in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable column."""
    with op.batch_alter_table("case_records") as table:
        table.add_column(sa.Column("next_obligation", sa.String(length=160), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("case_records") as table:
        table.drop_column("next_obligation")
