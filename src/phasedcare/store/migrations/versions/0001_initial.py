"""The first schema: sealed, chained records, wrapped case keys, checkpoints, projections.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create event_records, case_records and case_keys."""
    op.create_table(
        "event_records",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("tree_index", _POSITION, nullable=True, unique=True),
        sa.UniqueConstraint("case_id", "sequence", name="uq_event_records_case_sequence"),
    )
    op.create_index("ix_event_records_case_id", "event_records", ["case_id"])
    op.create_table(
        "case_records",
        sa.Column("case_id", sa.String(length=64), primary_key=True),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("opened_via", sa.String(length=16), nullable=False),
        sa.Column("acute", sa.Boolean(), nullable=False),
        sa.Column("phase", sa.String(length=40), nullable=False),
        sa.Column("vt_stage", sa.String(length=40), nullable=False),
        sa.Column("regie_organisation", sa.String(length=64), nullable=False),
        sa.Column("casusregisseur", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("next_deadline", sa.Date(), nullable=True),
        sa.Column("next_deadline_kind", sa.String(length=40), nullable=True),
    )
    op.create_index("ix_case_records_region", "case_records", ["region"])
    op.create_index("ix_case_records_phase", "case_records", ["phase"])
    op.create_index("ix_case_records_regie_organisation", "case_records", ["regie_organisation"])
    op.create_index("ix_case_records_next_deadline", "case_records", ["next_deadline"])

    op.create_table(
        "case_keys",
        sa.Column("case_id", sa.String(length=64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
    )

    op.create_table(
        "household_index",
        sa.Column("token", sa.LargeBinary(), primary_key=True),
        sa.Column("case_id", sa.String(length=64), primary_key=True),
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", _POSITION, primary_key=True, autoincrement=False),
        sa.Column("note", sa.String(), nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("checkpoints")
    op.drop_table("household_index")
    op.drop_table("case_keys")
    op.drop_table("case_records")
    op.drop_table("event_records")
