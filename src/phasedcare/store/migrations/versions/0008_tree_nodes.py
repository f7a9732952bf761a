"""Stored subtree roots: inclusion proofs in O(log n) reads instead of every leaf.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Each checkpoint keeps the roots of the perfect subtrees of 256 leaves and more that it
completed. Checkpoints signed before this revision carry no map of case heads either; the
first checkpoint after it reads the tree once from its first leaf, signs the map and keeps
every subtree root, and the ones after continue from there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create tree_nodes."""
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "node_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("tree_nodes")
