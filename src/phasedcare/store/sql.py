"""The SQL event store over SQLite (the default) and PostgreSQL, with SQLAlchemy Core.

Appends are one transaction each: the case's last sequence is checked under a lock, the
records inserted and the projection row upserted, or nothing is written. SQLite runs in WAL
mode with ``synchronous=FULL`` (an acknowledged command survives a power loss) and takes the
write lock at ``BEGIN IMMEDIATE``, so two processes queue instead of failing mid-transaction.
On PostgreSQL a transaction-scoped advisory lock per case serialises writers of one case
only; the unique (case, sequence) constraint backs both up.

The SQLModel classes in :mod:`phasedcare.store.tables` are the schema; the store uses their
Core tables with statements built once: on SQLite one append per transaction runs about
three times as fast as the same append through the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Table,
    TextClause,
    bindparam,
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
from phasedcare.ledger.chain import as_utc
from phasedcare.ledger.keys import WrappedKey
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.service.ports import (
    Append,
    CaseFilter,
    CaseProjection,
    IdempotencyRecord,
    OutboxMessage,
    TreeEntry,
    TreeNode,
)
from phasedcare.store.memory import check_batch, check_numbering
from phasedcare.store.sql_credentials import SqlCredentials, insert_idempotency
from phasedcare.store.sql_errors import translated
from phasedcare.store.sql_notifications import (
    SqlNotifications,
    delete_case_rows,
    enqueue,
    sync_case_rows,
    with_case_rows,
    write_case_rows,
)
from phasedcare.store.tables import (
    SCHEMA_REVISION,
    STAMP_PROJECTIONS_POLICY,
    STAMP_REGION,
    CaseKeyRecord,
    CaseRecord,
    CheckpointRecord,
    EventRecord,
    HouseholdIndexRecord,
    StoreMetaRecord,
    TreeNodeRecord,
)

__all__ = ["SqlEventStore"]

EVENTS = EventRecord.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
CASES = CaseRecord.__table__  # type: ignore[attr-defined]
KEYS = CaseKeyRecord.__table__  # type: ignore[attr-defined]
CHECKPOINTS = CheckpointRecord.__table__  # type: ignore[attr-defined]
INDEX = HouseholdIndexRecord.__table__  # type: ignore[attr-defined]
NODES = TreeNodeRecord.__table__  # type: ignore[attr-defined]
META = StoreMetaRecord.__table__  # type: ignore[attr-defined]

_BUSY_TIMEOUT_SECONDS = 30
_SQLITE_PRAGMAS = (
    f"busy_timeout={_BUSY_TIMEOUT_SECONDS * 1000}",  # first: the pragmas below may wait too
    "journal_mode=WAL",  # readers never block the writer, nor it them
    "foreign_keys=ON",
    "secure_delete=ON",  # a destroyed case key is zeroed on disk, not only unlinked
)
_SQLITE_SYNCHRONOUS = ("full", "normal")
"""``?synchronous=`` of a SQLite URL. FULL (the default) syncs every commit to disk: an
acknowledged command survives a power loss. NORMAL syncs only at WAL checkpoints: a crash of
the process loses nothing, a power loss may lose the last commits (for synthetic loads)."""
_INTEGRATOR_LOCK = 7_013_551  # the PostgreSQL advisory lock of the one integrator
_REBUILD_LOCK = text("SELECT pg_advisory_xact_lock(7013552)")  # one projection rebuild at a time
_CASE_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:case_id, 0))")
_SEQUENCE_CLASH = (
    "uq_event_records_case_sequence",
    "event_records.case_id, event_records.sequence",
    # a concurrent request with the same Idempotency-Key committed first
    "idempotency_records_pkey",
    "idempotency_records.actor, idempotency_records.key",
)
_NOT_INITIALISED = "database schema is not initialised: run phasedcare init"
_PROJECTION_FIELDS = tuple(
    f for f in CaseProjection.__dataclass_fields__ if f not in {"deadlines", "handovers"}
)
_EVENT_FIELDS = (
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
_COLUMNS = tuple(EVENTS.c[name] for name in _EVENT_FIELDS)
_LAST_SEQUENCE = select(func.coalesce(func.max(EVENTS.c.sequence), 0)).where(
    EVENTS.c.case_id == bindparam("case_id")
)
_LOAD = (
    select(*_COLUMNS).where(EVENTS.c.case_id == bindparam("case_id")).order_by(EVENTS.c.sequence)
)
_INSERT_EVENTS = EVENTS.insert()
_TREE_SIZE = select(func.coalesce(func.max(EVENTS.c.tree_index) + 1, 0))
_WAITING = select(*_COLUMNS).where(EVENTS.c.tree_index.is_(None)).order_by(EVENTS.c.position)
_NUMBER = (
    EVENTS.update()
    .where(EVENTS.c.position == bindparam("at"))
    .values(tree_index=bindparam("index"))
)
_LATEST_CHECKPOINT = (
    select(CHECKPOINTS.c.tree_size, CHECKPOINTS.c.note, CHECKPOINTS.c.frontier)
    .where(CHECKPOINTS.c.frontier.is_not(None))
    .order_by(CHECKPOINTS.c.tree_size.desc())
    .limit(1)
)
_LAST_SEQUENCES = (
    select(EVENTS.c.case_id, func.max(EVENTS.c.sequence))
    .where(EVENTS.c.case_id.in_(bindparam("case_ids", expanding=True)))
    .group_by(EVENTS.c.case_id)
)
_STAMPED_REGION = select(META.c.value).where(META.c.name == STAMP_REGION)
_PROJECTIONS_POLICY = select(META.c.value).where(META.c.name == STAMP_PROJECTIONS_POLICY)
_IN_LIST_SIZE = 500  # ids per IN list: far below SQLite's and PostgreSQL's parameter limits


def _sqlite_engine(url: URL, echo: bool, synchronous: str) -> Engine:
    """A SQLite engine that emits its own BEGIN, IMMEDIATE for writers (SQLAlchemy's recipe).

    pysqlite would otherwise begin lazily, at the first INSERT, and a second process could
    then fail with "database is locked" halfway through a transaction. With
    ``isolation_level = None`` pysqlite leaves transactions alone, and the ``begin`` event
    emits ``BEGIN DEFERRED`` for readers or, on connections marked
    ``sqlite_begin="IMMEDIATE"``, ``BEGIN IMMEDIATE``, which waits (``busy_timeout``) for
    the write lock before the transaction reads anything.
    """
    engine = create_engine(url, echo=echo, connect_args={"timeout": _BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (*_SQLITE_PRAGMAS, f"synchronous={synchronous}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgres_engine(url: URL, echo: bool) -> Engine:
    """A PostgreSQL engine whose sessions run in UTC, whatever the server or database says.

    ``timestamptz`` values come back in the session's zone; records are hashed in UTC
    (:func:`~phasedcare.ledger.chain.as_utc` converts anyway), and pinning the session keeps
    every other time the store reads (deadlines, leases, projections) in UTC as well.
    """
    engine = create_engine(url, echo=echo, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()
        dbapi_connection.commit()

    return engine


def _open_engine(url: URL, echo: bool) -> Engine:
    """The engine for a SQLite or PostgreSQL URL; other databases are refused."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if _sqlite_file_missing(url):  # connecting would create an empty file
            raise StoreError(_NOT_INITIALISED)
        synchronous = url.query.get("synchronous", "full")
        if synchronous not in _SQLITE_SYNCHRONOUS:
            msg = f"synchronous={synchronous!r} in the SQLite URL: use full or normal"
            raise StoreError(msg)
        return _sqlite_engine(url.difference_update_query(["synchronous"]), echo, str(synchronous))
    if backend == "postgresql":
        return _postgres_engine(url, echo)
    raise StoreError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _sqlite_file_missing(url: URL) -> bool:
    """True when the URL names a plain SQLite file that does not exist (yet)."""
    database = url.database or ""
    plain_file = database not in {"", ":memory:"} and not url.query.get("uri")
    return plain_file and not Path(database).exists()


def _schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at, or None before ``phasedcare init``."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def _insert_or(table: Table, conflict: str) -> TextClause:
    """``INSERT ... ON CONFLICT <conflict>`` as text typed by the table's columns.

    SQLite (3.24+) and PostgreSQL spell upserts alike. SQLAlchemy 2.0 cannot cache its own
    ``on_conflict_do_update`` constructs and would compile one on every append (a third of
    the append's time); a typed text clause is compiled once and converts values as the
    table's columns do.
    """
    names = [column.name for column in table.columns]
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - names from the schema
        f"VALUES ({', '.join(':' + name for name in names)}) ON CONFLICT {conflict}"
    )
    return statement.bindparams(*(bindparam(c.name, type_=c.type) for c in table.columns))


