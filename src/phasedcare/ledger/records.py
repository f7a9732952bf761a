"""The stored form of an event: a clear header and an opaque payload.

The header holds no personal data (ids, sequence, type, time); everything else lives in the
payload, which the store keeps as bytes it never looks into. The ledger seals and chains
these records; the store only persists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["RecordHeader", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """What may be known about a record without opening it.

    Attributes:
        case_id: the case (a random id, never a BSN or a name).
        sequence: 1-based, gapless position of the record within its case.
        event_type: the event's type name, e.g. ``PhaseTransitioned``.
        schema_version: the version of that event type's schema the payload was written in.
        recorded_at: when the record was appended (timezone-aware, UTC).
        key_id: which version of the case's data key sealed the payload ("" if unsealed).
    """

    case_id: str
    sequence: int
    event_type: str
    schema_version: int
    recorded_at: datetime
    key_id: str = ""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A header, the opaque payload and its leaf hash; once stored, its global position, and
    once integrated, its index in the Merkle tree."""

    header: RecordHeader
    payload: bytes
    leaf_hash: bytes = b""
    position: int | None = None
    tree_index: int | None = None
