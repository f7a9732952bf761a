"""Checkpoint frontiers: each checkpoint keeps the Merkle tree's frontier at its size.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

The frontier (the roots of the tree's perfect subtrees, at most log2(n) hashes) lets the
next checkpoint hash only the records integrated since, instead of reading every leaf.
Checkpoints kept before this revision have none; the first checkpoint after it reads the
tree once more and keeps one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the frontier column."""
    with op.batch_alter_table("checkpoints") as table:
        table.add_column(sa.Column("frontier", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("checkpoints") as table:
        table.drop_column("frontier")
