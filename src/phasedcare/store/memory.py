"""The in-memory event store: real optimistic concurrency and atomic appends, no disk.

Tests, docs and the README use it; it behaves like the SQL store in every way the contract
suite checks, except that it forgets everything when the process ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace

from phasedcare.errors import ConcurrencyConflict
from phasedcare.ledger.keys import WrappedKey
from phasedcare.ledger.records import StoredEvent
from phasedcare.service.ports import (
    Append,
    CaseFilter,
    CaseProjection,
    DeadlineFilter,
    DeadlineRow,
    HandoverFilter,
    HandoverRow,
    IdempotencyRecord,
    OutboxMessage,
    TreeEntry,
    TreeNode,
    deadline_cursor,
    handover_cursor,
)
from phasedcare.store.memory_credentials import InMemoryCredentials
from phasedcare.store.memory_notifications import InMemoryNotifications

__all__ = [
    "InMemoryEventStore",
    "check_batch",
    "check_numbering",
    "deadline_matches",
    "handover_matches",
    "matches",
]


def check_numbering(case_id: str, expected_sequence: int, records: Sequence[StoredEvent]) -> None:
    """Raise ValueError unless the records are this case's, numbered expected+1 onwards."""
    for offset, record in enumerate(records, start=1):
        header = record.header
        if header.case_id != case_id or header.sequence != expected_sequence + offset:
            msg = (
                f"record {header.case_id}#{header.sequence} does not follow "
                f"{case_id}#{expected_sequence + offset - 1}"
            )
            raise ValueError(msg)


def check_batch(appends: Sequence[Append]) -> None:
    """Raise ValueError unless each case appears once and each append's records follow it."""
    seen: set[str] = set()
    for append in appends:
        if append.case_id in seen:
            msg = f"case {append.case_id} appears twice in one batch"
            raise ValueError(msg)
        seen.add(append.case_id)
        check_numbering(append.case_id, append.expected_sequence, append.records)


def matches(projection: CaseProjection, case_filter: CaseFilter) -> bool:
    """True when the projection passes every criterion of the filter."""
    f = case_filter
    deadline = projection.next_deadline
    return (
        (f.organisation is None or projection.regie_organisation == f.organisation)
        and (f.phase is None or projection.phase == f.phase)
        and (f.region is None or projection.region == f.region)
        and (f.deadline_before is None or (deadline is not None and deadline < f.deadline_before))
        and (f.after_case_id is None or projection.case_id > f.after_case_id)
        and (f.acute is None or projection.acute == f.acute)
    )


def _passed(row: DeadlineRow, f: DeadlineFilter) -> bool:
    """No date criterion, or the row is due before it (by day, or by its moment)."""
    if f.due_before is None and f.due_at_before is None:
        return True
    by_day = f.due_before is not None and row.due < f.due_before
    moment, before = row.due_at, f.due_at_before
    return by_day or (moment is not None and before is not None and moment < before)


def deadline_matches(row: DeadlineRow, deadline_filter: DeadlineFilter) -> bool:
    """True when the deadline passes every criterion of the filter."""
    f = deadline_filter
    return (
        (f.responsible is None or row.responsible == f.responsible)
        and _passed(row, f)
        and (f.kind is None or row.kind == f.kind)
        and (f.after is None or deadline_cursor(row) > f.after)
        and (f.acute is None or (row.due_at is not None) == f.acute)
    )


def handover_matches(row: HandoverRow, handover_filter: HandoverFilter) -> bool:
    """True when the handover passes every criterion of the filter."""
    f = handover_filter
    parties = (row.from_organisation, row.to_organisation)
    return (
        (f.organisation is None or f.organisation in parties)
        and (f.status is None or row.status == f.status)
        and (f.after is None or handover_cursor(row) > f.after)
    )


