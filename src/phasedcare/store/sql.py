"""The SQL event store over SQLite (the default) and PostgreSQL, with SQLAlchemy Core.

Appends are one transaction each: the case's last sequence is checked under a lock, the
records inserted and the projection row replaced, or nothing is written. SQLite runs in WAL
mode with ``synchronous=FULL`` (an acknowledged command survives a power loss) and takes the
write lock at ``BEGIN IMMEDIATE``, so two processes queue instead of failing mid-transaction.
On PostgreSQL a transaction-scoped advisory lock per case serialises writers of one case
only; the unique (case, sequence) constraint backs both up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from phasedcare.errors import ConcurrencyConflict, StoreError
from phasedcare.ledger.keys import WrappedKey
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.service.ports import CaseFilter, CaseProjection
from phasedcare.store.memory import check_numbering
from phasedcare.store.tables import (
    CaseKeyRecord,
    CaseRecord,
    CheckpointRecord,
    EventRecord,
    HouseholdIndexRecord,
)

__all__ = ["SqlEventStore"]

EVENTS = EventRecord.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
CASES = CaseRecord.__table__  # type: ignore[attr-defined]
KEYS = CaseKeyRecord.__table__  # type: ignore[attr-defined]
CHECKPOINTS = CheckpointRecord.__table__  # type: ignore[attr-defined]
INDEX = HouseholdIndexRecord.__table__  # type: ignore[attr-defined]
_INTEGRATOR_LOCK = 7_013_551  # the PostgreSQL advisory lock of the one integrator
_PROJECTION_FIELDS = tuple(CaseProjection.__dataclass_fields__)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sqlite_engine(url: str, echo: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "secure_delete=ON",
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


class SqlEventStore:
    """An EventStore over SQLite or PostgreSQL; the schema comes from ``upgrade_database``."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self._dialect = url.split(":", 1)[0].split("+", 1)[0]
        self._engine = (
            _sqlite_engine(url, echo)
            if self._dialect == "sqlite"
            else create_engine(url, echo=echo, pool_pre_ping=True)
        )
        self._check_schema()

    def _check_schema(self) -> None:
        database = make_url(str(self._engine.url)).database
        on_disk = self._dialect == "sqlite" and database and database != ":memory:"
        if on_disk and not Path(str(database)).exists():  # connecting would create the file
            raise StoreError("database schema is not initialised: run phasedcare init")
        try:
            with self._engine.connect() as conn:
                present = inspect(conn).has_table(EVENTS.name)
        except DBAPIError as exc:
            self._engine.dispose()
            raise StoreError("cannot open the database", detail=str(exc.orig)) from None
        if not present:
            self._engine.dispose()
            raise StoreError("database schema is not initialised: run phasedcare init")

    def _write(self) -> Connection:
        conn = self._engine.connect()
        return (
            conn.execution_options(sqlite_begin="IMMEDIATE") if self._dialect == "sqlite" else conn
        )

    def append(
        self,
        *,
        case_id: str,
        expected_sequence: int,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        index: Sequence[bytes] = (),
    ) -> None:
        """Append records, replace the projection row and add index tokens in one transaction."""
        check_numbering(case_id, expected_sequence, records)
        try:
            with self._write() as conn, conn.begin():
                self._lock_case(conn, case_id)
                actual = conn.execute(
                    select(func.coalesce(func.max(EVENTS.c.sequence), 0)).where(
                        EVENTS.c.case_id == case_id
                    )
                ).scalar_one()
                if actual != expected_sequence:
                    raise ConcurrencyConflict(
                        case_id=case_id, expected=expected_sequence, actual=actual
                    )
                conn.execute(EVENTS.insert(), [_event_row(r) for r in records])
                if projection is not None:
                    conn.execute(CASES.delete().where(CASES.c.case_id == case_id))
                    conn.execute(CASES.insert(), [_projection_row(projection)])
                self._add_tokens(conn, case_id, index)
        except IntegrityError:
            raise ConcurrencyConflict(case_id=case_id, expected=expected_sequence) from None
        except DBAPIError as exc:
            raise StoreError(f"append to case {case_id} failed", detail=str(exc.orig)) from None

    def _add_tokens(self, conn: Connection, case_id: str, tokens: Sequence[bytes]) -> None:
        for token in set(tokens):
            known = select(INDEX.c.token).where(INDEX.c.token == token, INDEX.c.case_id == case_id)
            if conn.execute(known).first() is None:
                conn.execute(INDEX.insert(), [{"token": token, "case_id": case_id}])

    def find_by_token(self, token: bytes) -> list[str]:
        """The cases the token points at."""
        query = select(INDEX.c.case_id).where(INDEX.c.token == token).order_by(INDEX.c.case_id)
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _lock_case(self, conn: Connection, case_id: str) -> None:
        if self._dialect == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:c, 0))"), {"c": case_id}
            )

    def load(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        """The case's records in sequence order (plain rows: this is every command's hot path)."""
        query = select(*_COLUMNS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.sequence)
        if up_to is not None:
            query = query.where(EVENTS.c.sequence <= up_to)
        with self._engine.connect() as conn:
            return [_from_row(*row) for row in conn.execute(query)]

    def case_ids(self) -> list[str]:
        """Every case with records, sorted."""
        with self._engine.connect() as conn:
            query = (
                select(EVENTS.c.case_id)
                .where(EVENTS.c.case_id.not_like("%~%"))
                .distinct()
                .order_by(EVENTS.c.case_id)
            )
            return list(conn.execute(query).scalars())

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The stream's last sequence and leaf hash."""
        query = (
            select(EVENTS.c.sequence, EVENTS.c.leaf_hash)
            .where(EVENTS.c.case_id == case_id)
            .order_by(EVENTS.c.sequence.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def read_all(self, *, after_position: int = 0, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every record in position order, fetched in batches."""
        position = after_position
        while True:
            query = (
                select(*_COLUMNS)
                .where(EVENTS.c.position > position)
                .order_by(EVENTS.c.position)
                .limit(batch_size)
            )
            with self._engine.connect() as conn:
                batch = [_from_row(*row) for row in conn.execute(query)]
            yield from batch
            if len(batch) < batch_size:
                return
            position = int(batch[-1].position or 0)

    def projection(self, case_id: str) -> CaseProjection | None:
        """The case's live projection row, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(select(CASES).where(CASES.c.case_id == case_id)).mappings().first()
        return None if row is None else _projection(row)

    def projections(self, case_filter: CaseFilter) -> list[CaseProjection]:
        """Projection rows passing the filter, ordered by case id."""
        query = select(CASES).order_by(CASES.c.case_id)
        f = case_filter
        if f.organisation is not None:
            query = query.where(CASES.c.regie_organisation == f.organisation)
        if f.phase is not None:
            query = query.where(CASES.c.phase == f.phase)
        if f.region is not None:
            query = query.where(CASES.c.region == f.region)
        if f.deadline_before is not None:
            query = query.where(CASES.c.next_deadline < f.deadline_before)
        if f.limit is not None:
            query = query.limit(f.limit)
        with self._engine.connect() as conn:
            return [_projection(row) for row in conn.execute(query).mappings()]

    def replace_projections(self, projections: Iterable[CaseProjection]) -> int:
        """Replace every projection row in one transaction."""
        rows = [_projection_row(p) for p in projections]
        try:
            with self._write() as conn, conn.begin():
                conn.execute(CASES.delete())
                if rows:
                    conn.execute(CASES.insert(), rows)
        except DBAPIError as exc:
            raise StoreError("replacing the projections failed", detail=str(exc.orig)) from None
        return len(rows)

    def case_key(self, case_id: str) -> WrappedKey | None:
        """The case's wrapped data key, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(select(KEYS).where(KEYS.c.case_id == case_id)).mappings().first()
        return None if row is None else _wrapped(row)

    def add_case_key(self, key: WrappedKey) -> WrappedKey:
        """Store the key unless the case has one; return the stored key."""
        row = {
            "case_id": key.case_id,
            "version": key.version,
            "kek_id": key.kek_id,
            "wrapped": key.wrapped,
        }
        try:
            with self._write() as conn, conn.begin():
                conn.execute(KEYS.insert(), [row])
        except IntegrityError:
            pass  # another writer created it first: theirs is the one
        except DBAPIError as exc:
            raise StoreError(
                f"storing the key of case {key.case_id} failed", detail=str(exc.orig)
            ) from None
        stored = self.case_key(key.case_id)
        assert stored is not None  # noqa: S101 - inserted above or by the other writer
        return stored

    def case_keys(self) -> list[WrappedKey]:
        """Every wrapped case key."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(KEYS).order_by(KEYS.c.case_id)).mappings().all()
        return [_wrapped(row) for row in rows]

    def rewrap_case_key(self, key: WrappedKey) -> None:
        """Replace a case's wrapped key (same data key, another KEK)."""
        update = KEYS.update().where(KEYS.c.case_id == key.case_id)
        try:
            with self._write() as conn, conn.begin():
                conn.execute(
                    update.values(kek_id=key.kek_id, wrapped=key.wrapped, version=key.version)
                )
        except DBAPIError as exc:
            raise StoreError(
                f"rewrapping the key of case {key.case_id} failed", detail=str(exc.orig)
            ) from None

    def destroy_case_key(self, case_id: str) -> bool:
        """Delete the case's wrapped key and projection row, then scrub freed pages.

        SQLite runs with ``secure_delete`` (freed pages are zeroed) and the WAL is truncated;
        PostgreSQL's ``case_keys`` is vacuumed. Backups still hold the key until they expire.
        """
        try:
            with self._write() as conn, conn.begin():
                deleted = conn.execute(KEYS.delete().where(KEYS.c.case_id == case_id)).rowcount
                conn.execute(CASES.delete().where(CASES.c.case_id == case_id))
                conn.execute(INDEX.delete().where(INDEX.c.case_id == case_id))
            self._scrub()
        except DBAPIError as exc:
            raise StoreError(
                f"destroying the key of case {case_id} failed", detail=str(exc.orig)
            ) from None
        return bool(deleted)

    def _scrub(self) -> None:
        """Outside any transaction: truncate SQLite's WAL, or vacuum PostgreSQL's key table."""
        raw = self._engine.raw_connection()
        try:
            if self._dialect == "sqlite":
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                driver: Any = raw.driver_connection  # psycopg: VACUUM needs autocommit
                driver.autocommit = True
                try:
                    raw.cursor().execute("VACUUM case_keys")
                finally:
                    driver.autocommit = False
        finally:
            raw.close()

    def integrate(self) -> int:
        """Give unindexed records the next tree indexes, in position order, under one lock."""
        try:
            with self._write() as conn, conn.begin():
                if self._dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INTEGRATOR_LOCK})
                size = conn.execute(
                    select(func.count()).where(EVENTS.c.tree_index.is_not(None))
                ).scalar_one()
                waiting = (
                    conn.execute(
                        select(EVENTS.c.position)
                        .where(EVENTS.c.tree_index.is_(None))
                        .order_by(EVENTS.c.position)
                    )
                    .scalars()
                    .all()
                )
                for offset, position in enumerate(waiting):
                    conn.execute(
                        EVENTS.update()
                        .where(EVENTS.c.position == position)
                        .values(tree_index=size + offset)
                    )
        except DBAPIError as exc:
            raise StoreError(
                "integrating records into the tree failed", detail=str(exc.orig)
            ) from None
        return int(size) + len(waiting)

    def tree_leaves(self) -> list[bytes]:
        """The integrated leaves by tree index."""
        query = (
            select(EVENTS.c.leaf_hash)
            .where(EVENTS.c.tree_index.is_not(None))
            .order_by(EVENTS.c.tree_index)
        )
        with self._engine.connect() as conn:
            return [bytes(leaf) for leaf in conn.execute(query).scalars()]

    def add_checkpoint(self, *, size: int, note: str) -> None:
        """Keep the first note for each tree size."""
        try:
            with self._write() as conn, conn.begin():
                conn.execute(CHECKPOINTS.insert(), [{"tree_size": size, "note": note}])
        except IntegrityError:
            pass  # a checkpoint of this size exists already
        except DBAPIError as exc:
            raise StoreError("storing a checkpoint failed", detail=str(exc.orig)) from None

    def checkpoints(self) -> list[str]:
        """Every stored note, by tree size."""
        query = select(CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.tree_size)
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._engine.dispose()


def _event_row(record: StoredEvent) -> dict[str, Any]:
    header = record.header
    return {
        "case_id": header.case_id,
        "sequence": header.sequence,
        "event_type": header.event_type,
        "schema_version": header.schema_version,
        "recorded_at": header.recorded_at.astimezone(UTC),
        "key_id": header.key_id,
        "payload": record.payload,
        "leaf_hash": record.leaf_hash,
    }


_COLUMNS = tuple(
    EVENTS.c[name]
    for name in (
        "case_id",
        "sequence",
        "event_type",
        "schema_version",
        "recorded_at",
        "key_id",
        "payload",
        "leaf_hash",
        "position",
        "tree_index",
    )
)


def _from_row(  # noqa: PLR0917 - one positional parameter per selected column
    case_id: str,
    sequence: int,
    event_type: str,
    schema_version: int,
    recorded_at: datetime,
    key_id: str,
    payload: bytes,
    leaf: bytes,
    position: int,
    tree_index: int | None,
) -> StoredEvent:
    header = RecordHeader(
        case_id, sequence, event_type, schema_version, _aware(recorded_at), key_id
    )
    return StoredEvent(header, bytes(payload), bytes(leaf), position, tree_index)


def _projection_row(projection: CaseProjection) -> dict[str, Any]:
    row = {name: getattr(projection, name) for name in _PROJECTION_FIELDS}
    row["opened_at"] = projection.opened_at.astimezone(UTC)
    row["updated_at"] = projection.updated_at.astimezone(UTC)
    return row


def _projection(row: Any) -> CaseProjection:
    values = {name: row[name] for name in _PROJECTION_FIELDS}
    values["opened_at"] = _aware(values["opened_at"])
    values["updated_at"] = _aware(values["updated_at"])
    deadline = values["next_deadline"]
    values["next_deadline"] = (
        deadline if deadline is None or isinstance(deadline, date) else date.fromisoformat(deadline)
    )
    return CaseProjection(**values)


def _wrapped(row: Any) -> WrappedKey:
    return WrappedKey(
        case_id=row["case_id"],
        version=row["version"],
        kek_id=row["kek_id"],
        wrapped=bytes(row["wrapped"]),
    )
