"""What full ledger verification costs, against hashing the same bytes and reading the rows.

A ledger of N sealed records (default 50,000) is built through the store: a synthetic case
walked once by an in-memory engine (its events and its access log) is re-encoded with the
record codec, sealed under a fresh data key per case, for as many cases as N needs, written
with ``store.append_batch``, integrated and covered by one signed checkpoint. On a SQLite
file and, when ``PHASEDCARE_TEST_POSTGRES_URL`` is set, on a fresh PostgreSQL schema, it
times (best of three):

1. verification: ``Auditor.verify()`` (chains, leaf hashes, tree, checkpoints), what
   ``engine.auditor.verify()`` and ``phasedcare audit verify`` run;
2. reading the rows only: ``store.read_all()`` to the end;
3. raw SHA-256 over the bytes verification hashes: each record's leaf-hash input (0x00,
   framed header, framed payload, previous leaf), and those plus the tree's interior nodes.

Run: ``.venv/bin/python bench/verify_bench.py`` (``--records N``; ``--profile`` prints a
pyinstrument profile of one verification on SQLite).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from _common import best, fresh_postgres_schema, postgres_base_url, print_table, ratio

from phasedcare.domain.events import DomainEvent
from phasedcare.ledger.chain import GENESIS, canonical_header
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, CheckpointKey, InMemoryKeyProvider
from phasedcare.ledger.merkle import node_hash
from phasedcare.ledger.records import StoredEvent
from phasedcare.logs import configure_logging
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import utc_now
from phasedcare.service.ports import Append
from phasedcare.store import InMemoryEventStore, SqlEventStore
from phasedcare.store.migrate import upgrade_database
from phasedcare.testing import ManualClock, actor_of, memory_engine

BATCH = 5000
"""Records per ``append_batch`` while building."""

Database = Callable[[], AbstractContextManager[str]]
"""Gives the URL of a fresh, migrated database for the length of a ``with``."""


@dataclass
class Ledger:
    """A store and an auditor (fresh checkpoint key) over it."""

    store: SqlEventStore
    auditor: Auditor

    @classmethod
    def open(cls, url: str) -> Ledger:
        """The ledger at ``url``."""
        store = SqlEventStore(url)
        auditor = Auditor(
            store=store,
            key=CheckpointKey.generate(),
            origin="phasedcare/bench",
            witness=None,
            clock=utc_now,
            interval=timedelta(days=1),
        )
        return cls(store, auditor)

    def append(self, count: int) -> None:
        """Append ``count`` new sealed records, ``BATCH`` per transaction, unintegrated, and
        their cases' wrapped data keys (verify reports sealed records without a key)."""
        keys = InMemoryEventStore()
        records = sealed_records(count, keys)
        while batch := list(itertools.islice(records, BATCH)):
            appends = []
            for case_id, group in itertools.groupby(batch, lambda r: r.header.case_id):
                stream = list(group)  # a stream cut by the batch goes on in the next one
                appends.append(Append(case_id, stream[0].header.sequence - 1, stream, None))
            self.store.append_batch(appends)
        self.store.add_case_keys(keys.case_keys())


def template_streams() -> dict[str, list[DomainEvent]]:
    """One synthetic case's events and its access log, by stream suffix, as an engine wrote them."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = memory_engine(clock=clock)
    vt = actor_of("vt-ijsselland", user="u-vt-bench")
    case_id = engine.open_case(actor=vt, via="melding", summary="Synthetic melding").case_id
    engine.record_member(case_id, actor=vt, role="slachtoffer", name="Anna Voorbeeld")
    engine.record_member(case_id, actor=vt, role="kind", name="Cato Voorbeeld")
    engine.fire(case_id, "start_directe_veiligheid", actor=vt)
    engine.add_safety_condition(
        case_id,
        actor=vt,
        statement="No violence (synthetic)",
        owner="vt-ijsselland",
        check_every_days=7,
    )
    for _ in range(6):
        clock.advance(days=7)
        engine.record_condition_status(
            case_id,
            actor=vt,
            condition_id="c1",
            status="met",
            observed_on=clock.today,
            evidence="Checked at a home visit (synthetic).",
        )
        engine.show(case_id, actor=vt)
    store, codec = engine.store, engine._codec
    streams = [case_id, f"{case_id}~access"]
    return {stream.replace(case_id, ""): codec.decode(store.load(stream)) for stream in streams}


def sealed_records(count: int, keys: InMemoryEventStore) -> Iterator[StoredEvent]:
    """``count`` sealed, chained records: template cases under fresh ids and data keys, the
    wrapped keys kept in ``keys``."""
    template = template_streams()
    codec = RecordCodec(keys=CaseKeys(keys, InMemoryKeyProvider()))
    cases = (f"c-{uuid.uuid4().hex[:16]}" for _ in itertools.count())
    streams = (
        codec.encode(
            [e.model_copy(update={"case_id": case + suffix}) for e in events], after_sequence=0
        )
        for case in cases
        for suffix, events in template.items()
    )
    return itertools.islice(itertools.chain.from_iterable(streams), count)


@contextmanager
def sqlite_file() -> Iterator[str]:
    """A migrated, empty SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    """A migrated, empty PostgreSQL schema, dropped afterwards."""
    with fresh_postgres_schema(postgres_base_url() or "", prefix="verify") as schema:
        upgrade_database(schema.url)
        yield schema.url


