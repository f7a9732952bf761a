"""The event commit rate of phasedcare's command path, against eventsourcing and raw inserts.

One command per transaction, on a SQLite file (WAL, ``synchronous=FULL``) and, when
``PHASEDCARE_TEST_POSTGRES_URL`` is set, on a fresh PostgreSQL schema (server defaults:
``synchronous_commit=on``). Every arm writes into the same database, one comparable event
per transaction, and every figure is compared with the others measured in the same run
(interleaved rounds, fastest of ``--repeat``):

(a) phasedcare: ``Engine.record_condition_status`` on existing cases (authorise, load by
    folding, decide, seal, chain, append with the projection row; one
    ``SafetyConditionStatusRecorded`` event each);
(b) eventsourcing: load a ``Household`` aggregate from its repository, record the same
    check, ``save`` it (AES-256-GCM cipher on);
(c) raw: one ``INSERT`` and ``COMMIT`` per event of the very bytes phasedcare sealed.

Then bulk import, many new cases of three events in one transaction: phasedcare's
``Engine.import_lines`` (``phasedcare import``: JSON Lines validated, decided, sealed and
appended with ``append_batch``), eventsourcing saving as many new aggregates in one ``save``,
and one ``executemany`` of the same bytes.

Run: ``.venv/bin/python bench/commit_bench.py`` (``--commands N`` per round, ``--cases N``,
``--repeat N`` rounds, ``--bulk N`` cases per import, ``--bulk-repeat N``, ``--databases
sqlite postgresql``, ``--arms phasedcare eventsourcing raw``, ``--folder DIR``).
Profile the command path: ``.venv/bin/pyinstrument bench/commit_bench.py --arms phasedcare
--databases sqlite --commands 2000 --repeat 1 --bulk 0`` (add ``--folder /dev/shm`` to leave
out the disk's fsync and see the CPU's share).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    CHECK,
    CONDITION,
    EVIDENCE,
    best_each,
    eventsourcing_app,
    eventsourcing_postgres_env,
    eventsourcing_sqlite_env,
    fresh_postgres_schema,
    household_type,
    phasedcare_engine,
    postgres_base_url,
    print_table,
    ratio,
    sqlite_connection,
)

from phasedcare.testing import actor_of

VT = actor_of("vt-ijsselland", user="u-vt-bench")
CHECKED = {"condition_id": "c1", "status": "met", "observed_on": "2026-03-02", "evidence": EVIDENCE}
ARMS = ("phasedcare", "eventsourcing", "raw")
RAW_TABLE = "raw_events"


@dataclass
class Database:
    """One database the three arms share, and how to reach it raw."""

    label: str
    phasedcare_url: str | None  # None: SQLite in the phasedcare home
    eventsourcing_env: dict[str, str]
    raw: RawWriter


@dataclass
class RawWriter:
    """Plain-table inserts over a DB-API connection: the floor of one durable commit."""

    connection: Any
    begin: str | None  # SQLite needs an explicit BEGIN; psycopg begins by itself
    placeholder: str
    blob_type: str
    rows: itertools.count[int] = field(default_factory=itertools.count)

    def create_table(self) -> None:
        """The plain table: a key, a stream id, a sequence and the payload."""
        self._run(
            f"CREATE TABLE {RAW_TABLE} (id INTEGER PRIMARY KEY, "
            f"stream TEXT NOT NULL, sequence INTEGER NOT NULL, payload {self.blob_type} NOT NULL)"
        )

    def insert_each(self, payloads: list[bytes]) -> None:
        """One INSERT and one COMMIT per payload."""
        statement = self._insert
        for payload in payloads:
            self._transaction(lambda cursor, p=payload: cursor.execute(statement, self._row(p)))

    def insert_many(self, payloads: list[bytes]) -> None:
        """All payloads in one transaction, with ``executemany``."""
        rows = [self._row(p) for p in payloads]
        self._transaction(lambda cursor: cursor.executemany(self._insert, rows))

    @property
    def _insert(self) -> str:
        marks = ", ".join([self.placeholder] * 4)
        return f"INSERT INTO {RAW_TABLE} (id, stream, sequence, payload) VALUES ({marks})"  # noqa: S608

    def _row(self, payload: bytes) -> tuple[int, str, int, bytes]:
        number = next(self.rows) + 1
        return (number, f"c-raw-{number % 1000:04d}", number, payload)

    def _run(self, statement: str) -> None:
        self._transaction(lambda cursor: cursor.execute(statement))

    def _transaction(self, work: Callable[[Any], Any]) -> None:
        cursor = self.connection.cursor()
        if self.begin:
            cursor.execute(self.begin)
        work(cursor)
        if self.begin:
            cursor.execute("COMMIT")
        else:
            self.connection.commit()
        cursor.close()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Database]:
    """phasedcare's SQLite file in a new home, shared by all three arms."""
    path = folder / "phasedcare.db"
    phasedcare_engine(folder).close()  # initialise: create and migrate the file
    raw = RawWriter(
        sqlite_connection(path), begin="BEGIN IMMEDIATE", placeholder="?", blob_type="BLOB"
    )
    try:
        yield Database("SQLite (WAL, synchronous=FULL)", None, eventsourcing_sqlite_env(path), raw)
    finally:
        raw.close()


