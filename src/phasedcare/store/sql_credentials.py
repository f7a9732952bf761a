"""The SQL half of the credential store: API keys and idempotency records.

Mixed into :class:`~phasedcare.store.sql.SqlEventStore`. Storing an idempotency record is
``INSERT ... ON CONFLICT DO NOTHING`` and a read in the same transaction, so two requests
racing with one key both get the record of the first, and neither gets an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from phasedcare.service.ports import ApiKey, IdempotencyRecord
from phasedcare.store.sql_errors import translated
from phasedcare.store.sql_notifications import _aware, _utc
from phasedcare.store.tables import ApiKeyRecord, IdempotencyKeyRecord

__all__ = ["SqlCredentials", "idempotency_row", "insert_idempotency"]

API_KEYS = ApiKeyRecord.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
IDEMPOTENCY = IdempotencyKeyRecord.__table__  # type: ignore[attr-defined]

_API_KEY_FIELDS = tuple(ApiKey.__dataclass_fields__)
_IDEMPOTENCY_FIELDS = tuple(IdempotencyRecord.__dataclass_fields__)


def _api_key(row: Any) -> ApiKey:
    values = {f: row[f] for f in _API_KEY_FIELDS}
    values["token_hash"] = bytes(values["token_hash"])
    values["created_at"] = _aware(values["created_at"])
    values["revoked_at"] = _aware(values["revoked_at"])
    return ApiKey(**values)


def _idempotency(row: Any) -> IdempotencyRecord:
    values = {f: row[f] for f in _IDEMPOTENCY_FIELDS}
    values["response_body"] = bytes(values["response_body"])
    values["created_at"] = _aware(values["created_at"])
    return IdempotencyRecord(**values)


def idempotency_row(record: IdempotencyRecord) -> dict[str, Any]:
    """The table row of an idempotency record (times in UTC)."""
    row = {f: getattr(record, f) for f in _IDEMPOTENCY_FIELDS}
    row["created_at"] = _utc(record.created_at)
    return row


def insert_idempotency(conn: Connection, records: Sequence[IdempotencyRecord]) -> None:
    """Insert records in the caller's transaction; a taken (actor, key) fails it (unique)."""
    if records:
        conn.execute(IDEMPOTENCY.insert(), [idempotency_row(r) for r in records])


def _idempotency_key(actor: str, key: str) -> Any:
    return and_(IDEMPOTENCY.c.actor == actor, IDEMPOTENCY.c.key == key)


class SqlCredentials:
    """API keys and idempotency records over the store's SQLAlchemy engine."""

    _backend: str
    _engine: Engine
    _write: Callable[[], AbstractContextManager[Connection]]

    def add_api_key(self, key: ApiKey) -> None:
        """Store a new key."""
        row = {f: getattr(key, f) for f in _API_KEY_FIELDS}
        row["created_at"] = _utc(key.created_at)
        row["revoked_at"] = _utc(key.revoked_at)
        with translated("writing the API key failed"), self._write() as conn, conn.begin():
            conn.execute(API_KEYS.insert(), row)

    def api_key(self, key_id: str) -> ApiKey | None:
        """One key, or None when unknown."""
        query = select(API_KEYS).where(API_KEYS.c.key_id == key_id)
        with translated("reading the API keys failed"), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _api_key(row)

    def api_keys(self) -> list[ApiKey]:
        """Every key by creation time, then id."""
        query = select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.key_id)
        with translated("reading the API keys failed"), self._engine.connect() as conn:
            return [_api_key(r) for r in conn.execute(query).mappings()]

    def revoke_api_key(self, key_id: str, *, revoked_at: datetime) -> ApiKey | None:
        """Revoke a key; a second revocation keeps the first time (a conditional UPDATE)."""
        with translated("revoking the API key failed"), self._write() as conn, conn.begin():
            conn.execute(
                update(API_KEYS)
                .where(API_KEYS.c.key_id == key_id, API_KEYS.c.revoked_at.is_(None))
                .values(revoked_at=_utc(revoked_at))
            )
            query = select(API_KEYS).where(API_KEYS.c.key_id == key_id)
            found = conn.execute(query).mappings().first()
        return None if found is None else _api_key(found)

    def idempotency_get(self, actor: str, key: str) -> IdempotencyRecord | None:
        """The record stored for this actor's key, or None."""
        query = select(IDEMPOTENCY).where(_idempotency_key(actor, key))
        with translated("reading the idempotency record failed"), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _idempotency(row)

    def idempotency_put(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store the record unless its (actor, key) has one; return the stored one.

        On PostgreSQL a racing insert of the same key waits for the first to commit, and the
        read (a new snapshot per statement) then sees it.
        """
        row = idempotency_row(record)
        dialect_insert = postgresql.insert if self._backend == "postgresql" else sqlite.insert
        insert = dialect_insert(IDEMPOTENCY).on_conflict_do_nothing(index_elements=["actor", "key"])
        query = select(IDEMPOTENCY).where(_idempotency_key(record.actor, record.key))
        with (
            translated("writing the idempotency record failed"),
            self._write() as conn,
            conn.begin(),
        ):
            conn.execute(insert, row)
            return _idempotency(conn.execute(query).mappings().one())

    def idempotency_expire(self, before: datetime) -> int:
        """Delete the records created before ``before``; returns how many."""
        query = IDEMPOTENCY.delete().where(IDEMPOTENCY.c.created_at < _utc(before))
        with (
            translated("expiring idempotency records failed"),
            self._write() as conn,
            conn.begin(),
        ):
            return int(conn.execute(query).rowcount)

    @staticmethod
    def _delete_case_idempotency(conn: Connection, case_id: str) -> None:
        """Delete the case's records in the caller's transaction (the case is being erased)."""
        conn.execute(IDEMPOTENCY.delete().where(IDEMPOTENCY.c.case_id == case_id))
