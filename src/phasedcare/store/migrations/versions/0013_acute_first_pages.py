"""Caseload and deadline pages put the acute part first, each read from an index in order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A page of ``GET /cases`` reads the acute cases first, then the others, each by case id:
``(acute, case_id)`` and ``(regie_organisation, acute, case_id)``. A page of
``GET /deadlines`` reads the deadlines due at a moment (an acute melding's) first: partial
indexes of those few rows in page order, so that part never scans the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_CASES = {
    "ix_case_records_acute_case": ["acute", "case_id"],
    "ix_case_records_regie_acute_case": ["regie_organisation", "acute", "case_id"],
}
_DUE_AT_SET = sa.text("due_at IS NOT NULL")
_DEADLINES = {
    "ix_case_deadlines_acute_order": ["due", "case_id", "kind", "ref"],
    "ix_case_deadlines_responsible_acute_order": ["responsible", "due", "case_id", "kind", "ref"],
    "ix_case_deadlines_kind_acute_order": ["kind", "due", "case_id", "ref"],
}


def upgrade() -> None:
    """Create the indexes."""
    for name, columns in _CASES.items():
        op.create_index(name, "case_records", columns)
    for name, columns in _DEADLINES.items():
        op.create_index(
            name,
            "case_deadlines",
            columns,
            sqlite_where=_DUE_AT_SET,
            postgresql_where=_DUE_AT_SET,
        )


def downgrade() -> None:
    """Drop them."""
    for name in _DEADLINES:
        op.drop_index(name, table_name="case_deadlines")
    for name in _CASES:
        op.drop_index(name, table_name="case_records")