_UPSERT_PROJECTION = _insert_or(
    CASES,
    "(case_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _PROJECTION_FIELDS if name != "case_id"),
)
_INSERT_TOKENS = _insert_or(INDEX, "DO NOTHING")
_INSERT_KEYS = _insert_or(KEYS, "(case_id) DO NOTHING")
_INSERT_NODES = _insert_or(NODES, "DO NOTHING")
_INSERT_META = _insert_or(META, "(name) DO NOTHING")
_UPSERT_META = _insert_or(META, "(name) DO UPDATE SET value = excluded.value")


class SqlEventStore(SqlNotifications, SqlCredentials):
    """An EventStore over SQLite or PostgreSQL; the schema comes from ``upgrade_database``.

    Opening reads ``alembic_version`` (cheap) and raises StoreError asking for
    ``phasedcare init`` when the schema is missing or at another revision than this code's.
    Opened for a ``region``, it also refuses a database stamped with another region, and
    stamps one that names none yet with this one (the first opener's region wins).
    """

    def __init__(self, url: str, *, echo: bool = False, region: str | None = None) -> None:
        parsed = make_url(url)
        self._backend = parsed.get_backend_name()
        self._engine = _open_engine(parsed, echo)
        try:
            self._check_schema()
            if region is not None:
                self._claim_region(region)
        except BaseException:
            self._engine.dispose()
            raise

    def _check_schema(self) -> None:
        with translated("cannot open the database"), self._engine.connect() as conn:
            revision = _schema_revision(conn)
        if revision is None:
            raise StoreError(_NOT_INITIALISED)
        if revision != SCHEMA_REVISION:
            raise StoreError(
                f"database schema is at revision {revision}, this version of phasedcare "
                f"needs {SCHEMA_REVISION}: run phasedcare init to migrate it"
            )

    def region(self) -> str | None:
        """The region the database belongs to, or None before an engine first opened it."""
        with translated("cannot open the database"), self._engine.connect() as conn:
            stamped = conn.execute(_STAMPED_REGION).scalar()
        return None if stamped is None else str(stamped)

    def _claim_region(self, region: str) -> None:
        """Stamp ``region`` unless another is stamped already; refuse a database of another."""
        stamped = self.region()
        if stamped is None:
            message = "cannot stamp the database's region"
            with translated(message), self._write() as conn, conn.begin():
                conn.execute(_INSERT_META, {"name": STAMP_REGION, "value": region})
                stamped = str(conn.execute(_STAMPED_REGION).scalar_one())
        if stamped != region:
            raise StoreError(
                f"the database belongs to region {stamped}, this policy is region {region}: "
                "one database serves one region (use its policy file, or another database)"
            )

    def _write(self) -> Connection:
        """A connection whose transaction takes the write lock first (SQLite)."""
        conn = self._engine.connect()
        return (
            conn.execution_options(sqlite_begin="IMMEDIATE") if self._backend == "sqlite" else conn
        )

    def append(
        self,
        *,
        case_id: str,
        expected_sequence: int,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        index: Sequence[bytes] = (),
        outbox: Sequence[OutboxMessage] = (),
        idempotency: IdempotencyRecord | None = None,
    ) -> None:
        """Append records, upsert the projection row and add index tokens in one transaction
        (with the outbox messages and the request's idempotency record).

        Raises:
            ValueError: the records are not this case's, numbered ``expected_sequence + 1 ...``.
            ConcurrencyConflict: another writer appended first; nothing is written.
            StoreError: the database failed; nothing is written.
        """
        check_numbering(case_id, expected_sequence, records)
        with self._appending(f"case {case_id}", case_id, expected_sequence) as conn:
            self._lock_case(conn, case_id)
            actual = conn.execute(_LAST_SEQUENCE, {"case_id": case_id}).scalar_one()
            if actual != expected_sequence:
                raise ConcurrencyConflict(
                    case_id=case_id, expected=expected_sequence, actual=actual
                )
            self._insert(conn, case_id, records, projection, index)
            enqueue(conn, outbox)
            insert_idempotency(conn, [] if idempotency is None else [idempotency])

    def append_batch(self, appends: Sequence[Append]) -> None:
        """Make many cases' appends in one transaction, locking the cases in sorted order.

        One statement per table for the whole batch (the outbox excepted): a bulk import
        writes many commands per commit instead of one.

        Raises:
            ValueError: a case appears twice, or an append's records are misnumbered.
            ConcurrencyConflict: some case is not at its expected sequence; nothing is written.
            StoreError: the database failed; nothing is written.
        """
        check_batch(appends)
        if not appends:
            return
        ordered = sorted(appends, key=lambda append: append.case_id)
        first = ordered[0]
        subject = f"{len(ordered)} cases from {first.case_id}"
        with self._appending(subject, first.case_id, first.expected_sequence) as conn:
            for append in ordered:
                self._lock_case(conn, append.case_id)
            actual = _last_sequences(conn, [append.case_id for append in ordered])
            for append in ordered:
                if actual.get(append.case_id, 0) != append.expected_sequence:
                    raise ConcurrencyConflict(
                        case_id=append.case_id,
                        expected=append.expected_sequence,
                        actual=actual.get(append.case_id, 0),
                    )
            _insert_batch(conn, appends)

    @contextmanager
    def _appending(self, subject: str, case_id: str, expected: int) -> Iterator[Connection]:
        """An append's write transaction: a (case, sequence) clash becomes ConcurrencyConflict
        (for ``case_id``), any other driver error StoreError ``append to <subject> failed``."""
        try:
            with self._write() as conn, conn.begin():
                yield conn
        except IntegrityError as exc:
            if not any(name in str(exc.orig) for name in _SEQUENCE_CLASH):
                raise StoreError(f"append to {subject} failed", detail=str(exc.orig)) from None
            raise ConcurrencyConflict(case_id=case_id, expected=expected) from None
        except DBAPIError as exc:
            raise StoreError(f"append to {subject} failed", detail=str(exc.orig)) from None

    def _lock_case(self, conn: Connection, case_id: str) -> None:
        """On PostgreSQL, wait for the case's advisory lock (released at commit or rollback).

        SQLite needs none: ``BEGIN IMMEDIATE`` already holds the database's one write lock.
        """
        if self._backend == "postgresql":
            conn.execute(_CASE_LOCK, {"case_id": case_id})

    def _insert(
        self,
        conn: Connection,
        case_id: str,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        tokens: Sequence[bytes],
    ) -> None:
        if records:
            conn.execute(_INSERT_EVENTS, [_event_row(r) for r in records])
        if projection is not None:
            conn.execute(_UPSERT_PROJECTION, _projection_row(projection))
            sync_case_rows(conn, projection)
        if tokens:
            rows = [{"token": token, "case_id": case_id} for token in sorted(set(tokens))]
            conn.execute(_INSERT_TOKENS, rows)

    def load(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        """The case's records in sequence order, optionally only those up to ``up_to``."""
        query = _LOAD if up_to is None else _LOAD.where(EVENTS.c.sequence <= up_to)
        with translated(f"loading case {case_id} failed"), self._engine.connect() as conn:
            return [_from_row(*row) for row in conn.execute(query, {"case_id": case_id})]

    def case_ids(self) -> list[str]:
        """Every case with records, sorted (streams with a ``~`` are not cases)."""
        query = (
            select(EVENTS.c.case_id)
            .where(EVENTS.c.case_id.not_like("%~%"))
            .distinct()
            .order_by(EVENTS.c.case_id)
        )
        with translated("listing the cases failed"), self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The stream's last sequence and leaf hash."""
        query = (
            select(EVENTS.c.sequence, EVENTS.c.leaf_hash)
            .where(EVENTS.c.case_id == case_id)
            .order_by(EVENTS.c.sequence.desc())
            .limit(1)
        )
        with translated(f"reading the head of {case_id} failed"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def read_all(self, *, after_position: int = 0, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every record in position order, fetched in batches of ``batch_size``.

        On PostgreSQL positions are taken at insert and transactions may commit out of
        position order, so a reader that stops at the end can later see a lower position
        appear; the integrator (tree indexes) is what gives a gapless order.
        """
        position = after_position
        while True:
            batch = self._batch(position, batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            position = int(batch[-1].position or 0)

    def _batch(self, after_position: int, size: int) -> list[StoredEvent]:
        query = (
            select(*_COLUMNS)
            .where(EVENTS.c.position > after_position)
            .order_by(EVENTS.c.position)
            .limit(size)
        )
        with translated("reading the ledger failed"), self._engine.connect() as conn:
            return [_from_row(*row) for row in conn.execute(query)]

    def projection(self, case_id: str) -> CaseProjection | None:
        """The case's live projection row, if any."""
        query = select(CASES).where(CASES.c.case_id == case_id)
        with translated(f"reading case {case_id} failed"), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
            return None if row is None else with_case_rows(conn, [_projection(row)])[0]

    def projections(self, case_filter: CaseFilter) -> list[CaseProjection]:
        """Projection rows passing the filter, ordered by case id, after the cursor."""
        f = case_filter
        criteria = [
            column == value
            for column, value in (
                (CASES.c.regie_organisation, f.organisation),
                (CASES.c.phase, f.phase),
                (CASES.c.region, f.region),
            )
            if value is not None
        ]
        if f.deadline_before is not None:
            criteria.append(CASES.c.next_deadline < f.deadline_before)
        if f.after_case_id is not None:
            criteria.append(CASES.c.case_id > f.after_case_id)
        if f.acute is not None:
            criteria.append(CASES.c.acute.is_(f.acute))
        query = select(CASES).where(*criteria).order_by(CASES.c.case_id).limit(f.limit)
        with translated("listing the cases failed"), self._engine.connect() as conn:
            found = [_projection(row) for row in conn.execute(query).mappings()]
            return with_case_rows(conn, found)

    def replace_projections(
        self,
        projections: Iterable[CaseProjection],
        *,
        policy: str | None = None,
        unless_current: bool = False,
    ) -> int | None:
        """Replace every projection row in one transaction; returns how many were written.

        ``policy`` is recorded in the same transaction; with ``unless_current`` nothing is
        replaced (None) when another process recorded it first (judged under the write lock).
        """
        projections = list(projections)
        rows = [_projection_row(p) for p in projections]
        with translated("replacing the projections failed"), self._write() as conn, conn.begin():
            if self._backend == "postgresql":
                conn.execute(_REBUILD_LOCK)
            if unless_current and conn.execute(_PROJECTIONS_POLICY).scalar() == policy:
                return None
            conn.execute(CASES.delete())
            delete_case_rows(conn)
            if rows:
                conn.execute(CASES.insert(), rows)
            write_case_rows(conn, projections)
            if policy is not None:
                conn.execute(_UPSERT_META, {"name": STAMP_PROJECTIONS_POLICY, "value": policy})
        return len(rows)

    def projections_policy(self) -> str | None:
        """The policy fingerprint the projection rows were last rebuilt under."""
        with translated("cannot open the database"), self._engine.connect() as conn:
            found = conn.execute(_PROJECTIONS_POLICY).scalar()
        return None if found is None else str(found)

    def case_key(self, case_id: str) -> WrappedKey | None:
        """The case's wrapped data key, if any."""
        query = select(KEYS).where(KEYS.c.case_id == case_id)
        with translated(f"reading the key of {case_id} failed"), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _wrapped(row)

    def keyed_cases(self, case_ids: Collection[str]) -> set[str]:
        """Those of ``case_ids`` that have a wrapped key (one indexed read per 500 ids)."""
        wanted, found = sorted(case_ids), set[str]()
        with translated("reading which cases have keys failed"), self._engine.connect() as conn:
            for start in range(0, len(wanted), _IN_LIST_SIZE):
                chunk = wanted[start : start + _IN_LIST_SIZE]
                query = select(KEYS.c.case_id).where(KEYS.c.case_id.in_(chunk))
                found.update(str(case_id) for case_id in conn.execute(query).scalars())
        return found

    def add_case_keys(self, keys: Sequence[WrappedKey]) -> list[WrappedKey]:
        """Store each key unless its case has one, in one transaction; return the stored keys.

        A case another writer gave a key first keeps that one: it is what is returned.
        """
        if not keys:
            return []
        rows = [
            {"case_id": k.case_id, "version": k.version, "kek_id": k.kek_id, "wrapped": k.wrapped}
            for k in keys
        ]
        with translated("storing case keys failed"), self._write() as conn, conn.begin():
            conn.execute(_INSERT_KEYS, rows)
            query = select(KEYS).where(KEYS.c.case_id.in_([k.case_id for k in keys]))
            stored = {row["case_id"]: _wrapped(row) for row in conn.execute(query).mappings()}
        return [stored[k.case_id] for k in keys]

    def case_keys(self) -> list[WrappedKey]:
        """Every wrapped case key."""
        with translated("listing the case keys failed"), self._engine.connect() as conn:
            rows = conn.execute(select(KEYS).order_by(KEYS.c.case_id)).mappings().all()
        return [_wrapped(row) for row in rows]

    def rewrap_case_key(self, key: WrappedKey) -> None:
        """Replace a case's wrapped key (same data key, another KEK)."""
        update = (
            KEYS.update()
            .where(KEYS.c.case_id == key.case_id)
            .values(kek_id=key.kek_id, wrapped=key.wrapped, version=key.version)
        )
        message = f"rewrapping the key of case {key.case_id} failed"
        with translated(message), self._write() as conn, conn.begin():
            conn.execute(update)

    def destroy_case_key(self, case_id: str) -> bool:
        """Delete the case's wrapped key and projection row, then scrub freed pages.

        SQLite runs with ``secure_delete`` (freed pages are zeroed) and the WAL is truncated;
        PostgreSQL's ``case_keys`` is vacuumed. Backups still hold the key until they expire.
        """
        with translated(f"destroying the key of case {case_id} failed"):
            with self._write() as conn, conn.begin():
                deleted = conn.execute(KEYS.delete().where(KEYS.c.case_id == case_id)).rowcount
                conn.execute(CASES.delete().where(CASES.c.case_id == case_id))
                delete_case_rows(conn, [case_id])
                conn.execute(INDEX.delete().where(INDEX.c.case_id == case_id))
                self._delete_case_idempotency(conn, case_id)
            self._scrub()
        return bool(deleted)

    def _scrub(self) -> None:
        """Outside any transaction: truncate SQLite's WAL, or vacuum PostgreSQL's key table."""
        raw = self._engine.raw_connection()
        driver_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        try:
            if self._backend == "sqlite":
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                driver: Any = raw.driver_connection  # psycopg: VACUUM needs autocommit
                driver.autocommit = True
                try:
                    raw.cursor().execute("VACUUM case_keys")
                finally:
                    driver.autocommit = False
        except driver_error as exc:  # a raw connection's errors come unwrapped
            raise StoreError("scrubbing freed pages failed", detail=str(exc)) from None
        finally:
            raw.close()

    def integrate(self, *, accept: Callable[[StoredEvent], bool] | None = None) -> int:
        """Give the unindexed records ``accept`` takes the next tree indexes, in position
        order, under one lock; the others keep none."""
        message = "integrating records into the tree failed"
        with translated(message), self._write() as conn, conn.begin():
            if self._backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INTEGRATOR_LOCK})
            return _integrate(conn, accept)

    def tree_leaves(self, *, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The integrated leaves by tree index, from ``start`` up to ``stop`` (a range scan)."""
        query = (
            select(EVENTS.c.leaf_hash)
            .where(EVENTS.c.tree_index >= start)
            .order_by(EVENTS.c.tree_index)
        )
        if stop is not None:
            query = query.where(EVENTS.c.tree_index < stop)
        with translated("reading the tree failed"), self._engine.connect() as conn:
            return [bytes(leaf) for leaf in conn.execute(query).scalars()]

    def tree_entries(self, *, start: int = 0, stop: int | None = None) -> list[TreeEntry]:
        """(case, sequence, leaf) of the integrated records by tree index, in ``[start, stop)``."""
        query = (
            select(EVENTS.c.case_id, EVENTS.c.sequence, EVENTS.c.leaf_hash)
            .where(EVENTS.c.tree_index >= start)
            .order_by(EVENTS.c.tree_index)
        )
        if stop is not None:
            query = query.where(EVENTS.c.tree_index < stop)
        with translated("reading the tree failed"), self._engine.connect() as conn:
            return [(str(c), int(q), bytes(leaf)) for c, q, leaf in conn.execute(query)]

    def heads_at(self, size: int) -> list[TreeEntry]:
        """Each stream's last record among the first ``size`` leaves (one scan, in SQL)."""
        last = (
            select(EVENTS.c.case_id, func.max(EVENTS.c.sequence).label("sequence"))
            .where(EVENTS.c.tree_index < size)
            .group_by(EVENTS.c.case_id)
            .subquery()
        )
        query = select(EVENTS.c.case_id, EVENTS.c.sequence, EVENTS.c.leaf_hash).join(
            last,
            (EVENTS.c.case_id == last.c.case_id) & (EVENTS.c.sequence == last.c.sequence),
        )
        with translated("reading the case heads failed"), self._engine.connect() as conn:
            return [(str(c), int(q), bytes(leaf)) for c, q, leaf in conn.execute(query)]

    def tree_node(self, level: int, index: int) -> bytes | None:
        """The stored root of the perfect subtree ``index`` at ``level``, if kept."""
        query = select(NODES.c.hash).where(NODES.c.level == level, NODES.c.node_index == index)
        with translated("reading the tree failed"), self._engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else bytes(found)

    def add_checkpoint(
        self, *, size: int, note: str, frontier: bytes = b"", nodes: Sequence[TreeNode] = ()
    ) -> None:
        """Keep the first note (and frontier) for each tree size, and the subtree roots it
        completed (each kept once: another signer may have completed them too)."""
        row = {"tree_size": size, "note": note, "frontier": frontier or None}
        node_rows = [{"level": lv, "node_index": i, "hash": h} for lv, i, h in nodes]
        try:
            with self._write() as conn, conn.begin():
                if node_rows:
                    conn.execute(_INSERT_NODES, node_rows)
                conn.execute(CHECKPOINTS.insert(), [row])
        except IntegrityError:
            pass  # a checkpoint of this size exists already
        except DBAPIError as exc:
            raise StoreError("storing a checkpoint failed", detail=str(exc.orig)) from None

    def checkpoints(self) -> list[str]:
        """Every stored note, by tree size."""
        query = select(CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.tree_size)
        with translated("reading the checkpoints failed"), self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def latest_checkpoint(self) -> tuple[int, str, bytes] | None:
        """The largest checkpoint kept with a frontier: size, note, frontier (the key's end)."""
        with translated("reading the checkpoints failed"), self._engine.connect() as conn:
            row = conn.execute(_LATEST_CHECKPOINT).first()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    def find_by_token(self, token: bytes) -> list[str]:
        """The cases a blind-index token points at, sorted."""
        query = select(INDEX.c.case_id).where(INDEX.c.token == token).order_by(INDEX.c.case_id)
        with translated("searching the index failed"), self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def close(self) -> None:
        """Dispose of the connection pool; the store is unusable afterwards."""
        self._engine.dispose()


def _last_sequences(conn: Connection, case_ids: Sequence[str]) -> dict[str, int]:
    """The last sequence of each of these cases that has records."""
    found: dict[str, int] = {}
    for start in range(0, len(case_ids), _IN_LIST_SIZE):
        chunk = list(case_ids[start : start + _IN_LIST_SIZE])
        found.update(conn.execute(_LAST_SEQUENCES, {"case_ids": chunk}).tuples().all())
    return found


def _insert_batch(conn: Connection, appends: Sequence[Append]) -> None:
    """Insert many cases' records, projection and read-model rows, tokens and messages."""
    records = [_event_row(record) for append in appends for record in append.records]
    if records:
        conn.execute(_INSERT_EVENTS, records)
    projections = [append.projection for append in appends if append.projection is not None]
    if projections:
        conn.execute(_UPSERT_PROJECTION, [_projection_row(p) for p in projections])
        for start in range(0, len(projections), _IN_LIST_SIZE):
            delete_case_rows(conn, [p.case_id for p in projections[start : start + _IN_LIST_SIZE]])
        write_case_rows(conn, projections)
    tokens = sorted({(token, append.case_id) for append in appends for token in append.index})
    if tokens:
        conn.execute(_INSERT_TOKENS, [{"token": t, "case_id": c} for t, c in tokens])
    enqueue(conn, [message for append in appends for message in append.outbox])
    insert_idempotency(conn, [a.idempotency for a in appends if a.idempotency is not None])


def _integrate(conn: Connection, accept: Callable[[StoredEvent], bool] | None) -> int:
    """Number the unindexed records ``accept`` takes after the tree's end; return the size.

    Both lookups read the unique index on ``tree_index`` (its last entry, its NULL entries)
    and the new indexes go out in one executemany: O(new records), not O(ledger).
    """
    size = int(conn.execute(_TREE_SIZE).scalar_one())
    records = [_from_row(*row) for row in conn.execute(_WAITING)]
    waiting = [r.position for r in records if accept is None or accept(r)]
    if waiting:
        numbered = [{"at": position, "index": size + n} for n, position in enumerate(waiting)]
        conn.execute(_NUMBER, numbered)
    return size + len(waiting)


def _aware(moment: datetime) -> datetime:
    """A stored moment at UTC: SQLite returns naive UTC, PostgreSQL the session's zone."""
    return as_utc(moment)


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
    values: dict[str, Any] = {name: row[name] for name in _PROJECTION_FIELDS}
    values["opened_at"] = _aware(values["opened_at"])
    values["updated_at"] = _aware(values["updated_at"])
    for name in ("next_deadline", "zicht_until"):
        day = values[name]
        values[name] = day if day is None or isinstance(day, date) else date.fromisoformat(day)
    return CaseProjection(**values)


def _wrapped(row: Any) -> WrappedKey:
    return WrappedKey(
        case_id=row["case_id"],
        version=row["version"],
        kek_id=row["kek_id"],
        wrapped=bytes(row["wrapped"]),
    )
