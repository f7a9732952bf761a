"""The codec keeps opened events: a case's records are opened once, forgotten on erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.errors import StoreError
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import RecordHeader
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import actor_of

VT: Actor = actor_of("vt-ijsselland")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class CountingMapper(EventMapper):
    """Counts the payloads it maps back to events (each one was opened first)."""

    opened = 0

    def event_from(self, header: RecordHeader, payload: bytes) -> ev.DomainEvent:
        self.opened += 1
        return super().event_from(header, payload)


def checks(case_id: str, count: int) -> list[ev.DomainEvent]:
    return [
        ev.SafetyConditionStatusRecorded(
            case_id=case_id,
            at=AT,
            actor=VT,
            policy_version="2026.1",
            condition_id="c1",
            status="met",
            observed_on=date(2026, 3, 2),
        )
        for _ in range(count)
    ]


def codec(mapper: EventMapper, *, cached_events: int = 100) -> RecordCodec:
    keys = CaseKeys(InMemoryEventStore(), InMemoryKeyProvider())
    return RecordCodec(keys=keys, mapper=mapper, cached_events=cached_events)


def test_records_a_codec_wrote_or_opened_are_not_opened_again() -> None:
    mapper = CountingMapper()
    writer = codec(mapper)
    records = writer.encode(checks("c-1", 3), after_sequence=0)
    assert writer.decode(records) == checks("c-1", 3)
    assert mapper.opened == 0  # the events it sealed itself are known
    reader = RecordCodec(keys=writer._keys, mapper=mapper)  # another process, same keys
    assert reader.decode(records) == reader.decode(records)
    assert mapper.opened == 3


def test_forgetting_a_case_drops_its_opened_events() -> None:
    mapper = CountingMapper()
    store = InMemoryEventStore()
    writer = RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider()), mapper=mapper)
    records = writer.encode(checks("c-1", 2), after_sequence=0)
    store.destroy_case_key("c-1")
    writer.forget("c-1")  # the key is gone with it: the records cannot be opened again
    with pytest.raises(StoreError, match="has no data key"):
        writer.decode(records)
    assert mapper.opened == 0


def test_the_cache_keeps_the_most_recently_used_cases_within_its_bound() -> None:
    mapper = CountingMapper()
    writer = codec(mapper, cached_events=4)
    first = writer.encode(checks("c-1", 2), after_sequence=0)
    second = writer.encode(checks("c-2", 2), after_sequence=0)
    writer.decode(first)  # c-1 is now the most recently used
    third = writer.encode(checks("c-3", 2), after_sequence=0)  # over the bound: c-2 leaves
    writer.decode(first + third)
    assert mapper.opened == 0
    writer.decode(second)
    assert mapper.opened == 2
