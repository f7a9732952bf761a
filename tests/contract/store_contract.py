"""One contract suite for every EventStore: subclass it and provide the ``make_store`` fixture.

``EventStoreContract`` holds what every store does; ``SqlEventStoreContract`` adds what only
a database can show (racing processes, migrations, a missing schema, driver failures).
Records are synthetic: ids, numbers and opaque ``sealed:`` bytes, never a name.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, literal, select, text

from phasedcare.errors import ConcurrencyConflict, StoreError
from phasedcare.ledger.keys import WrappedKey
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.service.ports import (
    Append,
    CaseFilter,
    CaseProjection,
    DeadlineFilter,
    DeadlineRow,
    EventStore,
    IdempotencyRecord,
    OutboxMessage,
)
from phasedcare.store import SqlEventStore, upgrade_database
from phasedcare.store import sql as sql_module
from phasedcare.store.migrate import alembic_config
from phasedcare.store.tables import SCHEMA_REVISION, metadata

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROUNDS = 20  # racing rounds per process test

MakeStore = Callable[[], EventStore]


def record(case_id: str, sequence: int) -> StoredEvent:
    """A synthetic record: clear header, opaque random payload and leaf hash."""
    header = RecordHeader(
        case_id=case_id,
        sequence=sequence,
        event_type="MemberRecorded",
        schema_version=1,
        recorded_at=T0 + timedelta(minutes=sequence, microseconds=sequence),
        key_id="1",
    )
    return StoredEvent(header=header, payload=b"sealed:" + os.urandom(24), leaf_hash=os.urandom(32))


def projection(case_id: str, sequence: int, **changes: object) -> CaseProjection:
    """A projection row for a case at ``sequence``; ``changes`` override single fields."""
    values: dict[str, object] = {
        "case_id": case_id,
        "region": "ijsselland",
        "opened_via": "melding",
        "acute": False,
        "phase": "aanmelding",
        "vt_stage": "melding",
        "regie_organisation": "vt-ijsselland",
        "casusregisseur": "u-vt-01",
        "opened_at": T0,
        "updated_at": T0 + timedelta(minutes=sequence),
        "sequence": sequence,
        "next_deadline": date(2026, 3, 9),
        "next_deadline_kind": "veiligheidsbeoordeling",
    }
    values.update(changes)
    return CaseProjection(**values)  # type: ignore[arg-type]  # the fields come from a dict


def append(
    store: EventStore, case_id: str, expected: int, count: int = 1, **changes: object
) -> list[StoredEvent]:
    """Append ``count`` records after ``expected`` with a matching projection; return them."""
    records = [record(case_id, expected + n) for n in range(1, count + 1)]
    store.append(
        case_id=case_id,
        expected_sequence=expected,
        records=records,
        projection=projection(case_id, expected + count, **changes),
    )
    return records


def batch_append(case_id: str, expected: int, count: int = 1, **changes: Any) -> Append:
    """An Append of ``count`` records after ``expected``, with a matching projection."""
    records = [record(case_id, expected + n) for n in range(1, count + 1)]
    return Append(case_id, expected, records, projection(case_id, expected + count, **changes))


def message(case_id: str, number: int) -> OutboxMessage:
    """A synthetic outbox message about a case (ids only)."""
    return OutboxMessage(
        message_id=f"msg_{case_id}_{number}",
        case_id=case_id,
        event_type="nl.phasedcare.handover.proposed",
        created_at=T0,
        recipients=("wijkteam-zwolle",),
        body=b'{"data": {}}',
    )


def sequences(store: EventStore, case_id: str) -> list[int]:
    """The sequence numbers the store holds for a case, in load order."""
    return [r.header.sequence for r in store.load(case_id)]


def outcome_of(action: Callable[[], list[StoredEvent]]) -> str:
    """'ok <payload hex>' for a success, 'conflict', or 'error: ...' for anything else."""
    try:
        written = action()
    except ConcurrencyConflict:
        return "conflict"
    except Exception as exc:  # the race reports every other failure as a value
        return f"error: {type(exc).__name__}: {exc} {getattr(exc, 'detail', '')}".strip()
    return "ok " + written[0].payload.hex()


def race_threads(actions: list[Callable[[], list[StoredEvent]]]) -> list[str]:
    """Run the actions in threads released together by a barrier; their outcomes, sorted."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = []

    def run(action: Callable[[], list[StoredEvent]]) -> None:
        barrier.wait(timeout=30)
        outcomes.append(outcome_of(action))

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def race_rounds(url: str, case_id: str, rounds: int, barrier: Any, results: Any) -> None:
    """In a spawned process: append at sequence ``r`` in round ``r``, in step with the others."""
    store = SqlEventStore(url)
    outcomes = []
    for expected in range(1, rounds + 1):
        barrier.wait(timeout=60)
        outcomes.append(outcome_of(lambda n=expected: append(store, case_id, n)))
    store.close()
    results.put(outcomes)


