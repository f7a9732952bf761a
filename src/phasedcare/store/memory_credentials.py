"""The in-memory half of the credential store: API keys and idempotency records.

Mixed into :class:`~phasedcare.store.memory.InMemoryEventStore`, whose lock it shares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from phasedcare.service.ports import ApiKey, Append, IdempotencyRecord

__all__ = ["InMemoryCredentials"]


class InMemoryCredentials:
    """API keys and idempotency records held in dictionaries."""

    _lock: threading.Lock

    def __init__(self) -> None:
        self._api_keys: dict[str, ApiKey] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}

    def add_api_key(self, key: ApiKey) -> None:
        """Store a new key."""
        with self._lock:
            self._api_keys[key.key_id] = key

    def api_key(self, key_id: str) -> ApiKey | None:
        """One key, or None when unknown."""
        with self._lock:
            return self._api_keys.get(key_id)

    def api_keys(self) -> list[ApiKey]:
        """Every key by creation time, then id (as the SQL store orders them)."""
        with self._lock:
            return sorted(self._api_keys.values(), key=lambda k: (k.created_at, k.key_id))

    def revoke_api_key(self, key_id: str, *, revoked_at: datetime) -> ApiKey | None:
        """Revoke a key; a second revocation keeps the first time."""
        with self._lock:
            key = self._api_keys.get(key_id)
            if key is None or key.revoked_at is not None:
                return key
            revoked = replace(key, revoked_at=revoked_at)
            self._api_keys[key_id] = revoked
            return revoked

    def idempotency_get(self, actor: str, key: str) -> IdempotencyRecord | None:
        """The record stored for this actor's key, or None."""
        with self._lock:
            return self._idempotency.get((actor, key))

    def _idempotency_taken(self, append: Append) -> bool:
        """Whether the append's idempotency (actor, key) has a record already (lock held)."""
        record = append.idempotency
        return record is not None and (record.actor, record.key) in self._idempotency

    def idempotency_put(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store the record unless its (actor, key) has one; return the stored one."""
        with self._lock:
            return self._idempotency.setdefault((record.actor, record.key), record)

    def idempotency_expire(self, before: datetime) -> int:
        """Delete the records created before ``before``; returns how many."""
        with self._lock:
            return self._drop_idempotency(lambda r: r.created_at < before)

    def _delete_case_idempotency(self, case_id: str) -> None:
        """Delete the case's records (lock held: the case is being erased)."""
        self._drop_idempotency(lambda r: r.case_id == case_id)

    def _drop_idempotency(self, dropped: Callable[[IdempotencyRecord], bool]) -> int:
        """Delete the records ``dropped`` picks (lock held); returns how many."""
        keys = [k for k, record in self._idempotency.items() if dropped(record)]
        for key in keys:
            del self._idempotency[key]
        return len(keys)
