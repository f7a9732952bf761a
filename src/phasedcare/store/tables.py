"""The SQL schema (SQLModel tables): event records and the case projection.

No column holds personal data: event payloads are opaque bytes, and the projection holds
ids, phases, dates and organisations; API keys are kept as hashes of their tokens. Alembic
migrations (``migrations/``) create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "SCHEMA_REVISION",
    "STAMP_PROJECTIONS_POLICY",
    "STAMP_REGION",
    "ApiKeyRecord",
    "CaseKeyRecord",
    "CaseRecord",
    "CheckpointRecord",
    "DeadlineRecord",
    "DeliveryRecord",
    "EventRecord",
    "HandoverRecord",
    "HouseholdIndexRecord",
    "IdempotencyKeyRecord",
    "OutboxRecord",
    "StoreMetaRecord",
    "SubscriptionRecord",
    "TreeNodeRecord",
    "metadata",
]

metadata = SQLModel.metadata

SCHEMA_REVISION = "0014"
"""The Alembic revision these tables match; the store refuses a database at another one."""

STAMP_REGION = "region"
"""The ``store_meta`` row naming the region the database belongs to."""

STAMP_PROJECTIONS_POLICY = "projections_policy"
"""The ``store_meta`` row naming the policy (its fingerprint) the projections were built under."""

_POSITION = BigInteger().with_variant(Integer(), "sqlite")


class EventRecord(SQLModel, table=True):
    """One stored event: its clear header and its opaque payload, at a global position."""

    __tablename__ = "event_records"
    __table_args__ = (
        UniqueConstraint("case_id", "sequence", name="uq_event_records_case_sequence"),
    )

    position: int | None = Field(
        default=None, sa_column=Column(_POSITION, primary_key=True, autoincrement=True)
    )
    case_id: str = Field(max_length=64, index=True)
    sequence: int
    event_type: str = Field(max_length=80)
    schema_version: int
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    key_id: str = Field(max_length=16)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tree_index: int | None = Field(
        default=None, sa_column=Column(_POSITION, nullable=True, unique=True)
    )


class CaseRecord(SQLModel, table=True):
    """The projection row of one case: what lists and caseloads are answered from."""

    __tablename__ = "case_records"
    __table_args__ = (  # caseload pages: filtered, ordered by case id (migration 0005)
        Index("ix_case_records_regie_case", "regie_organisation", "case_id"),
        Index("ix_case_records_regie_phase_case", "regie_organisation", "phase", "case_id"),
        Index("ix_case_records_phase_case", "phase", "case_id"),
        # the acute part of a caseload page comes first (migration 0013)
        Index("ix_case_records_acute_case", "acute", "case_id"),
        Index("ix_case_records_regie_acute_case", "regie_organisation", "acute", "case_id"),
    )

    case_id: str = Field(primary_key=True, max_length=64)
    region: str = Field(max_length=64, index=True)
    opened_via: str = Field(max_length=16)
    acute: bool
    phase: str = Field(max_length=40)
    vt_stage: str = Field(max_length=40)
    regie_organisation: str = Field(max_length=64)
    casusregisseur: str = Field(max_length=64)
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    sequence: int
    next_deadline: date | None = Field(default=None, index=True)
    next_deadline_kind: str | None = Field(default=None, max_length=40)
    next_obligation: str | None = Field(default=None, max_length=160)
    zicht_until: date | None = Field(default=None)


class CaseKeyRecord(SQLModel, table=True):
    """A case's data key, wrapped by a KEK that lives outside the database."""

    __tablename__ = "case_keys"

    case_id: str = Field(primary_key=True, max_length=64)
    version: int
    kek_id: str = Field(max_length=64)
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRecord(SQLModel, table=True):
    """A signed checkpoint note of the Merkle tree at one size, and the tree's frontier then.

    The frontier (its perfect subtrees' roots, concatenated; migration 0006) lets the next
    checkpoint extend the tree from here instead of reading every leaf; older rows have none.
    """

    __tablename__ = "checkpoints"

    tree_size: int = Field(sa_column=Column(_POSITION, primary_key=True, autoincrement=False))
    note: str
    frontier: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class StoreMetaRecord(SQLModel, table=True):
    """A fact about the database itself (migration 0009): ``region`` names the region whose
    engines alone may open it."""

    __tablename__ = "store_meta"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)


