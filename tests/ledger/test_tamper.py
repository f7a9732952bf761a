"""The tamper suite: random mutations made in the database itself are all detected.

A small region is written through the engine into SQLite and checkpointed; then each
mutation is applied to a copy of the database file with plain SQL, as an operator with
database access could, and ``verify`` (public key only) must report it, naming the first
bad record where one record is at fault.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import Harness
from phasedcare.bootstrap import build, build_verifier, initialise
from phasedcare.config import Settings
from phasedcare.ledger.verify import VerifyReport
from phasedcare.testing import ManualClock, actor_of
from support import Journey

MUTATIONS_PER_KIND = int(os.environ.get("PHASEDCARE_TAMPER_MUTATIONS", "120"))

Mutation = Callable[[sqlite3.Connection, random.Random], int | None]
"""Changes the database; returns the position of the first record that is now bad, if one."""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with six checkpointed households, written through the engine."""
    home = tmp_path_factory.mktemp("pristine")
    settings = Settings(home=home)
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    vt, wijkteam = (
        actor_of("vt-ijsselland", user="u-vt-01"),
        actor_of("wijkteam-zwolle", user="u-wt-01"),
    )
    for step in (
        "opened",
        "in_directe_veiligheid",
        "in_stabiele_veiligheid",
        "in_herstel",
        "opened",
        "in_directe_veiligheid",
    ):
        getattr(Journey(engine, clock, vt, wijkteam), step)()
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    engine.close()
    return home


def verify(home: Path) -> VerifyReport:
    """Verify a home with its public key only."""
    verifier = build_verifier(Settings(home=home))
    try:
        return verifier.verify()
    finally:
        verifier.close()


def rows(db: sqlite3.Connection) -> list[tuple[int, str, int]]:
    """(position, case, sequence) of every record."""
    return db.execute(
        "select position, case_id, sequence from event_records order by position"
    ).fetchall()


def pick(db: sqlite3.Connection, rng: random.Random) -> tuple[int, str, int]:
    """A random record."""
    return rng.choice(rows(db))


def flip(value: bytes, rng: random.Random) -> bytes:
    """``value`` with one random bit flipped."""
    data = bytearray(value)
    index = rng.randrange(len(data))
    data[index] ^= 1 << rng.randrange(8)
    return bytes(data)


def flip_column(column: str) -> Mutation:
    """Flip one bit of a bytes column of a random record."""

    def mutate(db: sqlite3.Connection, rng: random.Random) -> int:
        position, _, _ = pick(db, rng)
        (value,) = db.execute(
            f"select {column} from event_records where position = ?", (position,)
        ).fetchone()
        db.execute(
            f"update event_records set {column} = ? where position = ?",
            (flip(value, rng), position),
        )
        return position

    return mutate


def alter_header(db: sqlite3.Connection, rng: random.Random) -> int:
    """Change one header field of a random record."""
    position, _, _ = pick(db, rng)
    change = rng.choice(
        [
            "event_type = event_type || 'x'",
            "recorded_at = datetime(recorded_at, '+1 second')",
            "key_id = '2'",
            "schema_version = schema_version + 1",
        ]
    )
    db.execute(f"update event_records set {change} where position = ?", (position,))
    return position


def delete_record(db: sqlite3.Connection, rng: random.Random) -> int | None:
    """Delete a random record; the next record of its case (if any) is the first bad one."""
    position, case_id, sequence = pick(db, rng)
    db.execute("delete from event_records where position = ?", (position,))
    after = db.execute(
        "select min(position) from event_records where case_id = ? and sequence > ?",
        (case_id, sequence),
    ).fetchone()[0]
    return after


def swap_records(db: sqlite3.Connection, rng: random.Random) -> int:
    """Swap the sequence numbers of two records of one case (reordering)."""
    every = rows(db)
    position, case_id, _ = rng.choice([r for r in every if sum(o[1] == r[1] for o in every) > 1])
    others = [r for r in every if r[1] == case_id and r[0] != position]
    other = rng.choice(others)
    first, second = sorted([(position, _seq(db, position)), (other[0], other[2])])
    db.execute("update event_records set sequence = -1 where position = ?", (first[0],))
    db.execute("update event_records set sequence = ? where position = ?", (first[1], second[0]))
    db.execute("update event_records set sequence = ? where position = ?", (second[1], first[0]))
    return first[0]


