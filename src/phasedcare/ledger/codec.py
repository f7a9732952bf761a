"""The record codec: events to sealed, chained records and back.

Encoding maps each event to a header and payload (:class:`EventMapper`), seals the payload
with the case's data key bound to the header, and chains the record to the case's previous
leaf. Decoding opens and maps back. With no keys the payload stays clear (used only to
measure what sealing costs).

Opened events are kept in memory by case and leaf hash (a bounded cache, most recently used
cases first): the next command on a case opens only the records it has not seen. A leaf hash
is the SHA-256 of the header, the sealed payload and the chain, so a cached event is exactly
the record's. ``forget`` (crypto-shredding) drops a case's events with its key, in every
codec of the process: an erasure by one engine leaves no copy in another (a read of the
erased case, or :meth:`RecordCodec.drop_destroyed`, catches one made by another process).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace

from phasedcare.domain.events import CaseErased, DomainEvent
from phasedcare.errors import NotAuthentic, StoreError
from phasedcare.ledger.authenticity import (
    SIGNED_TOMBSTONE,
    TOMBSTONE_TYPE,
    header_problem,
    is_legacy_tombstone,
    legacy_tombstone_problem,
    seal_problem,
    sign_tombstone,
    tombstone_body,
)
from phasedcare.ledger.chain import GENESIS, canonical_header, leaf_hash
from phasedcare.ledger.keys import CaseKeys, CheckpointKey
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import StoredEvent
from phasedcare.ledger.sealing import SealBroken, open_sealed, seal

__all__ = ["RecordCodec"]

CACHED_EVENTS = 20_000
"""How many opened events a codec keeps (about 1-2 KB each)."""


def _no_legacy_cover() -> int:
    return 0


class _OpenedEvents:
    """Opened events by case and leaf hash; whole cases leave, least recently used first."""

    def __init__(self, limit: int) -> None:
        self._cases: OrderedDict[str, dict[bytes, DomainEvent]] = OrderedDict()
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, case_id: str, leaf: bytes) -> DomainEvent | None:
        with self._lock:
            events = self._cases.get(case_id)
            if events is None:
                return None
            self._cases.move_to_end(case_id)
            return events.get(leaf)

    def put(self, case_id: str, leaf: bytes, event: DomainEvent) -> None:
        with self._lock:
            events = self._cases.setdefault(case_id, {})
            self._cases.move_to_end(case_id)
            if leaf not in events:
                events[leaf] = event
                self._size += 1
            while self._size > self._limit and len(self._cases) > 1:
                _, dropped = self._cases.popitem(last=False)
                self._size -= len(dropped)

    def forget(self, case_id: str) -> None:
        with self._lock:
            self._size -= len(self._cases.pop(case_id, {}))

    def case_ids(self) -> set[str]:
        with self._lock:
            return set(self._cases)


_LIVE: weakref.WeakSet[RecordCodec] = weakref.WeakSet()
"""Every codec of this process, so that an erasure reaches each one's caches."""
_LIVE_LOCK = threading.Lock()


