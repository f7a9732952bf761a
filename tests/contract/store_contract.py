"""One contract suite for every EventStore: subclass it and provide ``make_store``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from phasedcare.errors import ConcurrencyConflict
from phasedcare.ledger.keys import WrappedKey
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.service.ports import CaseFilter, CaseProjection, EventStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(case_id: str, sequence: int, *, payload: bytes | None = None) -> StoredEvent:
    """A synthetic record with opaque payload bytes."""
    header = RecordHeader(
        case_id=case_id,
        sequence=sequence,
        event_type="MemberRecorded",
        schema_version=1,
        recorded_at=T0 + timedelta(minutes=sequence),
        key_id="1",
    )
    body = payload or b"sealed:" + os.urandom(24)
    return StoredEvent(header=header, payload=body, leaf_hash=os.urandom(32))


def projection(case_id: str, sequence: int, **changes: object) -> CaseProjection:
    """A projection row for a case at ``sequence``."""
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
    return CaseProjection(**values)  # type: ignore[arg-type]


def append(
    store: EventStore, case_id: str, expected: int, count: int = 1, **changes: object
) -> list[StoredEvent]:
    """Append ``count`` records after ``expected`` with a matching projection."""
    records = [record(case_id, expected + n) for n in range(1, count + 1)]
    store.append(
        case_id=case_id,
        expected_sequence=expected,
        records=records,
        projection=projection(case_id, expected + count, **changes),
    )
    return records


class EventStoreContract:
    """What every EventStore does; subclasses define the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Iterator[EventStore]:
        """A fresh, empty store (overridden per backend)."""
        raise NotImplementedError

    def test_records_come_back_byte_for_byte(self, store: EventStore) -> None:
        """Payloads, headers and aware datetimes survive a round trip."""
        written = append(store, "c-a", 0, count=3)
        loaded = store.load("c-a")
        assert [(r.header, r.payload, r.leaf_hash) for r in loaded] == [
            (r.header, r.payload, r.leaf_hash) for r in written
        ]
        assert all(r.header.recorded_at.tzinfo is not None for r in loaded)

    def test_load_up_to_a_sequence(self, store: EventStore) -> None:
        """``up_to`` stops at that sequence."""
        append(store, "c-a", 0, count=4)
        assert [r.header.sequence for r in store.load("c-a", up_to=2)] == [1, 2]
        assert store.load("c-unknown") == []

    def test_a_stale_expected_sequence_is_a_conflict_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        """Appending at an old sequence raises ConcurrencyConflict; records and projection stay."""
        append(store, "c-a", 0, count=2)
        with pytest.raises(ConcurrencyConflict) as caught:
            append(store, "c-a", 1, phase="herstel")
        assert (caught.value.expected, caught.value.actual) in {(1, 2), (1, None)}
        assert [r.header.sequence for r in store.load("c-a")] == [1, 2]
        live = store.projection("c-a")
        assert live is not None
        assert (live.phase, live.sequence) == ("aanmelding", 2)

    def test_records_out_of_order_are_a_programming_error(self, store: EventStore) -> None:
        """Gaps or another case's records are refused before anything is written."""
        with pytest.raises(ValueError, match="does not follow"):
            store.append(
                case_id="c-a",
                expected_sequence=0,
                records=[record("c-a", 2)],
                projection=projection("c-a", 2),
            )
        with pytest.raises(ValueError, match="does not follow"):
            store.append(
                case_id="c-a",
                expected_sequence=0,
                records=[record("c-b", 1)],
                projection=projection("c-a", 1),
            )
        assert store.case_ids() == []

    def test_positions_rise_across_cases_and_read_all_follows_them(self, store: EventStore) -> None:
        """Every record gets a global position; read_all walks them in order, in batches."""
        append(store, "c-a", 0, count=2)
        append(store, "c-b", 0, count=3)
        append(store, "c-a", 2, count=1)
        everything = list(store.read_all(batch_size=2))
        positions = [r.position for r in everything]
        assert positions == sorted(positions)
        assert len(set(positions)) == 6
        assert [(r.header.case_id, r.header.sequence) for r in everything] == [
            ("c-a", 1),
            ("c-a", 2),
            ("c-b", 1),
            ("c-b", 2),
            ("c-b", 3),
            ("c-a", 3),
        ]
        assert len(list(store.read_all(after_position=int(positions[2] or 0)))) == 3
        assert store.case_ids() == ["c-a", "c-b"]

    def test_projections_filter_by_organisation_phase_region_and_deadline(
        self, store: EventStore
    ) -> None:
        """The caseload queries answer from the projection rows."""
        append(store, "c-a", 0)
        append(
            store,
            "c-b",
            0,
            regie_organisation="wijkteam-zwolle",
            phase="herstel",
            next_deadline=date(2026, 4, 1),
        )
        append(
            store,
            "c-c",
            0,
            regie_organisation="wijkteam-zwolle",
            next_deadline=None,
            next_deadline_kind=None,
        )
        ids = lambda f: [p.case_id for p in store.projections(f)]  # noqa: E731 - a local shorthand
        assert ids(CaseFilter(organisation="wijkteam-zwolle")) == ["c-b", "c-c"]
        assert ids(CaseFilter(phase="herstel")) == ["c-b"]
        assert ids(CaseFilter(region="elders")) == []
        assert ids(CaseFilter(deadline_before=date(2026, 3, 10))) == ["c-a"]
        assert ids(CaseFilter(limit=2)) == ["c-a", "c-b"]
        assert store.projection("c-c") == projection(
            "c-c",
            1,
            regie_organisation="wijkteam-zwolle",
            next_deadline=None,
            next_deadline_kind=None,
        )

    def test_replace_projections_swaps_the_whole_table(self, store: EventStore) -> None:
        """A rebuild replaces every row in one go."""
        append(store, "c-a", 0)
        append(store, "c-b", 0)
        assert store.replace_projections([projection("c-b", 1, phase="herstel")]) == 1
        assert store.projection("c-a") is None
        rebuilt = store.projection("c-b")
        assert rebuilt is not None
        assert rebuilt.phase == "herstel"

    def test_a_case_key_is_stored_once(self, store: EventStore) -> None:
        """The first wrapped key of a case stays; a second one returns the first."""
        first = WrappedKey(case_id="c-a", version=1, kek_id="k1", wrapped=os.urandom(60))
        second = WrappedKey(case_id="c-a", version=1, kek_id="k2", wrapped=os.urandom(60))
        assert store.case_key("c-a") is None
        assert store.add_case_key(first) == first
        assert store.add_case_key(second) == first
        assert store.case_key("c-a") == first

    def test_two_threads_racing_on_one_case_never_fork(self, store: EventStore) -> None:
        """Two writers at the same sequence: one wins, one gets a conflict, the case stays linear."""
        append(store, "c-a", 0)
        for round_number in range(1, 11):
            outcomes = race(lambda n=round_number: append(store, "c-a", n), 2)
            assert sorted(outcomes) == ["conflict", "ok"]
        sequences = [r.header.sequence for r in store.load("c-a")]
        assert sequences == list(range(1, 12))


def race(action: Callable[[], object], writers: int) -> list[str]:
    """Run ``action`` in ``writers`` threads released together; 'ok' or 'conflict' each."""
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []

    def run() -> None:
        barrier.wait()
        try:
            action()
            outcomes.append("ok")
        except ConcurrencyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=run) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