def databases() -> dict[str, Database]:
    """SQLite, and PostgreSQL when ``PHASEDCARE_TEST_POSTGRES_URL`` is set (else a note)."""
    if postgres_base_url() is None:
        print("PostgreSQL skipped: PHASEDCARE_TEST_POSTGRES_URL is unset")
        return {"SQLite": sqlite_file}
    return {"SQLite": sqlite_file, "PostgreSQL": postgres_database}


def hash_inputs(records: list[StoredEvent]) -> tuple[list[bytes], list[bytes]]:
    """The leaf-hash input of every record, and the interior-node inputs of their tree."""
    heads: dict[str, bytes] = {}
    leaves = []
    for record in records:
        header = canonical_header(record.header)
        previous = heads.get(record.header.case_id, GENESIS)
        leaves.append(
            b"\x00"
            + len(header).to_bytes(8, "big")
            + header
            + len(record.payload).to_bytes(8, "big")
            + record.payload
            + previous
        )
        heads[record.header.case_id] = record.leaf_hash
    level = [r.leaf_hash for r in records]
    nodes = []
    while len(level) > 1:  # RFC 9162's tree, built level by level: n - 1 interior nodes
        pairs = [(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        nodes.extend(b"\x01" + left + right for left, right in pairs)
        level = [node_hash(left, right) for left, right in pairs] + level[len(pairs) * 2 :]
    return leaves, nodes


def measure(ledger: Ledger, count: int) -> dict[str, float]:
    """Seconds to verify, to read every row, and to SHA-256 the verified bytes."""
    report = ledger.auditor.verify()
    assert report.intact, report.problems[:3]
    assert (report.records, report.tree_size) == (count, count)
    leaves, nodes = hash_inputs(list(ledger.store.read_all()))
    return {
        "verify": best(ledger.auditor.verify, repeat=3),
        "read_all": best(lambda: sum(1 for _ in ledger.store.read_all()), repeat=3),
        "raw SHA-256, leaf inputs": best(
            lambda: [hashlib.sha256(b).digest() for b in leaves], repeat=3
        ),
        "raw SHA-256, leaves + nodes": best(
            lambda: [hashlib.sha256(b).digest() for b in leaves + nodes], repeat=3
        ),
    }


def profile(ledger: Ledger) -> None:
    """Print a pyinstrument profile of one verification."""
    from pyinstrument import Profiler  # noqa: PLC0415 - a development tool, only here

    profiler = Profiler(interval=0.0005)
    profiler.start()
    ledger.auditor.verify()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def report(name: str, count: int, figures: dict[str, float]) -> None:
    """Print one database's figures: seconds, per record, and verification's time over each."""
    verify = figures["verify"]
    print(f"\n{name}, {count:,} records: {count / verify:,.0f} records/s verified")
    rows = [
        (label, seconds, seconds / count * 1e6, ratio(verify, seconds))
        for label, seconds in figures.items()
    ]
    print_table(("", "seconds", "µs/record", "verify is"), rows)


def main() -> None:
    """Build a ledger on each database, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records in the ledger")
    parser.add_argument("--profile", action="store_true", help="profile one verification")
    args = parser.parse_args()
    configure_logging(level="warning")
    for name, database in databases().items():
        with database() as url:
            ledger = Ledger.open(url)
            ledger.append(args.records)
            ledger.auditor.checkpoint()
            report(name, args.records, measure(ledger, args.records))
            if args.profile and name == "SQLite":
                profile(ledger)
            ledger.auditor.close()


if __name__ == "__main__":
    main()
