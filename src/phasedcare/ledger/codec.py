"""The record codec: events to sealed, chained records and back.

Encoding maps each event to a header and payload (:class:`EventMapper`), seals the payload
with the case's data key bound to the header, and chains the record to the case's previous
leaf. Decoding opens and maps back. With no keys the payload stays clear (used only to
measure what sealing costs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from phasedcare.domain.events import DomainEvent
from phasedcare.errors import StoreError
from phasedcare.ledger.chain import GENESIS, canonical_header, leaf_hash
from phasedcare.ledger.keys import CaseKeys
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import StoredEvent
from phasedcare.ledger.sealing import SealBroken, open_sealed, seal

__all__ = ["RecordCodec"]


class RecordCodec:
    """Seal, chain and map events; open and map records back."""

    def __init__(self, *, keys: CaseKeys | None, mapper: EventMapper | None = None) -> None:
        self._keys = keys
        self._mapper = mapper or EventMapper()

    @property
    def sealing(self) -> bool:
        """Whether payloads are sealed."""
        return self._keys is not None

    def encode(
        self,
        events: Sequence[DomainEvent],
        *,
        after_sequence: int,
        previous: bytes = GENESIS,
        seal_payload: bool = True,
    ) -> list[StoredEvent]:
        """Records for ``events``, numbered after ``after_sequence``, chained to ``previous``.

        ``seal_payload=False`` only for records that must stay readable without the case's
        key and hold no personal data (a CaseErased tombstone).
        """
        records = []
        for offset, event in enumerate(events, start=1):
            plain = self._mapper.to_stored(event, sequence=after_sequence + offset)
            header, payload = plain.header, plain.payload
            if self._keys is not None and seal_payload:
                key_id, key = self._keys.key(header.case_id, create=True)
                header = replace(header, key_id=key_id)
                payload = seal(key, payload, canonical_header(header))
            previous = leaf_hash(header, payload, previous)
            records.append(StoredEvent(header=header, payload=payload, leaf_hash=previous))
        return records

    def forget(self, case_id: str) -> None:
        """Drop a destroyed case key from the cache."""
        if self._keys is not None:
            self._keys.forget(case_id)

    def decode(self, records: Sequence[StoredEvent]) -> list[DomainEvent]:
        """The events the records hold, opened with their case's key."""
        return [self._mapper.event_from(r.header, self._open(r)) for r in records]

    def _open(self, record: StoredEvent) -> bytes:
        """The record's clear payload."""
        header = record.header
        if not header.key_id:
            return record.payload
        if self._keys is None:
            msg = f"record {header.case_id}#{header.sequence} is sealed; no key provider is set"
            raise StoreError(msg)
        _, key = self._keys.key(header.case_id)
        try:
            return open_sealed(key, record.payload, canonical_header(header))
        except SealBroken:
            msg = f"record {header.case_id}#{header.sequence} does not open: altered or moved"
            raise StoreError(msg) from None
