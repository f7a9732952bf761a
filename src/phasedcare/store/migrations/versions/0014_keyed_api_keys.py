"""API keys are hashed under a key outside the database; keys hashed before are revoked.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

Releases before this one stored a plain SHA-256 of each API key's token, so anyone who could
write the database could add a key of their own (security review, issue 12, gap 1). Tokens
are now hashed with HMAC-SHA256 under a sub-key of the key folder's blind-index key, which
this migration does not have: it cannot rehash the old rows, and any of them may have been
written by hand. So every key not yet revoked is revoked now, at the time of the migration.
Its holder is told why when it presents the token (only the holder of the real token can
be); create a new key with ``phasedcare keys api create``. A downgrade leaves them revoked:
un-revoking would bring back keys nobody can vouch for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_API_KEYS = sa.table("api_keys", sa.column("revoked_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    """Revoke every API key that is not revoked yet."""
    op.execute(
        _API_KEYS.update()
        .where(_API_KEYS.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def downgrade() -> None:
    """Nothing: the keys stay revoked."""