def race_processes(url: str, case_id: str, rounds: int, processes: int = 2) -> list[list[str]]:
    """Spawn writers on one database; for each round, every process's outcome, sorted."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=race_rounds, args=(url, case_id, rounds, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    per_process = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        worker.close()
    results.close()
    results.join_thread()
    return [sorted(outcomes[r] for outcomes in per_process) for r in range(rounds)]


def winners(rounds: list[list[str]]) -> list[str]:
    """The payload hex of each round's successful append."""
    return [outcome.removeprefix("ok ") for r in rounds for outcome in r if outcome[:3] == "ok "]


def kinds(outcomes: list[str]) -> list[str]:
    """Outcomes without their payloads: 'ok', 'conflict' or the error text."""
    return sorted(
        outcome.split(" ", 1)[0] if outcome[:3] == "ok " else outcome for outcome in outcomes
    )


class EventStoreContract:
    """What every EventStore does; subclasses define the ``make_store`` fixture."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        """Opens a store on this test's fresh, empty backend (each backend overrides it)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[EventStore]:
        """A fresh, empty store, closed afterwards."""
        store = make_store()
        yield store
        store.close()

    def test_records_come_back_byte_for_byte_with_aware_times(self, store: EventStore) -> None:
        """Payloads, leaf hashes and headers survive a round trip; times stay aware UTC."""
        written = append(store, "c-a", 0, count=3)
        loaded = store.load("c-a")
        assert [(r.header, r.payload, r.leaf_hash) for r in written] == [
            (r.header, r.payload, r.leaf_hash) for r in loaded
        ]
        assert all(r.header.recorded_at.utcoffset() == timedelta(0) for r in loaded)

    def test_load_up_to_stops_at_that_sequence(self, store: EventStore) -> None:
        """``load(up_to=n)`` returns sequences 1..n; an unknown case loads as empty."""
        append(store, "c-a", 0, count=4)
        assert sequences(store, "c-a") == [1, 2, 3, 4]
        assert [r.header.sequence for r in store.load("c-a", up_to=2)] == [1, 2]
        assert store.load("c-a", up_to=0) == []
        assert store.load("c-unknown") == []

    def test_a_stale_expected_sequence_is_a_conflict_that_writes_nothing(
        self, store: EventStore
    ) -> None:
        """Appending at an old sequence raises ConcurrencyConflict; records and projection stay."""
        before = append(store, "c-a", 0, count=2)
        with pytest.raises(ConcurrencyConflict) as caught:
            append(store, "c-a", 1, phase="herstel")
        assert (caught.value.case_id, caught.value.expected, caught.value.actual) == ("c-a", 1, 2)
        assert [r.payload for r in before] == [r.payload for r in store.load("c-a")]
        assert store.projection("c-a") == projection("c-a", 2)

    def test_a_case_that_does_not_exist_yet_conflicts_at_any_later_sequence(
        self, store: EventStore
    ) -> None:
        """Expecting sequence 3 of an empty case is a conflict (actual 0) and creates nothing."""
        with pytest.raises(ConcurrencyConflict) as caught:
            append(store, "c-new", 3)
        assert (caught.value.expected, caught.value.actual) == (3, 0)
        assert store.load("c-new") == []
        assert store.projection("c-new") is None
        assert store.case_ids() == []

    def test_gaps_and_foreign_records_are_a_programming_error(self, store: EventStore) -> None:
        """Records not numbered expected+1.. contiguously, or of another case, raise ValueError."""
        append(store, "c-a", 0)
        for wrong in ([record("c-a", 3)], [record("c-a", 2), record("c-a", 4)], [record("c-b", 2)]):
            with pytest.raises(ValueError, match="does not follow"):
                store.append(
                    case_id="c-a",
                    expected_sequence=1,
                    records=wrong,
                    projection=projection("c-a", 9),
                )
        assert sequences(store, "c-a") == [1]
        assert store.projection("c-a") == projection("c-a", 1)
        assert store.case_ids() == ["c-a"]

    def test_an_empty_append_checks_the_sequence_and_adds_no_records(
        self, store: EventStore
    ) -> None:
        """No records: a stale sequence still conflicts; a current one writes only the row."""
        append(store, "c-a", 0)
        with pytest.raises(ConcurrencyConflict):
            store.append(case_id="c-a", expected_sequence=0, records=[], projection=None)
        store.append(
            case_id="c-a", expected_sequence=1, records=[], projection=projection("c-a", 1)
        )
        assert sequences(store, "c-a") == [1]

    def test_positions_rise_across_cases_and_read_all_follows_them(self, store: EventStore) -> None:
        """Every record gets a global position; read_all walks them in order, in batches."""
        append(store, "c-a", 0, count=2)
        append(store, "c-b", 0, count=3)
        append(store, "c-a", 2, count=1)
        everything = list(store.read_all(batch_size=2))
        positions = [int(r.position or 0) for r in everything]
        assert all(a < b for a, b in pairwise(positions))
        assert [(r.header.case_id, r.header.sequence) for r in everything] == [
            ("c-a", 1),
            ("c-a", 2),
            ("c-b", 1),
            ("c-b", 2),
            ("c-b", 3),
            ("c-a", 3),
        ]
        after = list(store.read_all(after_position=positions[2], batch_size=3))
        assert [r.position for r in after] == positions[3:]
        assert list(store.read_all(after_position=positions[-1])) == []
        assert [r.position for r in store.load("c-a")] == [positions[0], positions[1], positions[5]]

    def test_streams_without_a_projection_are_kept_but_are_not_cases(
        self, store: EventStore
    ) -> None:
        """An access-log stream (``~``) has records and a head, no projection, no case id."""
        written = [record("c-a~access", 1)]
        store.append(case_id="c-a~access", expected_sequence=0, records=written, projection=None)
        assert store.head("c-a~access") == (1, written[0].leaf_hash)
        assert store.head("c-a") is None
        assert store.projection("c-a~access") is None
        assert store.case_ids() == []

    def test_projections_filter_by_organisation_phase_region_deadline_and_limit(
        self, store: EventStore
    ) -> None:
        """The caseload queries answer from the projection rows, ordered by case id."""
        append(store, "c-c", 0, region="twente", next_deadline=None, next_deadline_kind=None)
        append(store, "c-a", 0)
        append(
            store,
            "c-b",
            0,
            regie_organisation="wijkteam-zwolle",
            phase="herstel",
            next_deadline=date(2026, 4, 1),
        )

        def ids(case_filter: CaseFilter) -> list[str]:
            return [p.case_id for p in store.projections(case_filter)]

        assert ids(CaseFilter()) == ["c-a", "c-b", "c-c"]
        assert ids(CaseFilter(organisation="wijkteam-zwolle")) == ["c-b"]
        assert ids(CaseFilter(phase="aanmelding")) == ["c-a", "c-c"]
        assert ids(CaseFilter(region="twente")) == ["c-c"]
        assert ids(CaseFilter(deadline_before=date(2026, 3, 10))) == ["c-a"]
        assert ids(CaseFilter(deadline_before=date(2026, 3, 9))) == []
        assert ids(CaseFilter(phase="aanmelding", region="ijsselland")) == ["c-a"]
        assert ids(CaseFilter(limit=2)) == ["c-a", "c-b"]
        assert store.projection("c-c") == projection(
            "c-c", 1, region="twente", next_deadline=None, next_deadline_kind=None
        )

    def test_an_append_upserts_the_projection_row(self, store: EventStore) -> None:
        """A second append replaces the case's row; one without a projection leaves it."""
        append(store, "c-a", 0)
        append(store, "c-a", 1, phase="herstel", acute=True)
        assert store.projection("c-a") == projection("c-a", 2, phase="herstel", acute=True)
        store.append(
            case_id="c-a", expected_sequence=2, records=[record("c-a", 3)], projection=None
        )
        assert store.projection("c-a") == projection("c-a", 2, phase="herstel", acute=True)

    def test_replace_projections_swaps_every_row_at_once(self, store: EventStore) -> None:
        """A rebuild replaces the whole table and reports how many rows it wrote."""
        append(store, "c-a", 0)
        append(store, "c-b", 0)
        rebuilt = [projection("c-b", 1, phase="herstel"), projection("c-z", 4)]
        assert store.replace_projections(rebuilt) == 2
        assert store.projections(CaseFilter()) == rebuilt
        assert store.replace_projections([]) == 0
        assert store.projections(CaseFilter()) == []

    def test_a_rebuild_records_its_policy_and_a_second_one_for_it_is_skipped(
        self, store: EventStore
    ) -> None:
        """The policy a rebuild was made under is kept with the rows (in their transaction); a
        rebuild ``unless_current`` under that policy again changes nothing (another process got
        there first), one under another policy replaces them; zicht_until comes back a date."""
        assert store.projections_policy() is None
        first = [projection("c-a", 1, zicht_until=date(2026, 3, 25))]
        assert store.replace_projections(first, policy="2026.1:aaaa") == 1
        assert store.projections_policy() == "2026.1:aaaa"
        again = [projection("c-a", 9)]
        assert store.replace_projections(again, policy="2026.1:aaaa", unless_current=True) is None
        assert store.projections(CaseFilter()) == first
        assert store.replace_projections(again, policy="2026.2:bbbb", unless_current=True) == 1
        assert (store.projections(CaseFilter()), store.projections_policy()) == (
            again,
            "2026.2:bbbb",
        )
        assert store.replace_projections(first) == 1  # a plain rebuild keeps the record
        assert store.projections_policy() == "2026.2:bbbb"

    def test_index_tokens_point_at_their_cases_once(self, store: EventStore) -> None:
        """Blind-index tokens are stored with the append, without duplicates, sorted by case."""
        token, other = os.urandom(32), os.urandom(32)
        for case_id in ("c-b", "c-a"):
            store.append(
                case_id=case_id,
                expected_sequence=0,
                records=[record(case_id, 1)],
                projection=projection(case_id, 1),
                index=[token, token],
            )
        store.append(
            case_id="c-a",
            expected_sequence=1,
            records=[record("c-a", 2)],
            projection=None,
            index=[token, other],
        )
        assert store.find_by_token(token) == ["c-a", "c-b"]
        assert store.find_by_token(other) == ["c-a"]
        assert store.find_by_token(os.urandom(32)) == []

    def test_keys_of_many_cases_are_stored_together_the_first_key_winning(
        self, store: EventStore
    ) -> None:
        """A batch of new cases' keys in one call; a case that had a key keeps its own."""
        kept = WrappedKey(case_id="c-b", version=1, kek_id="k1", wrapped=os.urandom(60))
        store.add_case_keys([kept])
        batch = [
            WrappedKey(case_id=case_id, version=1, kek_id="k2", wrapped=os.urandom(60))
            for case_id in ("c-a", "c-b", "c-c")
        ]
        assert store.add_case_keys(batch) == [batch[0], kept, batch[2]]
        assert store.add_case_keys([]) == []
        assert [k.case_id for k in store.case_keys()] == ["c-a", "c-b", "c-c"]

    def test_an_idempotency_record_is_written_with_the_records_or_not_at_all(
        self, store: EventStore
    ) -> None:
        """The result of a request goes in the command's transaction; its key taken, the
        second append conflicts and writes nothing (a retry then reads the first result)."""
        remembered = IdempotencyRecord(
            key="k-1",
            actor="u-vt-01@vt-ijsselland:professional",
            method="POST",
            path="/cases/c-a/record-member",
            request_hash="h",
            status=200,
            response_body=b'{"case_id": "c-a", "sequence": 1}',
            created_at=T0,
        )
        store.append(
            case_id="c-a",
            expected_sequence=0,
            records=[record("c-a", 1)],
            projection=projection("c-a", 1),
            idempotency=remembered,
        )
        assert store.idempotency_get(remembered.actor, "k-1") == remembered
        with pytest.raises(ConcurrencyConflict):
            store.append(
                case_id="c-b",
                expected_sequence=0,
                records=[record("c-b", 1)],
                projection=projection("c-b", 1),
                idempotency=remembered,
            )
        assert (sequences(store, "c-b"), store.projection("c-b")) == ([], None)
        with pytest.raises(ConcurrencyConflict):
            store.append_batch(
                [
                    batch_append("c-c", 0),
                    Append(
                        "c-d", 0, [record("c-d", 1)], projection("c-d", 1), idempotency=remembered
                    ),
                ]
            )
        assert (sequences(store, "c-c"), sequences(store, "c-d")) == ([], [])

    def test_a_case_key_is_stored_once_rewrapped_and_destroyed(self, store: EventStore) -> None:
        """The first wrapped key stays; rewrapping replaces it; destroying drops key and row."""
        first = WrappedKey(case_id="c-a", version=1, kek_id="k1", wrapped=os.urandom(60))
        second = WrappedKey(case_id="c-a", version=1, kek_id="k2", wrapped=os.urandom(60))
        append(store, "c-a", 0)
        assert store.case_key("c-a") is None
        assert store.add_case_keys([first]) == [first]
        assert store.add_case_keys([second]) == [first]
        store.rewrap_case_key(second)
        assert store.case_keys() == [second]
        assert store.destroy_case_key("c-a") is True
        assert (store.case_key("c-a"), store.projection("c-a")) == (None, None)
        assert store.destroy_case_key("c-a") is False
        assert sequences(store, "c-a") == [1]

    def test_integration_numbers_the_tree_in_position_order_and_checkpoints_keep_the_first(
        self, store: EventStore
    ) -> None:
        """integrate() gives gapless tree indexes; a repeated checkpoint size is ignored."""
        first = append(store, "c-a", 0, count=2)
        assert store.integrate() == 2
        second = append(store, "c-b", 0)
        assert store.integrate() == 3
        assert store.integrate() == 3
        assert store.tree_leaves() == [r.leaf_hash for r in [*first, *second]]
        assert [r.tree_index for r in store.read_all()] == [0, 1, 2]
        store.add_checkpoint(size=3, note="note three")
        store.add_checkpoint(size=3, note="another note three")
        store.add_checkpoint(size=2, note="note two")
        assert store.checkpoints() == ["note two", "note three"]

    @pytest.mark.parametrize("writers", ["one shared store", "a store each"])
    def test_two_threads_racing_on_one_case_never_fork(
        self, store: EventStore, make_store: MakeStore, writers: str
    ) -> None:
        """Two threads at the same sequence: one wins, one conflicts; the case holds the winner's."""
        second = store if writers == "one shared store" else make_store()
        append(store, "c-a", 0)
        rounds = []
        try:
            for expected in range(1, 11):
                pair = [partial(append, s, "c-a", expected) for s in (store, second)]
                rounds.append(race_threads(pair))
        finally:
            if second is not store:
                second.close()
        assert [kinds(r) for r in rounds] == [["conflict", "ok"]] * 10
        loaded = store.load("c-a")
        assert [r.header.sequence for r in loaded] == list(range(1, 12))
        assert [r.payload.hex() for r in loaded[1:]] == winners(rounds)

    def test_a_batch_appends_to_many_cases_in_one_go(self, store: EventStore) -> None:
        """append_batch writes each case's records, projection, read-model rows, tokens and
        messages, as append would; positions rise in the batch's order."""
        append(store, "c-b", 0)
        token = os.urandom(32)
        due = DeadlineRow(date(2026, 3, 9), "c-a", "veiligheidsbeoordeling", "vb1", "vt-x", False)
        first = batch_append("c-a", 0, count=2, deadlines=(due,))
        first = Append(
            first.case_id, 0, first.records, first.projection, [token], [message("c-a", 1)]
        )
        second = batch_append("c-b", 1, phase="herstel")
        store.append_batch([first, second])
        assert (sequences(store, "c-a"), sequences(store, "c-b")) == ([1, 2], [1, 2])
        assert store.projection("c-a") == first.projection
        assert store.projection("c-b") == projection("c-b", 2, phase="herstel")
        assert store.deadline_rows(DeadlineFilter()) == [due]
        assert store.find_by_token(token) == ["c-a"]
        assert [m.message_id for m in store.messages(case_id="c-a")] == ["msg_c-a_1"]
        written = [(r.header.case_id, r.header.sequence) for r in store.read_all()]
        assert written == [("c-b", 1), ("c-a", 1), ("c-a", 2), ("c-b", 2)]

    def test_a_conflict_anywhere_in_a_batch_writes_nothing(self, store: EventStore) -> None:
        """One case off its expected sequence refuses the whole batch: no case is written."""
        append(store, "c-b", 0, count=2)
        fresh = batch_append("c-a", 0)
        fresh = Append(
            "c-a", 0, fresh.records, fresh.projection, [os.urandom(32)], [message("c-a", 1)]
        )
        with pytest.raises(ConcurrencyConflict) as caught:
            store.append_batch([fresh, batch_append("c-b", 1, phase="herstel")])
        assert (caught.value.case_id, caught.value.expected, caught.value.actual) == ("c-b", 1, 2)
        assert (store.load("c-a"), store.projection("c-a")) == ([], None)
        assert store.messages(case_id="c-a") == []
        assert store.find_by_token(fresh.index[0]) == []
        assert store.projection("c-b") == projection("c-b", 2)
        assert store.case_ids() == ["c-b"]

    def test_a_batch_naming_a_case_twice_or_misnumbered_is_a_programming_error(
        self, store: EventStore
    ) -> None:
        """A case twice in one batch, or records not following its sequence: ValueError, nothing
        written; an empty batch writes nothing at all."""
        twice = [batch_append("c-a", 0), batch_append("c-a", 1)]
        misnumbered = [batch_append("c-b", 0), Append("c-a", 0, [record("c-a", 2)], None)]
        for wrong, says in ((twice, "appears twice"), (misnumbered, "does not follow")):
            with pytest.raises(ValueError, match=says):
                store.append_batch(wrong)
        store.append_batch([])
        assert store.case_ids() == []
        assert list(store.read_all()) == []

    def test_batches_racing_over_the_same_cases_in_opposite_orders_never_deadlock(
        self, store: EventStore, make_store: MakeStore
    ) -> None:
        """Two writers append batches over the same 12 new cases, listed in opposite orders:
        every round one wins whole and one conflicts (cases are locked in sorted order)."""
        second = make_store()
        rounds = []
        try:
            for round_number in range(5):
                ids = [f"c-{round_number}-{n:02d}" for n in range(12)]

                def batch(writer: EventStore, order: list[str]) -> list[StoredEvent]:
                    appends = [batch_append(case_id, 0) for case_id in order]
                    writer.append_batch(appends)
                    return list(appends[0].records)

                pair = [partial(batch, store, ids), partial(batch, second, ids[::-1])]
                rounds.append(race_threads(pair))
                assert all(sequences(store, case_id) == [1] for case_id in ids)
        finally:
            second.close()
        assert [kinds(r) for r in rounds] == [["conflict", "ok"]] * 5


