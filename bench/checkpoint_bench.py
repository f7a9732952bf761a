"""What a signed checkpoint costs as the ledger grows (10,000, 100,000 and 1,000,000 records).

For each size a ledger is built as ``verify_bench.py`` builds one (sealed records of
synthetic cases, written with ``store.append_batch``) and integrated (timed; on PostgreSQL
then analysed, as autovacuum would have), then:

1. the first checkpoint over it is timed (no earlier checkpoint to continue from);
2. ``--rounds`` times, ``--new`` records are appended and a checkpoint is timed: what
   every engine pays once per checkpoint interval (integrating the new records, extending
   the tree, signing, keeping the note). The median is reported.

Each checkpoint's root is checked against ``merkle.root`` over every leaf, outside the
timing. Runs on a SQLite file and, when ``PHASEDCARE_TEST_POSTGRES_URL`` is set, on a fresh
PostgreSQL schema.

Run: ``.venv/bin/python bench/checkpoint_bench.py`` (``--sizes 10000,100000`` to skip the
million, which takes some minutes to build on each database).
"""

from __future__ import annotations

import argparse
import statistics

from _common import print_table, timed
from sqlalchemy import create_engine, text
from verify_bench import Database, Ledger, databases

from phasedcare.ledger.merkle import root
from phasedcare.logs import configure_logging


def timed_checkpoint(ledger: Ledger) -> float:
    """Seconds for one checkpoint; its root is checked against every leaf afterwards."""
    signed = []
    seconds = timed(lambda: signed.append(ledger.auditor.checkpoint()))
    checkpoint = signed[0]
    assert checkpoint is not None
    assert checkpoint.root == root(ledger.store.tree_leaves(stop=checkpoint.size))
    return seconds


def analyse(url: str) -> None:
    """On PostgreSQL, ANALYZE the records, as autovacuum has on a ledger that grew over time.

    Without statistics the planner finds the records to integrate with a bitmap scan that
    visits every row version the bulk integration left dead (0.5 s a checkpoint at a
    million records) instead of an index scan that skips them once marked.
    """
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE event_records"))
        engine.dispose()


def measure(database: Database, size: int, *, new: int, rounds: int) -> tuple[float, ...]:
    """Seconds to integrate ``size`` records, of the first checkpoint, and the later median."""
    with database() as url:
        ledger = Ledger.open(url)
        try:
            ledger.append(size)
            integrate = timed(ledger.store.integrate)
            analyse(url)
            first = timed_checkpoint(ledger)
            later = []
            for _ in range(rounds):
                ledger.append(new)
                later.append(timed_checkpoint(ledger))
        finally:
            ledger.auditor.close()
    return integrate, first, statistics.median(later)


def main() -> None:
    """Measure checkpoints at each size, on SQLite and PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="ledger sizes")
    parser.add_argument("--new", type=int, default=200, help="records appended per round")
    parser.add_argument("--rounds", type=int, default=5, help="checkpoints timed per size")
    args = parser.parse_args()
    configure_logging(level="warning")
    sizes = [int(s) for s in args.sizes.split(",")]
    header = ("records", f"checkpoint +{args.new} (ms)", "first (ms)", "integrate all (ms)")
    for name, database in databases().items():
        rows = []
        for size in sizes:
            integrate, first, later = measure(database, size, new=args.new, rounds=args.rounds)
            rows.append((size, later * 1e3, first * 1e3, integrate * 1e3))
        print(f"\n{name}: median of {args.rounds} checkpoints, each after {args.new} new records")
        print_table(header, rows)


if __name__ == "__main__":
    main()
