"""Webhook secret rotation: the previous secret stays valid for a grace period.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the previous secret and until when it is still signed with."""
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.add_column(sa.Column("previous_kek_id", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("wrapped_previous_secret", sa.LargeBinary(), nullable=True))
        table.add_column(sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.drop_column("previous_until")
        table.drop_column("wrapped_previous_secret")
        table.drop_column("previous_kek_id")
