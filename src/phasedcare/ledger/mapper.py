"""The mapper between domain events and stored records.

It turns an event into a clear header and an opaque payload, and back. Old payload versions
are upcast on read, never rewritten. The ledger's sealing wraps this mapper, so the domain
and the store never see how payloads are protected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from phasedcare.domain.events import EVENT_TYPES, DomainEvent
from phasedcare.errors import StoreError
from phasedcare.ledger.records import RecordHeader, StoredEvent

__all__ = ["EventMapper", "Upcaster"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the payload of (type, version) into the payload of version + 1."""


class EventMapper:
    """Serialise events to records and back, upcasting old versions on read."""

    def __init__(
        self,
        *,
        event_types: Mapping[str, type[DomainEvent]] = EVENT_TYPES,
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._types = dict(event_types)
        self._upcasters = dict(upcasters or {})

    def to_stored(self, event: DomainEvent, *, sequence: int) -> StoredEvent:
        """The record for ``event`` at ``sequence`` within its case."""
        header = RecordHeader(
            case_id=event.case_id,
            sequence=sequence,
            event_type=type(event).__name__,
            schema_version=type(event).schema_version,
            recorded_at=event.at,
        )
        return StoredEvent(header=header, payload=event.model_dump_json().encode())

    def to_event(self, stored: StoredEvent) -> DomainEvent:
        """The event a record holds, upcast to the current version of its type."""
        return self.event_from(stored.header, stored.payload)

    def event_from(self, header: RecordHeader, payload: bytes) -> DomainEvent:
        """The event of a header and its clear payload; current versions parse straight away."""
        event_type = self._types.get(header.event_type)
        if event_type is None:
            msg = f"record {header.case_id}#{header.sequence} has unknown type {header.event_type}"
            raise StoreError(msg)
        if header.schema_version == event_type.schema_version:
            return event_type.model_validate_json(payload)
        return event_type.model_validate(self._upcast(header, json.loads(payload)))

    def _upcast(self, header: RecordHeader, data: dict[str, Any]) -> dict[str, Any]:
        version = header.schema_version
        current = self._types[header.event_type].schema_version
        while version < current:
            upcaster = self._upcasters.get((header.event_type, version))
            if upcaster is None:
                msg = f"no upcaster for {header.event_type} version {version}"
                raise StoreError(msg)
            data = upcaster(data)
            version += 1
        return data