@contextmanager
def postgres_database(base_url: str) -> Iterator[Database]:
    """A fresh schema on the test server, shared by all three arms."""
    import psycopg  # noqa: PLC0415 - only with PostgreSQL

    with fresh_postgres_schema(base_url, prefix="commit_bench") as schema:
        connection = psycopg.connect(schema.conninfo)
        settings = connection.execute("SHOW synchronous_commit").fetchone()
        connection.commit()
        raw = RawWriter(connection, begin=None, placeholder="%s", blob_type="BYTEA")
        try:
            yield Database(
                f"PostgreSQL (synchronous_commit={settings[0] if settings else '?'})",
                schema.url,
                eventsourcing_postgres_env(schema),
                raw,
            )
        finally:
            raw.close()


# -- the arms -----------------------------------------------------------------------------


@dataclass
class Arms:
    """The three writers over one database, their existing cases, and the bytes to insert raw."""

    engine: Any
    app: Any
    raw: RawWriter
    case_ids: list[str]
    household_ids: list[Any]
    payloads: list[bytes] = field(default_factory=list)  # a check's, as sealed for each case
    histories: list[bytes] = field(default_factory=list)  # each case's three records' payloads

    def phasedcare_commands(self, count: int) -> Callable[[], None]:
        """``count`` condition checks through the engine, one per case in turn."""
        observed_on = datetime.now(UTC).date()
        cases = itertools.cycle(self.case_ids)

        def run() -> None:
            for _ in range(count):
                self.engine.record_condition_status(
                    next(cases),
                    actor=VT,
                    condition_id="c1",
                    status="met",
                    observed_on=observed_on,
                    evidence=EVIDENCE,
                )

        return run

    def eventsourcing_commands(self, count: int) -> Callable[[], None]:
        """``count`` times: load a household, record a check, save it."""
        households = itertools.cycle(self.household_ids)

        def run() -> None:
            for _ in range(count):
                household = self.app.repository.get(next(households))
                household.check(*CHECK)
                self.app.save(household)

        return run

    def raw_inserts(self, count: int) -> Callable[[], None]:
        """``count`` single-row transactions of the bytes phasedcare sealed."""
        payloads = list(itertools.islice(itertools.cycle(self.payloads), count))
        return lambda: self.raw.insert_each(payloads)


def prepare(database: Database, home: Path, *, cases: int) -> Arms:
    """Open ``cases`` cases (one condition each) and as many households (one check each)."""
    engine = phasedcare_engine(home, database_url=database.phasedcare_url)
    case_ids = [_new_case(engine) for _ in range(cases)]
    app = eventsourcing_app(database.eventsourcing_env)
    households = [household_type()() for _ in range(cases)]
    for household in households:
        household.check(*CHECK)
    app.save(*households)
    database.raw.create_table()
    arms = Arms(engine, app, database.raw, case_ids, [h.id for h in households])
    arms.phasedcare_commands(cases)()  # warm up; and the bytes phasedcare seals for a case
    stored = [engine.store.load(case_id) for case_id in case_ids]
    assert {len(records) for records in stored} == {3}
    arms.payloads = [records[-1].payload for records in stored]
    arms.histories = [record.payload for records in stored for record in records]
    return arms


def _new_case(engine: Any) -> str:
    case_id: str = engine.open_case(actor=VT, via="melding").case_id
    engine.add_safety_condition(case_id, actor=VT, **CONDITION)
    return case_id


# -- measuring ----------------------------------------------------------------------------


def commit_rates(arms: Arms, chosen: list[str], *, commands: int, repeat: int) -> dict[str, float]:
    """Seconds per event of each chosen arm, one event per transaction."""
    runs = {
        "phasedcare": arms.phasedcare_commands(commands),
        "eventsourcing": arms.eventsourcing_commands(commands),
        "raw": arms.raw_inserts(commands),
    }
    seconds = best_each({name: runs[name] for name in chosen}, repeat=repeat)
    return {name: s / commands for name, s in seconds.items()}


def bulk_rates(arms: Arms, chosen: list[str], *, cases: int, repeat: int) -> dict[str, float]:
    """Seconds per event of importing ``cases`` new cases of three events in one transaction."""
    household = household_type()

    def eventsourcing_bulk() -> None:
        fresh = [household() for _ in range(cases)]
        for h in fresh:
            h.check(*CHECK)
            h.check(*CHECK)
        arms.app.save(*fresh)

    payloads = list(itertools.islice(itertools.cycle(arms.histories), 3 * cases))
    runs: dict[str, Callable[[], None]] = {
        "phasedcare": phasedcare_import(arms.engine, cases=cases, files=repeat),
        "eventsourcing": eventsourcing_bulk,
        "raw": lambda: arms.raw.insert_many(payloads),
    }
    seconds = best_each({name: run for name, run in runs.items() if name in chosen}, repeat=repeat)
    return {name: s / (3 * cases) for name, s in seconds.items()}


