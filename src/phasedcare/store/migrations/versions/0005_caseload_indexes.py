"""Caseload indexes: every list page is read from an index in its own order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

A page (``limit`` rows after a cursor) filtered by organisation, phase, responsible,
kind or status now stops after ``limit`` index entries instead of sorting every match, so
its cost does not grow with the ledger (``bench/growth_bench.py --explain`` shows the
plans on SQLite and PostgreSQL). The single-column indexes these extend are dropped.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_REPLACED = {
    "case_records": {
        "ix_case_records_phase": ["phase"],
        "ix_case_records_regie_organisation": ["regie_organisation"],
    },
    "case_deadlines": {
        "ix_case_deadlines_due": ["due"],
        "ix_case_deadlines_responsible": ["responsible"],
    },
    "case_handovers": {
        "ix_case_handovers_from_organisation": ["from_organisation"],
        "ix_case_handovers_to_organisation": ["to_organisation"],
    },
}
_HANDOVER_ORDER = ["respond_by", "case_id", "handover_id"]
_ADDED = {
    "case_records": {
        "ix_case_records_regie_case": ["regie_organisation", "case_id"],
        "ix_case_records_regie_phase_case": ["regie_organisation", "phase", "case_id"],
        "ix_case_records_phase_case": ["phase", "case_id"],
    },
    "case_deadlines": {
        "ix_case_deadlines_order": ["due", "case_id", "kind", "ref"],
        "ix_case_deadlines_responsible_order": ["responsible", "due", "case_id", "kind", "ref"],
        "ix_case_deadlines_kind_order": ["kind", "due", "case_id", "ref"],
    },
    "case_handovers": {
        "ix_case_handovers_order": _HANDOVER_ORDER,
        "ix_case_handovers_status_order": ["status", *_HANDOVER_ORDER],
        "ix_case_handovers_from_order": ["from_organisation", *_HANDOVER_ORDER],
        "ix_case_handovers_from_status_order": ["from_organisation", "status", *_HANDOVER_ORDER],
        "ix_case_handovers_to_order": ["to_organisation", *_HANDOVER_ORDER],
        "ix_case_handovers_to_status_order": ["to_organisation", "status", *_HANDOVER_ORDER],
    },
    "outbox_messages": {
        "ix_outbox_messages_type_order": ["event_type", "position"],
    },
}


def _create(indexes: dict[str, dict[str, list[str]]]) -> None:
    for table, named in indexes.items():
        for name, columns in named.items():
            op.create_index(name, table, columns)


def _drop(indexes: dict[str, dict[str, list[str]]]) -> None:
    for table, named in indexes.items():
        for name in named:
            op.drop_index(name, table_name=table)


def upgrade() -> None:
    """Create the ordered composite indexes, then drop the single-column ones they cover."""
    _create(_ADDED)
    _drop(_REPLACED)


def downgrade() -> None:
    """Restore the single-column indexes and drop the composite ones."""
    _create(_REPLACED)
    _drop(_ADDED)