class TreeNodeRecord(SQLModel, table=True):
    """The root of one perfect subtree of 256 leaves or more (migration 0008), kept by the
    checkpoint that completed it: an inclusion proof reads O(log n) of these, not the tree."""

    __tablename__ = "tree_nodes"

    level: int = Field(primary_key=True)
    node_index: int = Field(sa_column=Column(_POSITION, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class HouseholdIndexRecord(SQLModel, table=True):
    """A blind-index token (an HMAC, never a name) pointing at a case."""

    __tablename__ = "household_index"

    token: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    case_id: str = Field(primary_key=True, max_length=64)


_DUE_AT_SET = "due_at IS NOT NULL"

ACUTE_DEADLINE_INDEXES = tuple(
    Index(name, *columns, sqlite_where=text(_DUE_AT_SET), postgresql_where=text(_DUE_AT_SET))
    for name, columns in (
        ("ix_case_deadlines_acute_order", ("due", "case_id", "kind", "ref")),
        (
            "ix_case_deadlines_responsible_acute_order",
            ("responsible", "due", "case_id", "kind", "ref"),
        ),
        ("ix_case_deadlines_kind_acute_order", ("kind", "due", "case_id", "ref")),
    )
)
"""The acute part of a deadline page (due at a moment) in page order: partial indexes of the
few deadlines counted in hours, so that part never scans the rest (migration 0013)."""


class DeadlineRecord(SQLModel, table=True):
    """One open obligation of a case (read model): the caseload of what is due and overdue,
    also a duty the case moved on from without meeting it (migration 0011)."""

    __tablename__ = "case_deadlines"
    __table_args__ = (  # pages in (due, case, kind, ref) order, per filter (migration 0005)
        Index("ix_case_deadlines_order", "due", "case_id", "kind", "ref"),
        Index(
            "ix_case_deadlines_responsible_order", "responsible", "due", "case_id", "kind", "ref"
        ),
        Index("ix_case_deadlines_kind_order", "kind", "due", "case_id", "ref"),
        *ACUTE_DEADLINE_INDEXES,
    )

    case_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=40)
    ref: str = Field(primary_key=True, max_length=64)
    due: date
    responsible: str = Field(max_length=64)
    escalated: bool
    due_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class HandoverRecord(SQLModel, table=True):
    """One handover of a case (read model); its payload stays sealed in the ledger."""

    __tablename__ = "case_handovers"
    __table_args__ = (  # pages in (respond_by, case, handover) order per side (migration 0005)
        Index("ix_case_handovers_order", "respond_by", "case_id", "handover_id"),
        Index("ix_case_handovers_status_order", "status", "respond_by", "case_id", "handover_id"),
        Index(
            "ix_case_handovers_from_order",
            "from_organisation",
            "respond_by",
            "case_id",
            "handover_id",
        ),
        Index(
            "ix_case_handovers_from_status_order",
            "from_organisation",
            "status",
            "respond_by",
            "case_id",
            "handover_id",
        ),
        Index(
            "ix_case_handovers_to_order", "to_organisation", "respond_by", "case_id", "handover_id"
        ),
        Index(
            "ix_case_handovers_to_status_order",
            "to_organisation",
            "status",
            "respond_by",
            "case_id",
            "handover_id",
        ),
    )

    case_id: str = Field(primary_key=True, max_length=64)
    handover_id: str = Field(primary_key=True, max_length=64)
    from_organisation: str = Field(max_length=64)
    to_organisation: str = Field(max_length=64)
    purpose: str = Field(max_length=20)
    status: str = Field(max_length=20)
    respond_by: date
    proposed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OutboxRecord(SQLModel, table=True):
    """A notification written in the transaction of the command that caused it (ids only)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (  # melder feedback: one type, in order (migration 0005)
        Index("ix_outbox_messages_type_order", "event_type", "position"),
    )

    position: int | None = Field(
        default=None, sa_column=Column(_POSITION, primary_key=True, autoincrement=True)
    )
    message_id: str = Field(max_length=64, unique=True)
    case_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recipients: str = Field(description="Organisation ids, space-separated.")
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SubscriptionRecord(SQLModel, table=True):
    """An organisation's webhook endpoint; the secret is wrapped by a KEK kept elsewhere."""

    __tablename__ = "webhook_subscriptions"

    subscription_id: str = Field(primary_key=True, max_length=64)
    organisation: str = Field(max_length=64, index=True)
    url: str = Field(max_length=2000)
    kek_id: str = Field(max_length=64)
    wrapped_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    active: bool
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    previous_kek_id: str | None = Field(default=None, max_length=64)
    wrapped_previous_secret: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True)
    )
    previous_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class DeliveryRecord(SQLModel, table=True):
    """One outbox message to one subscription: status, attempts, next attempt, lease."""

    __tablename__ = "webhook_deliveries"

    message_id: str = Field(primary_key=True, max_length=64)
    subscription_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16, index=True)
    attempts: int
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )
    leased_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_status: int | None = None
    last_error: str = Field(default="", max_length=200)
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class ApiKeyRecord(SQLModel, table=True):
    """An API key of one actor: a keyed digest of its token, never the token.

    The digest is an HMAC-SHA256 under a key the database does not hold; migration 0014
    revoked the rows that older releases hashed with plain SHA-256.
    """

    __tablename__ = "api_keys"

    key_id: str = Field(primary_key=True, max_length=32)
    actor: str = Field(max_length=200)
    label: str = Field(max_length=100)
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class IdempotencyKeyRecord(SQLModel, table=True):
    """The stored response to a request made with an idempotency key, per (actor, key).

    ``request_hash`` is keyed (an HMAC under a key outside the database); the record is
    deleted with its case (``case_id``, migration 0007) and once it expires (``created_at``).
    """

    __tablename__ = "idempotency_records"

    actor: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=16)
    path: str = Field(max_length=2000)
    request_hash: str = Field(max_length=128)
    status: int
    response_body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    case_id: str | None = Field(default=None, max_length=64, index=True)