def phasedcare_import(engine: Any, *, cases: int, files: int) -> Callable[[], None]:
    """``Engine.import_lines`` of ``cases`` new cases (open, condition, check) in one batch.

    The files are made beforehand, one per run, so that each run imports cases of its own.
    """
    made = iter([list(import_file(cases, prefix=f"c-bulk{n}")) for n in range(files)])

    def run() -> None:
        report = engine.import_lines(next(made), actor=VT, batch_size=3 * cases)
        assert (report.events, report.batches) == (3 * cases, 1)

    return run


def import_file(cases: int, *, prefix: str) -> Iterator[str]:
    """JSON Lines of ``cases`` case histories: opened, a safety condition, one check each."""
    actor = str(VT)
    for number in range(cases):
        case_id = f"{prefix}-{number:06d}"
        commands: list[tuple[str, dict[str, Any]]] = [
            ("OpenCase", {"case_id": case_id, "via": "melding"}),
            ("AddSafetyCondition", {"case_id": case_id, **CONDITION}),
            ("RecordConditionStatus", {"case_id": case_id, **CHECKED}),
        ]
        for name, fields in commands:
            line = {"at": "2026-03-02T09:00:00+00:00", "actor": actor, "command": name}
            yield json.dumps({**line, "fields": fields})


# -- reporting ----------------------------------------------------------------------------

LABELS = {
    "commit": {
        "raw": "raw INSERT + COMMIT (same bytes)",
        "eventsourcing": "eventsourcing: get, check, save",
        "phasedcare": "phasedcare: record_condition_status",
    },
    "bulk": {
        "raw": "raw executemany, one COMMIT",
        "eventsourcing": "eventsourcing: save(*households)",
        "phasedcare": "phasedcare import",
    },
}


def report(title: str, kind: str, per_event: dict[str, float]) -> None:
    """One table: events/s, µs per event, and ratios to raw and to eventsourcing."""
    print(title)
    raw, peer = per_event.get("raw"), per_event.get("eventsourcing")
    rows = [
        [
            LABELS[kind][name],
            round(1 / seconds),
            seconds * 1e6,
            ratio(seconds, raw) if raw else "-",
            ratio(peer, seconds) if peer else "-",
        ]
        for name, seconds in sorted(per_event.items(), key=lambda item: item[1])
    ]
    print_table(["arm", "events/s", "µs/event", "time x raw", "speed x eventsourcing"], rows)
    print()


def payload_sizes(arms: Arms) -> str:
    """The mean stored payload of a check, in bytes, for phasedcare and eventsourcing."""
    ours = sum(map(len, arms.payloads)) / len(arms.payloads)
    recorded = arms.app.repository.event_store.recorder.select_events(arms.household_ids[0])
    theirs = [len(r.state) for r in recorded if r.topic.endswith("ConditionChecked")]
    return f"payload bytes per check: phasedcare {ours:.0f} (sealed), eventsourcing {sum(theirs) / len(theirs):.0f} (encrypted)"


def measure(database: Database, home: Path, args: argparse.Namespace) -> None:
    """Prepare the arms on one database, run both measurements, print both tables."""
    arms = prepare(database, home, cases=args.cases)
    try:
        commit = commit_rates(arms, args.arms, commands=args.commands, repeat=args.repeat)
        report(
            f"{database.label}: one event per transaction, {args.commands} commands over "
            f"{args.cases} cases per round, fastest of {args.repeat}; {payload_sizes(arms)}",
            "commit",
            commit,
        )
        if args.bulk:
            bulk = bulk_rates(arms, args.arms, cases=args.bulk, repeat=args.bulk_repeat)
            report(
                f"{database.label}: bulk import, {args.bulk} cases of 3 events in one "
                f"transaction, fastest of {args.bulk_repeat}",
                "bulk",
                bulk,
            )
    finally:
        arms.engine.close()
        arms.app.close()


def main() -> None:
    """Measure on each chosen database and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100, help="commands per arm per round")
    parser.add_argument("--cases", type=int, default=200, help="existing cases the commands use")
    parser.add_argument("--repeat", type=int, default=15, help="rounds of commands (fastest kept)")
    parser.add_argument("--bulk", type=int, default=200, help="cases per bulk import (0: none)")
    parser.add_argument("--bulk-repeat", type=int, default=3, help="rounds of bulk imports")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument(
        "--folder", type=Path, help="where the SQLite home goes (/dev/shm: no fsync, CPU only)"
    )
    args = parser.parse_args()
    base_url = postgres_base_url()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        if "sqlite" in args.databases:
            with sqlite_database(Path(tmp) / "sqlite") as sqlite:
                measure(sqlite, Path(tmp) / "sqlite", args)
        if "postgresql" in args.databases and base_url is None:
            print("PostgreSQL skipped: PHASEDCARE_TEST_POSTGRES_URL is unset")
        elif "postgresql" in args.databases:
            with postgres_database(base_url) as postgres:
                measure(postgres, Path(tmp) / "postgresql", args)


if __name__ == "__main__":
    main()
