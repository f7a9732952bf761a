"""The ports the service layer needs from the outside world, as Protocols.

Every port has a real in-memory implementation (``phasedcare.store.memory``) that tests and
docs use, and a SQL implementation (``phasedcare.store.sql``) for SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from phasedcare.ledger.keys import CaseKeyStore
from phasedcare.ledger.records import StoredEvent

__all__ = ["CaseFilter", "CaseProjection", "EventStore"]


@dataclass(frozen=True, slots=True)
class CaseProjection:
    """The read model of one case: ids, phases, dates and organisations, never a name.

    Rebuilt from the events at any time; equal to the live row (a test proves it).
    """

    case_id: str
    region: str
    opened_via: str
    acute: bool
    phase: str
    vt_stage: str
    regie_organisation: str
    casusregisseur: str
    opened_at: datetime
    updated_at: datetime
    sequence: int
    next_deadline: date | None
    next_deadline_kind: str | None


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which projections to list; ``None`` means any. Results are ordered by case id."""

    organisation: str | None = None
    phase: str | None = None
    region: str | None = None
    deadline_before: date | None = None
    limit: int | None = None


class EventStore(CaseKeyStore, Protocol):
    """Append-only storage of sealed event records, with projections kept in step.

    It also keeps the cases' wrapped data keys (:class:`CaseKeyStore`).

    ``append`` is atomic: the records and the new projection row are written in one
    transaction, or nothing is written.
    """

    def append(
        self,
        *,
        case_id: str,
        expected_sequence: int,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        index: Sequence[bytes] = (),
    ) -> None:
        """Append records numbered ``expected_sequence + 1 ...`` and upsert the projection.

        Streams that are not cases (access logs, ``<case>~access``) pass no projection.
        ``index`` holds blind-index tokens that point at this case (same transaction).

        Raises:
            ConcurrencyConflict: the case's last sequence is not ``expected_sequence``
                (another writer got there first); nothing is written.
            StoreError: the backend failed; nothing is written.
        """
        ...

    def load(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        """The case's records in sequence order, optionally only those with sequence <= up_to."""
        ...

    def case_ids(self) -> list[str]:
        """Every case id that has records, sorted (streams with a ``~`` are not cases)."""
        ...

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The last sequence number and leaf hash of a stream, or None when it is empty."""
        ...

    def read_all(self, *, after_position: int = 0, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every record in global position order, starting after ``after_position``."""
        ...

    def projection(self, case_id: str) -> CaseProjection | None:
        """The live projection of one case, or None when the case is unknown."""
        ...

    def projections(self, case_filter: CaseFilter) -> list[CaseProjection]:
        """Live projections matching the filter, ordered by case id."""
        ...

    def replace_projections(self, projections: Iterable[CaseProjection]) -> int:
        """Replace every projection row in one transaction; returns how many were written."""
        ...

    def find_by_token(self, token: bytes) -> list[str]:
        """The cases a blind-index token points at, sorted."""
        ...

    def integrate(self) -> int:
        """Give every record without one the next Merkle tree index (in position order).

        One integrator at a time (a lock), so indexes are gapless; returns the tree size.
        """
        ...

    def tree_leaves(self) -> list[bytes]:
        """The leaf hashes of the integrated records, by tree index."""
        ...

    def add_checkpoint(self, *, size: int, note: str) -> None:
        """Keep a signed checkpoint note (one per tree size; a repeat is ignored)."""
        ...

    def checkpoints(self) -> list[str]:
        """Every stored checkpoint note, by tree size."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...
