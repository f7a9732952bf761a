"""Idempotency records name their case, to be erased with it, and expire by age.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Erasing a case (crypto-shredding) now deletes its idempotency records too, found by the new
``case_id``; the sweep deletes records older than the TTL, found by ``created_at``. Request
digests are keyed from now on (an HMAC under a key outside the database), so the unkeyed
SHA-256 digests kept before are blanked: they could confirm a guessed name, and no keyed
digest equals them anyway (a retry with such a key is refused, as it would be unblanked).
Records kept before name no case; they stay until they expire.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add and index case_id, index created_at, blank the unkeyed digests."""
    with op.batch_alter_table("idempotency_records") as table:
        table.add_column(sa.Column("case_id", sa.String(length=64), nullable=True))
        table.create_index("ix_idempotency_records_case_id", ["case_id"])
        table.create_index("ix_idempotency_records_created_at", ["created_at"])
    op.execute("UPDATE idempotency_records SET request_hash = ''")


def downgrade() -> None:
    """Drop the indexes and the column (the blanked digests stay blank)."""
    with op.batch_alter_table("idempotency_records") as table:
        table.drop_index("ix_idempotency_records_created_at")
        table.drop_index("ix_idempotency_records_case_id")
        table.drop_column("case_id")
