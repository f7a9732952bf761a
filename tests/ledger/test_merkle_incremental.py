"""Incremental checkpoints: the Merkle frontier gives merkle.root's roots without every leaf.

A checkpoint extends the frontier kept with the latest checkpoint by the records integrated
since; verification streams the tree the same way. These tests pin that the roots never
differ from ``merkle.root`` over every leaf, that only new leaves are read, and that a kept
frontier is trusted only when the signed note vouches for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from sqlalchemy import create_engine, text

from phasedcare.ledger.chain import GENESIS, leaf_hash
from phasedcare.ledger.keys import CheckpointKey, WrappedKey
from phasedcare.ledger.merkle import Frontier, root, verify_consistency
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.ledger.verify import verify_ledger
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import utc_now
from phasedcare.service.ports import EventStore
from phasedcare.store import InMemoryEventStore, SqlEventStore

ORIGIN = "phasedcare/test"
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def records(
    case_id: str, count: int, *, after: int = 0, previous: bytes = GENESIS
) -> list[StoredEvent]:
    """``count`` chained records of one case, numbered after ``after``."""
    made = []
    for sequence in range(after + 1, after + count + 1):
        header = RecordHeader(
            case_id, sequence, "IncidentRecorded", 1, START + timedelta(seconds=sequence), "1"
        )
        payload = f"sealed {case_id} {sequence}".encode()
        previous = leaf_hash(header, payload, previous)
        made.append(StoredEvent(header, payload, previous))
    return made


def write(store: EventStore, case_id: str, count: int) -> None:
    """Append ``count`` records to the end of a case (which has a data key: these tests
    look at the tree, not at sealing, so the payloads are stand-ins)."""
    store.add_case_keys([WrappedKey(case_id=case_id, version=1, kek_id="k", wrapped=b"-")])
    head = store.head(case_id)
    after, previous = head if head is not None else (0, GENESIS)
    store.append(
        case_id=case_id,
        expected_sequence=after,
        records=records(case_id, count, after=after, previous=previous),
        projection=None,
    )


def auditor_of(store: EventStore, key: CheckpointKey | None = None) -> Auditor:
    """An auditor over ``store`` that signs with ``key`` (a fresh one by default)."""
    return Auditor(
        store=store, key=key or CheckpointKey.generate(), origin=ORIGIN, witness=None, clock=utc_now
    )


class ReadCounting(InMemoryEventStore):
    """The in-memory store, noting the (start, stop) of every read of the tree's leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int | None]] = []

    def tree_entries(
        self, *, start: int = 0, stop: int | None = None
    ) -> list[tuple[str, int, bytes]]:
        """The leaves (with their case and sequence), after noting the range asked for."""
        self.reads.append((start, stop))
        return super().tree_entries(start=start, stop=stop)


class KeptFrontierAltered(InMemoryEventStore):
    """The in-memory store whose kept frontiers come back with one bit flipped."""

    def latest_checkpoint(self) -> tuple[int, str, bytes] | None:
        """The latest checkpoint, its frontier altered."""
        latest = super().latest_checkpoint()
        if latest is None:
            return None
        size, note, frontier = latest
        return size, note, bytes([frontier[0] ^ 1]) + frontier[1:]


def test_each_checkpoint_reads_only_the_leaves_integrated_since_the_last() -> None:
    """Checkpoints at 3, 8 and 8 leaves read [0, 3), [3, 8) and nothing (the third is the
    second: nothing new to sign); roots are merkle.root's."""
    store = ReadCounting()
    auditor = auditor_of(store)
    sizes = []
    for count in (3, 5, 0):
        if count:
            write(store, "c-a" if count == 3 else "c-b", count)
        checkpoint = auditor.checkpoint()
        assert checkpoint is not None
        assert checkpoint.root == root(InMemoryEventStore.tree_leaves(store))  # not counted
        sizes.append(checkpoint.size)
    assert sizes == [3, 8, 8]
    assert store.reads == [(0, 3), (3, 8)]
    assert auditor.verify().intact


def test_a_kept_frontier_the_signed_root_does_not_vouch_for_is_not_used() -> None:
    """An altered kept frontier is ignored: the tree is read again and the root stays right."""
    store = KeptFrontierAltered()
    auditor = auditor_of(store)
    write(store, "c-a", 3)
    auditor.checkpoint()
    write(store, "c-a", 2)
    with structlog.testing.capture_logs() as logs:
        checkpoint = auditor.checkpoint()
    assert checkpoint is not None
    assert checkpoint.root == root(store.tree_leaves())
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
        "checkpoint state unusable: reading the whole tree"
    ]
    assert auditor.verify().intact


def test_a_frontier_kept_under_another_key_is_not_used() -> None:
    """After a key change the first checkpoint reads the whole tree, then continues as usual."""
    store = ReadCounting()
    write(store, "c-a", 4)
    auditor_of(store).checkpoint()
    write(store, "c-a", 1)
    renewed = auditor_of(store)
    first = renewed.checkpoint()
    write(store, "c-a", 1)
    second = renewed.checkpoint()
    assert store.reads == [(0, 4), (0, 5), (5, 6)]
    assert first is not None
    assert second is not None
    assert (first.root, second.root) == (root(store.tree_leaves()[:5]), root(store.tree_leaves()))


