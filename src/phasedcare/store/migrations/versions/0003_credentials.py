"""Credentials: API keys (hashed) and the idempotency records of the HTTP API.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create api_keys and idempotency_records."""
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), primary_key=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("revoked_at", _MOMENT, nullable=True),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("actor", sa.String(length=200), primary_key=True),
        sa.Column("key", sa.String(length=255), primary_key=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("request_hash", sa.String(length=128), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("idempotency_records")
    op.drop_table("api_keys")