class InMemoryEventStore(InMemoryNotifications, InMemoryCredentials):
    """An EventStore held in dictionaries behind one lock."""

    def __init__(self) -> None:
        InMemoryNotifications.__init__(self)
        InMemoryCredentials.__init__(self)
        self._lock = threading.Lock()
        self._cases: dict[str, list[StoredEvent]] = {}
        self._log: list[StoredEvent] = []
        self._projections: dict[str, CaseProjection] = {}
        self._projected_under: str | None = None
        self._keys: dict[str, WrappedKey] = {}
        self._tree: list[bytes] = []
        self._tree_records: list[StoredEvent] = []
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._held: list[int] = []  # log numbers the integrator refused, still waiting
        self._scanned = 0  # log numbers below this were integrated or held
        self._index: dict[bytes, set[str]] = {}
        self._checkpoints: dict[int, tuple[str, bytes]] = {}  # size: note, frontier

    def append(
        self,
        *,
        case_id: str,
        expected_sequence: int,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        index: Sequence[bytes] = (),
        outbox: Sequence[OutboxMessage] = (),
        idempotency: IdempotencyRecord | None = None,
    ) -> None:
        """Append atomically, or raise ConcurrencyConflict and change nothing."""
        append = Append(case_id, expected_sequence, records, projection, index, outbox, idempotency)
        self.append_batch([append])

    def append_batch(self, appends: Sequence[Append]) -> None:
        """Make every append at once, or raise (ConcurrencyConflict) and change nothing."""
        check_batch(appends)
        if not appends:
            return
        with self._lock:
            self._check_new(appends[0].case_id, [m for a in appends for m in a.outbox])
            for append in appends:
                stored = len(self._cases.get(append.case_id, []))
                taken = append.idempotency is not None and self._idempotency_taken(append)
                if stored != append.expected_sequence or taken:
                    raise ConcurrencyConflict(
                        case_id=append.case_id, expected=append.expected_sequence, actual=stored
                    )
            for append in appends:
                self._write(append)
                if append.idempotency is not None:
                    record = append.idempotency
                    self._idempotency[(record.actor, record.key)] = record

    def _write(self, append: Append) -> None:
        """Store one checked append (lock held)."""
        case_id = append.case_id
        positioned = [
            replace(record, position=len(self._log) + offset)
            for offset, record in enumerate(append.records, start=1)
        ]
        self._cases[case_id] = [*self._cases.get(case_id, []), *positioned]
        self._log.extend(positioned)
        if append.projection is not None:
            self._projections[case_id] = append.projection
        for token in append.index:
            self._index.setdefault(token, set()).add(case_id)
        self._enqueue(append.outbox)

    def load(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        """The case's records in sequence order."""
        with self._lock:
            records = list(self._cases.get(case_id, []))
        return [r for r in records if up_to is None or r.header.sequence <= up_to]

    def case_ids(self) -> list[str]:
        """Every case with records, sorted."""
        with self._lock:
            return sorted(c for c in self._cases if "~" not in c)

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The stream's last sequence and leaf hash."""
        with self._lock:
            records = self._cases.get(case_id)
            return (records[-1].header.sequence, records[-1].leaf_hash) if records else None

    def read_all(self, *, after_position: int = 0, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every record in position order after ``after_position``."""
        with self._lock:
            records = list(self._log[after_position:])
        yield from records

    def projection(self, case_id: str) -> CaseProjection | None:
        """The case's live projection, if the case exists."""
        with self._lock:
            return self._projections.get(case_id)

    def projections(self, case_filter: CaseFilter) -> list[CaseProjection]:
        """Projections passing the filter, by case id."""
        with self._lock:
            found = [p for _, p in sorted(self._projections.items()) if matches(p, case_filter)]
        return found[: case_filter.limit] if case_filter.limit is not None else found

    def deadline_rows(self, deadline_filter: DeadlineFilter) -> list[DeadlineRow]:
        """Deadlines passing the filter, earliest first."""
        with self._lock:
            rows = [d for p in self._projections.values() for d in p.deadlines]
        found = sorted(d for d in rows if deadline_matches(d, deadline_filter))
        return found[: deadline_filter.limit] if deadline_filter.limit is not None else found

    def handover_rows(self, handover_filter: HandoverFilter) -> list[HandoverRow]:
        """Handovers passing the filter, by response date."""
        with self._lock:
            rows = [h for p in self._projections.values() for h in p.handovers]
        found = sorted(
            (h for h in rows if handover_matches(h, handover_filter)), key=handover_cursor
        )
        return found[: handover_filter.limit] if handover_filter.limit is not None else found

    def replace_projections(
        self,
        projections: Iterable[CaseProjection],
        *,
        policy: str | None = None,
        unless_current: bool = False,
    ) -> int | None:
        """Replace every projection at once (and record the policy they were built under)."""
        rows = {p.case_id: p for p in projections}
        with self._lock:
            if unless_current and policy is not None and self._projected_under == policy:
                return None
            self._projections = rows
            if policy is not None:
                self._projected_under = policy
        return len(rows)

    def projections_policy(self) -> str | None:
        """The policy the projections were last rebuilt under."""
        with self._lock:
            return self._projected_under

    def case_key(self, case_id: str) -> WrappedKey | None:
        """The case's wrapped data key, if any."""
        with self._lock:
            return self._keys.get(case_id)

    def keyed_cases(self, case_ids: Collection[str]) -> set[str]:
        """Those of ``case_ids`` that have a wrapped key."""
        with self._lock:
            return {case_id for case_id in case_ids if case_id in self._keys}

    def add_case_keys(self, keys: Sequence[WrappedKey]) -> list[WrappedKey]:
        """Store each key unless its case has one; return the stored keys."""
        with self._lock:
            return [self._keys.setdefault(key.case_id, key) for key in keys]

    def integrate(self, *, accept: Callable[[StoredEvent], bool] | None = None) -> int:
        """Index the waiting records ``accept`` takes, in position order; hold the others.

        ``accept`` runs outside the lock: it opens records, and finding a case's key reads
        this store again.
        """
        with self._lock:
            waiting = [*self._held, *range(self._scanned, len(self._log))]
            self._held, self._scanned = [], len(self._log)
            candidates = [(number, self._log[number]) for number in waiting]
        taken = [accept is None or accept(record) for _, record in candidates]
        with self._lock:
            for (number, _), take in zip(candidates, taken, strict=True):
                if not take:
                    self._held.append(number)
                    continue
                record = replace(self._log[number], tree_index=len(self._tree))
                self._log[number] = record
                self._cases[record.header.case_id][record.header.sequence - 1] = record
                self._tree.append(record.leaf_hash)
                self._tree_records.append(record)
            return len(self._tree)

    def tree_leaves(self, *, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The integrated leaves by tree index, from ``start`` up to ``stop``."""
        with self._lock:
            return self._tree[start:stop]

    def tree_entries(self, *, start: int = 0, stop: int | None = None) -> list[TreeEntry]:
        """(case, sequence, leaf) of the integrated records by tree index, in ``[start, stop)``."""
        with self._lock:
            chosen = self._tree_records[start:stop]
        return [(r.header.case_id, r.header.sequence, r.leaf_hash) for r in chosen]

    def heads_at(self, size: int) -> list[TreeEntry]:
        """Each stream's last record among the first ``size`` leaves."""
        heads = {
            case: (case, sequence, leaf) for case, sequence, leaf in self.tree_entries(stop=size)
        }
        return list(heads.values())

    def tree_node(self, level: int, index: int) -> bytes | None:
        """The stored root of a perfect subtree, if kept."""
        with self._lock:
            return self._nodes.get((level, index))

    def add_checkpoint(
        self, *, size: int, note: str, frontier: bytes = b"", nodes: Sequence[TreeNode] = ()
    ) -> None:
        """Keep the first note (and frontier) for each size, and the subtree roots."""
        with self._lock:
            for level, index, node in nodes:
                self._nodes.setdefault((level, index), node)
            self._checkpoints.setdefault(size, (note, frontier))

    def checkpoints(self) -> list[str]:
        """Every note, by size."""
        with self._lock:
            return [note for _, (note, _) in sorted(self._checkpoints.items())]

    def latest_checkpoint(self) -> tuple[int, str, bytes] | None:
        """The largest checkpoint kept with a frontier: size, note, frontier."""
        with self._lock:
            kept = [(size, *kept) for size, kept in self._checkpoints.items() if kept[1]]
        return max(kept, default=None)

    def case_keys(self) -> list[WrappedKey]:
        """Every wrapped case key, by case id (as the SQL store orders them)."""
        with self._lock:
            return [self._keys[case_id] for case_id in sorted(self._keys)]

    def rewrap_case_key(self, key: WrappedKey) -> None:
        """Replace a case's wrapped key."""
        with self._lock:
            self._keys[key.case_id] = key

    def destroy_case_key(self, case_id: str) -> bool:
        """Forget the case's wrapped key and its projection row."""
        with self._lock:
            self._projections.pop(case_id, None)
            for cases in self._index.values():
                cases.discard(case_id)
            self._delete_case_idempotency(case_id)
            return self._keys.pop(case_id, None) is not None

    def find_by_token(self, token: bytes) -> list[str]:
        """The cases the token points at."""
        with self._lock:
            return sorted(self._index.get(token, ()))

    def close(self) -> None:
        """Nothing to release."""