class RecordCodec:
    """Seal, chain and map events; open and map records back."""

    def __init__(
        self,
        *,
        keys: CaseKeys | None,
        signer: CheckpointKey | None = None,
        mapper: EventMapper | None = None,
        cached_events: int = CACHED_EVENTS,
    ) -> None:
        self._keys = keys
        self._signer = signer
        self._mapper = mapper or EventMapper()
        self._opened = _OpenedEvents(cached_events)
        self._legacy_cover: Callable[[], int] = _no_legacy_cover
        self._forgetting: list[Callable[[str], None]] = []
        with _LIVE_LOCK:
            _LIVE.add(self)

    def on_forget(self, drop: Callable[[str], None]) -> None:
        """Call ``drop(case_id)`` whenever this codec forgets an erased case (what else an
        engine keeps of it, such as its folded obligations, goes too)."""
        self._forgetting.append(drop)

    def judge_legacy_tombstones_by(self, cover: Callable[[], int]) -> None:
        """Accept an unsigned (legacy) tombstone only below ``cover()``, the leaves the
        checkpoints signed before tombstones were cover (the auditor knows them); by default
        none is accepted."""
        self._legacy_cover = cover

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
    ) -> list[StoredEvent]:
        """Sealed records for ``events``, numbered after ``after_sequence``, chained to
        ``previous``. A CaseErased is signed instead (:meth:`encode_tombstone`)."""
        records = []
        for offset, event in enumerate(events, start=1):
            plain = self._mapper.to_stored(event, sequence=after_sequence + offset)
            header, payload = plain.header, plain.payload
            if isinstance(event, CaseErased):
                header = replace(header, key_id=SIGNED_TOMBSTONE)
                payload = sign_tombstone(header, payload, self._signing_key())
            elif self._keys is not None:
                key_id, key = self._keys.key(header.case_id, create=True)
                header = replace(header, key_id=key_id)
                payload = seal(key, payload, canonical_header(header))
            previous = leaf_hash(header, payload, previous)
            records.append(StoredEvent(header=header, payload=payload, leaf_hash=previous))
            self._opened.put(header.case_id, previous, event)
        return records

    def _signing_key(self) -> bytes:
        if self._signer is None or not self._signer.private:
            raise StoreError("this codec holds no checkpoint key: it cannot sign a tombstone")
        return self._signer.private

    def create_keys(self, case_ids: Sequence[str]) -> None:
        """Data keys for these new cases, stored together (one transaction, not one each)."""
        if self._keys is not None:
            self._keys.create(case_ids)

    def forget(self, case_id: str) -> None:
        """Drop a destroyed case key, and the case's opened events, from the caches of every
        codec in this process (another engine's too: a server's, while retention runs)."""
        with _LIVE_LOCK:
            codecs = list(_LIVE)
        for codec in codecs:
            codec._drop(case_id)

    def _drop(self, case_id: str) -> None:
        self._opened.forget(case_id)
        if self._keys is not None:
            self._keys.forget(case_id)
        for drop in self._forgetting:
            drop(case_id)

    def drop_destroyed(self) -> list[str]:
        """Forget every case held here whose key row is gone: erased by another process,
        which this one cannot otherwise learn until it reads the case. One read of the key
        table for the cases cached (at most a few thousand); returns the cases forgotten."""
        if self._keys is None:
            return []
        gone = sorted(self._keys.destroyed(self._keys.cached() | self._opened.case_ids()))
        for case_id in gone:
            self.forget(case_id)
        return gone

    def decode(self, records: Sequence[StoredEvent]) -> list[DomainEvent]:
        """The events the records hold, opened with their case's key (or from the cache)."""
        return [self._decoded(r) for r in records]

    def _decoded(self, record: StoredEvent) -> DomainEvent:
        case_id = record.header.case_id
        event = self._opened.get(case_id, record.leaf_hash)
        if event is None:
            event = self._mapper.event_from(record.header, self._open(record))
            self._opened.put(case_id, record.leaf_hash, event)
        return event

    def authentic(self, record: StoredEvent) -> str | None:
        """Why the record was not written by this engine, or None: it opens (or, a tombstone,
        its signature verifies). What the checkpoint signer asks before integrating it."""
        try:
            self._decoded(record)
        except NotAuthentic as exc:
            return str(exc)
        except StoreError as exc:  # no data key: the record cannot be shown to open
            return str(exc)
        return None

    def authentic_as_found(self, record: StoredEvent) -> str | None:
        """Like :meth:`authentic`, for the tail an old version left unsigned: a case whose
        key its retention destroyed before any checkpoint covered the case has nothing left
        to open with, so its sealed records are judged by their headers and its unsigned
        tombstone is taken as found. A case with its key is judged as always."""
        header = record.header
        if self._keys is None or self._keys.exists(header.case_id):
            return self.authentic(record)
        return None if is_legacy_tombstone(header) else header_problem(record, self._public())

    def _open(self, record: StoredEvent) -> bytes:
        """The record's clear payload, if the engine wrote it; else NotAuthentic."""
        header = record.header
        where = f"record {header.case_id}#{header.sequence}"
        if self._keys is None:  # a plain codec (benchmarks) reads what it wrote
            return record.payload
        if header.event_type == TOMBSTONE_TYPE:
            return self._open_tombstone(record, where)
        problem = seal_problem(header)
        if problem is not None:
            raise NotAuthentic(f"{where} is not authentic: {problem}", case_id=header.case_id)
        _, key = self._keys.key(header.case_id)
        try:
            return open_sealed(key, record.payload, canonical_header(header))
        except SealBroken:
            msg = f"{where} does not open under its case's key: altered or moved"
            raise NotAuthentic(msg, case_id=header.case_id) from None

    def _open_tombstone(self, record: StoredEvent, where: str) -> bytes:
        """A signed tombstone's event; a legacy (unsigned) one only as verify accepts it."""
        header = record.header
        if is_legacy_tombstone(header):
            problem = self._legacy_problem(record)
            body = None if problem else record.payload
        else:
            problem = header_problem(record, self._public())
            body = None if problem else tombstone_body(header, record.payload, self._public())
        if body is None:
            raise NotAuthentic(f"{where} is not authentic: {problem}", case_id=header.case_id)
        return body

    def _legacy_problem(self, record: StoredEvent) -> str | None:
        """Why an unsigned tombstone is refused: it is not under a checkpoint from before
        tombstones were signed (a new one always is refused), or its case still has a key."""
        cover = 0 if record.tree_index is None else self._legacy_cover()
        problem = legacy_tombstone_problem(record, cover)
        if problem is None and self._keys is not None and self._keys.exists(record.header.case_id):
            problem = "an unsigned erasure tombstone on a case that still has its key: forged"
        return problem

    def _public(self) -> bytes:
        if self._signer is None:
            raise StoreError("this codec holds no checkpoint key: it cannot check authenticity")
        return self._signer.public