def test_verification_streams_a_tree_whose_records_arrive_out_of_tree_order() -> None:
    """Records read in another order than their tree indexes still verify, roots included."""
    store = InMemoryEventStore()
    auditor = auditor_of(store)
    write(store, "c-a", 3)
    write(store, "c-b", 4)
    auditor.checkpoint()
    stored = list(store.read_all())
    shuffled = stored[3:] + stored[:3]  # c-b's records (tree 3..6) before c-a's (0..2)
    report = verify_ledger(
        shuffled, notes=auditor.notes(), public=auditor.public_key, origin=ORIGIN
    )
    assert (report.intact, report.tree_size, report.records, report.cases) == (True, 7, 7, 2)


def test_verification_names_a_repeated_a_negative_and_a_missing_tree_index() -> None:
    """A second record at a taken index, a negative index and a gap are each reported."""
    store = InMemoryEventStore()
    write(store, "c-a", 4)
    store.integrate()
    a1, a2, a3, a4 = store.read_all()
    altered = [a1, a2, _indexed(a3, 0), _indexed(a4, -1)]
    report = verify_ledger(altered, notes=[], public=b"", origin=ORIGIN, allow_unanchored=True)
    assert [str(p) for p in report.problems] == [
        "position 3, case c-a#3: tree index 0 appears twice",
        "position 4, case c-a#4: tree index -1 is negative",
    ]
    gapped = verify_ledger([a1, a3, a4], notes=[], public=b"", origin=ORIGIN, allow_unanchored=True)
    assert [p.what for p in gapped.problems][-1] == "tree index 1 is missing: a record was removed"
    assert gapped.tree_size == 1


def _indexed(record: StoredEvent, index: int) -> StoredEvent:
    return StoredEvent(record.header, record.payload, record.leaf_hash, record.position, index)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest) -> str:
    """A migrated SQLite file or PostgreSQL schema."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def sql_store(sql_url: str) -> Iterator[SqlEventStore]:
    """A SqlEventStore over the fresh database."""
    store = SqlEventStore(sql_url)
    yield store
    store.close()


def test_sql_checkpoints_keep_their_frontier_and_continue_from_it(sql_store: SqlEventStore) -> None:
    """Each kept checkpoint has its frontier; every signed root is merkle.root's, consistent."""
    auditor = auditor_of(sql_store)
    signed = []
    for case_id, count in (("c-a", 5), ("c-b", 6), ("c-a", 1)):
        write(sql_store, case_id, count)
        checkpoint = auditor.checkpoint()
        assert checkpoint is not None
        signed.append(checkpoint)
        latest = sql_store.latest_checkpoint()
        assert latest is not None
        assert latest[:2] == (checkpoint.size, checkpoint.note)
        assert Frontier.from_bytes(latest[2], size=checkpoint.size).root() == checkpoint.root
    leaves = sql_store.tree_leaves()
    assert [(c.size, c.root) for c in signed] == [(n, root(leaves[:n])) for n in (5, 11, 12)]
    assert sql_store.tree_leaves(start=5, stop=11) == leaves[5:11]
    older, newer, proof, holds = auditor.consistency(5, 12)
    assert holds
    assert verify_consistency(5, 12, older.root, newer.root, proof)
    assert auditor.verify().intact


def test_checkpoints_kept_before_frontiers_existed_are_continued_correctly(
    sql_store: SqlEventStore, sql_url: str
) -> None:
    """A ledger whose checkpoints have no frontier (migrated from 0005) reads the tree once."""
    auditor = auditor_of(sql_store)
    write(sql_store, "c-a", 3)
    auditor.checkpoint()
    _sql(sql_url, "UPDATE checkpoints SET frontier = NULL")
    assert sql_store.latest_checkpoint() is None
    write(sql_store, "c-a", 4)
    checkpoint = auditor.checkpoint()
    assert checkpoint is not None
    assert (checkpoint.size, checkpoint.root) == (7, root(sql_store.tree_leaves()))
    assert auditor.verify().intact


def test_integration_continues_after_the_highest_index_even_when_one_was_removed(
    sql_store: SqlEventStore, sql_url: str
) -> None:
    """New records follow the highest tree index: a removed record leaves a gap, not a clash."""
    write(sql_store, "c-a", 3)
    assert sql_store.integrate() == 3
    _sql(sql_url, "DELETE FROM event_records WHERE tree_index = 1")
    write(sql_store, "c-b", 2)
    assert sql_store.integrate() == 5
    assert [r.tree_index for r in sql_store.read_all()] == [0, 2, 3, 4]
    report = auditor_of(sql_store).verify()
    assert "tree index 1 is missing: a record was removed" in [p.what for p in report.problems]


def _sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
