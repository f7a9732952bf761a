"""The caseload shows until when zicht op veiligheid is arranged for a waiting melding.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

``case_records.zicht_until`` is the last day zicht op veiligheid is arranged
(``ZichtOrganised``) for every melding of the case still waiting for its
veiligheidsbeoordeling; NULL when none waits or one waits without it. Rows written before
hold NULL, which is what their events say: no arrangement was ever recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable column."""
    with op.batch_alter_table("case_records") as table:
        table.add_column(sa.Column("zicht_until", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("case_records") as table:
        table.drop_column("zicht_until")
