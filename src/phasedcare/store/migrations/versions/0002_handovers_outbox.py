"""Handovers and notifications: deadline and handover read models, outbox, webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The read-model tables are filled from the events: run ``phasedcare projections rebuild``
after upgrading a database that already holds cases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create case_deadlines, case_handovers, outbox_messages and the webhook tables."""
    op.create_table(
        "case_deadlines",
        sa.Column("case_id", sa.String(length=64), primary_key=True),
        sa.Column("kind", sa.String(length=40), primary_key=True),
        sa.Column("ref", sa.String(length=64), primary_key=True),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("responsible", sa.String(length=64), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_case_deadlines_due", "case_deadlines", ["due"])
    op.create_index("ix_case_deadlines_responsible", "case_deadlines", ["responsible"])
    op.create_table(
        "case_handovers",
        sa.Column("case_id", sa.String(length=64), primary_key=True),
        sa.Column("handover_id", sa.String(length=64), primary_key=True),
        sa.Column("from_organisation", sa.String(length=64), nullable=False),
        sa.Column("to_organisation", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("respond_by", sa.Date(), nullable=False),
        sa.Column("proposed_at", _MOMENT, nullable=False),
    )
    op.create_index("ix_case_handovers_from_organisation", "case_handovers", ["from_organisation"])
    op.create_index("ix_case_handovers_to_organisation", "case_handovers", ["to_organisation"])
    op.create_table(
        "outbox_messages",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("recipients", sa.String(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_outbox_messages_case_id", "outbox_messages", ["case_id"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("subscription_id", sa.String(length=64), primary_key=True),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_secret", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
    )
    op.create_index(
        "ix_webhook_subscriptions_organisation", "webhook_subscriptions", ["organisation"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("message_id", sa.String(length=64), primary_key=True),
        sa.Column("subscription_id", sa.String(length=64), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _MOMENT, nullable=True),
        sa.Column("leased_until", _MOMENT, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", _MOMENT, nullable=True),
    )
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries", ["status"])
    op.create_index(
        "ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"]
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_table("outbox_messages")
    op.drop_table("case_handovers")
    op.drop_table("case_deadlines")