class SqlEventStoreContract(EventStoreContract):
    """What only a database shows; subclasses provide ``database_url`` and ``blank_url``."""

    @pytest.fixture
    def database_url(self) -> str:
        """The URL of a fresh, migrated, empty database (each backend overrides it)."""
        raise NotImplementedError

    @pytest.fixture
    def blank_url(self) -> str:
        """The URL of a reachable database without the schema (each backend overrides it)."""
        raise NotImplementedError

    @pytest.fixture
    def make_store(self, database_url: str) -> MakeStore:
        """Opens a SqlEventStore on this test's database."""
        return partial(SqlEventStore, database_url)

    def test_two_processes_racing_on_one_case_never_fork(
        self, store: EventStore, database_url: str
    ) -> None:
        """Two processes, 20 rounds at the same sequence: one wins each round, nothing else."""
        append(store, "c-race", 0)
        rounds = race_processes(database_url, "c-race", ROUNDS)
        assert [kinds(r) for r in rounds] == [["conflict", "ok"]] * ROUNDS
        loaded = store.load("c-race")
        assert [r.header.sequence for r in loaded] == list(range(1, ROUNDS + 2))
        assert [r.payload.hex() for r in loaded[1:]] == winners(rounds)

    def test_a_missed_lock_is_still_a_conflict_through_the_unique_constraint(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the sequence check were wrong, (case, sequence) uniqueness still refuses a fork."""
        append(store, "c-a", 0)
        monkeypatch.setattr(sql_module, "_LAST_SEQUENCE", select(literal(0)))
        with pytest.raises(ConcurrencyConflict) as caught:
            append(store, "c-a", 0, phase="herstel")
        assert (caught.value.expected, caught.value.actual) == (0, None)
        assert sequences(store, "c-a") == [1]
        assert store.projection("c-a") == projection("c-a", 1)

    def test_a_driver_failure_is_a_store_error_without_payload_bytes(
        self, store: EventStore, database_url: str
    ) -> None:
        """A failing statement raises StoreError naming the case; payloads are not in the text."""
        append(store, "c-a", 0)
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text("DROP TABLE case_records"))
        admin.dispose()
        records = [record("c-a", 2)]
        with pytest.raises(StoreError, match="append to case c-a failed") as caught:
            store.append(
                case_id="c-a",
                expected_sequence=1,
                records=records,
                projection=projection("c-a", 2),
            )
        said = f"{caught.value} {caught.value.detail}"
        assert "case_records" in said
        assert records[0].payload.hex() not in said
        assert "sealed:" not in said
        assert sequences(store, "c-a") == [1]

    def test_a_driver_failure_in_a_batch_is_a_store_error_that_writes_nothing(
        self, store: EventStore, database_url: str
    ) -> None:
        """A batch whose statement fails raises StoreError naming its cases; no case is written."""
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text("DROP TABLE case_records"))
        admin.dispose()
        with pytest.raises(StoreError, match="append to 2 cases from c-a failed"):
            store.append_batch([batch_append("c-b", 0), batch_append("c-a", 0)])
        assert (sequences(store, "c-a"), sequences(store, "c-b")) == ([], [])

    def test_the_migration_creates_exactly_the_tables(self, database_url: str) -> None:
        """Alembic's schema and the SQLModel tables agree: autogenerate finds no difference."""
        engine = create_engine(database_url)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        engine.dispose()
        assert differences == []

    def test_the_migrations_upgrade_again_and_downgrade_to_nothing(self, database_url: str) -> None:
        """upgrade_database is idempotent; downgrading to base leaves only alembic_version."""
        upgrade_database(database_url)
        command.downgrade(alembic_config(database_url), "base")
        engine = create_engine(database_url)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == ["alembic_version"]
        engine.dispose()
        with pytest.raises(StoreError, match="not initialised: run phasedcare init"):
            SqlEventStore(database_url)
        upgrade_database(database_url)
        SqlEventStore(database_url).close()

    def test_a_database_without_the_schema_asks_for_init(self, blank_url: str) -> None:
        """Opening a database nobody migrated raises StoreError naming `phasedcare init`."""
        with pytest.raises(StoreError, match="not initialised: run phasedcare init"):
            SqlEventStore(blank_url)

    def test_a_database_at_another_revision_asks_for_init(self, database_url: str) -> None:
        """A schema at an unexpected Alembic revision is refused with both revisions named."""
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        engine.dispose()
        expected = f"revision 0000, this version of phasedcare needs {SCHEMA_REVISION}"
        with pytest.raises(StoreError, match=expected):
            SqlEventStore(database_url)