def _seq(db: sqlite3.Connection, position: int) -> int:
    return int(
        db.execute("select sequence from event_records where position = ?", (position,)).fetchone()[
            0
        ]
    )


def duplicate_record(db: sqlite3.Connection, rng: random.Random) -> int:
    """Copy a record to the end of its case under the next sequence number."""
    position, case_id, _ = pick(db, rng)
    last = db.execute(
        "select max(sequence) from event_records where case_id = ?", (case_id,)
    ).fetchone()[0]
    db.execute(
        "insert into event_records (case_id, sequence, event_type, schema_version, recorded_at, key_id, payload, leaf_hash, tree_index) "
        "select case_id, ?, event_type, schema_version, recorded_at, key_id, payload, leaf_hash, null from event_records where position = ?",
        (last + 1, position),
    )
    return int(db.execute("select max(position) from event_records").fetchone()[0])


def splice_from_another_case(db: sqlite3.Connection, rng: random.Random) -> int:
    """Move a record of one case onto the end of another."""
    position, case_id, _ = pick(db, rng)
    target = rng.choice(
        [c for (c,) in db.execute("select distinct case_id from event_records") if c != case_id]
    )
    last = db.execute(
        "select max(sequence) from event_records where case_id = ?", (target,)
    ).fetchone()[0]
    db.execute(
        "update event_records set case_id = ?, sequence = ?, tree_index = null where position = ?",
        (target, last + 1, position),
    )
    return position


def truncate(db: sqlite3.Connection, rng: random.Random) -> None:
    """Delete the newest records (the tail), as a rollback would."""
    count = rng.randint(1, 5)
    db.execute(
        "delete from event_records where position in (select position from event_records order by position desc limit ?)",
        (count,),
    )


def rollback_checkpoint(db: sqlite3.Connection, rng: random.Random) -> None:
    """Truncate and put an old checkpoint back, as a restored backup would (the witness keeps the new one)."""
    truncate(db, rng)
    db.execute("delete from checkpoints where tree_size = (select max(tree_size) from checkpoints)")


MUTATIONS: dict[str, Mutation] = {
    "payload bit": flip_column("payload"),
    "leaf hash bit": flip_column("leaf_hash"),
    "header field": alter_header,
    "deleted record": delete_record,
    "reordered records": swap_records,
    "duplicated record": duplicate_record,
    "spliced record": splice_from_another_case,
    "truncated tail": truncate,
    "old checkpoint replayed": rollback_checkpoint,
}


def test_the_pristine_ledger_verifies(pristine: Path) -> None:
    """Before any mutation: intact, every record in the tree, both checkpoints valid."""
    report = verify(pristine)
    assert report.intact, report.problems
    assert report.records == report.tree_size > 50
    assert len(report.checkpoints) >= 1


@pytest.mark.parametrize("kind", list(MUTATIONS))
def test_every_mutation_is_detected_at_the_first_bad_record(
    pristine: Path, tmp_path: Path, kind: str, harness: Harness
) -> None:
    """Each random mutation of this kind is detected; record-level ones name their record."""
    rng = random.Random(f"{kind}-7")
    detected = 0
    for attempt in range(MUTATIONS_PER_KIND):
        home = tmp_path / f"m{attempt}"
        shutil.copytree(pristine, home)
        with sqlite3.connect(home / "phasedcare.db") as db:
            first_bad = MUTATIONS[kind](db, rng)
        report = verify(home)
        assert not report.intact, f"{kind} #{attempt} went undetected"
        if first_bad is not None:
            assert report.problems[0].position == first_bad, (kind, attempt, report.problems[0])
        detected += 1
        shutil.rmtree(home)
    print(f"{kind}: {detected} of {MUTATIONS_PER_KIND} mutations detected")
    harness.count("tamper: mutations detected", detected)
