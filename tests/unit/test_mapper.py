"""The mapper: events to opaque records and back, with upcasting of old versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import StoreError
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import RecordHeader, StoredEvent

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = Actor(user="u-vt-01", organisation="vt-ijsselland", role=Role.professional)
ENVELOPE: dict[str, Any] = {"case_id": "c-1", "at": AT, "actor": ACTOR, "policy_version": "2026.1"}


def test_a_record_header_holds_no_personal_data() -> None:
    """The header names case, sequence, type, version and time; the name is only in the payload."""
    event = ev.MemberRecorded(
        **ENVELOPE,
        member_id="m1",
        role="kind",
        name="Cato Voorbeeld",
        date_of_birth=date(2018, 1, 2),
    )
    stored = EventMapper().to_stored(event, sequence=7)
    assert stored.header == RecordHeader(
        case_id="c-1", sequence=7, event_type="MemberRecorded", schema_version=1, recorded_at=AT
    )
    assert "Cato" not in repr(stored.header)
    assert b"Cato Voorbeeld" in stored.payload


def test_every_event_type_round_trips() -> None:
    """Each event type comes back equal from its record."""
    mapper = EventMapper()
    samples = [
        ev.CaseOpened(
            **ENVELOPE,
            region="ijsselland",
            via="melding",
            melder_kind="politie",
            regie_organisation="vt-ijsselland",
            casusregisseur="u-vt-01",
        ),
        ev.PhaseTransitioned(
            **ENVELOPE,
            event="terugval",
            source="herstel",
            target="directe_veiligheid",
            reason="incident",
        ),
        ev.SafetyConditionStatusRecorded(
            **ENVELOPE, condition_id="c1", status="breached", observed_on=date(2026, 3, 1)
        ),
        ev.HandoverProposed(
            **ENVELOPE,
            handover_id="h1",
            from_organisation="vt-ijsselland",
            to_organisation="wijkteam-zwolle",
            respond_by=date(2026, 3, 9),
        ),
    ]
    for sample in samples:
        assert mapper.to_event(mapper.to_stored(sample, sequence=1)) == sample


class IncidentRecordedV2(ev.DomainEvent):
    """A made-up second version of IncidentRecorded, with a severity field."""

    schema_version: ClassVar[int] = 2
    occurred_on: date
    description: str = ""
    severity: str


def test_old_versions_are_upcast_on_read() -> None:
    """A version-1 payload is upcast to version 2 when read, never rewritten."""
    old = ev.IncidentRecorded(**ENVELOPE, occurred_on=date(2026, 2, 1))
    stored = EventMapper().to_stored(old, sequence=3)
    newer = EventMapper(
        event_types={"IncidentRecorded": IncidentRecordedV2},
        upcasters={("IncidentRecorded", 1): lambda data: {**data, "severity": "unknown"}},
    )
    read = newer.to_event(stored)
    assert isinstance(read, IncidentRecordedV2)
    assert (read.severity, read.occurred_on) == ("unknown", date(2026, 2, 1))


def test_a_missing_upcaster_or_type_is_a_store_error() -> None:
    """Records the code cannot read fail loudly, naming the record."""
    stored = EventMapper().to_stored(
        ev.IncidentRecorded(**ENVELOPE, occurred_on=date(2026, 2, 1)), sequence=3
    )
    with pytest.raises(StoreError, match="no upcaster for IncidentRecorded version 1"):
        EventMapper(event_types={"IncidentRecorded": IncidentRecordedV2}).to_event(stored)
    unknown = StoredEvent(header=RecordHeader("c-1", 4, "Gone", 1, AT), payload=b"{}")
    with pytest.raises(StoreError, match="record c-1#4 has unknown type Gone"):
        EventMapper().to_event(unknown)
