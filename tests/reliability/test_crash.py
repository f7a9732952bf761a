"""The crash harness: a writer under load killed with SIGKILL at random moments, many times.

Each writer (``load_writer.write_until_killed``, forked from a forkserver that imported
everything) issues commands from two threads and signs checkpoints from a third; the harness
kills it after a random delay and starts the next. Afterwards every acknowledged command is
in the ledger with its event types, the ledger verifies (every record integrated and
signed), and the live projection, deadline and handover rows equal those rebuilt from the
events. A last test kills a writer at every line of publishing a checkpoint note.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing.context
import multiprocessing.process
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from load_writer import (
    engine_for,
    forkserver,
    ledger_problems,
    prepared_database,
    publish_killed_at,
    write_until_killed,
)

from harness import Harness
from phasedcare.store.witness import FolderWitness

READY_SECONDS = 60
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Writer:
    """One writer process of the harness."""

    process: multiprocessing.process.BaseProcess
    error_file: Path

    def kill(self) -> None:
        """SIGKILL, after checking that nothing else ended it first."""
        assert self.process.is_alive(), self.failure("ended before its kill")
        self.process.kill()
        self.process.join(timeout=READY_SECONDS)
        self.process.close()

    def failure(self, what: str) -> str:
        """What went wrong, with the writer's stderr."""
        errors = self.error_file.read_text() if self.error_file.exists() else ""
        return f"writer {what} (exit code {self.process.exitcode}): {errors}"


def start_writer(
    context: multiprocessing.context.ForkServerContext,
    home: Path,
    url: str,
    acks: Path,
    seed: int,
) -> Writer:
    """Start a writer and wait until its engine is open."""
    ready = context.Event()
    process = context.Process(
        target=write_until_killed, args=(str(home), url, str(acks), seed, ready), daemon=True
    )
    process.start()
    writer = Writer(process, home / f"writer-{seed}.err")
    deadline = time.monotonic() + READY_SECONDS
    while not ready.wait(timeout=0.05):
        assert process.is_alive(), writer.failure("ended before it was ready")
        assert time.monotonic() < deadline, writer.failure("was not ready in time")
    return writer


def kill_writers(home: Path, url: str, acks: Path, *, kills: int, seed: int) -> int:
    """Start, load and SIGKILL a writer ``kills`` times, each after a random delay."""
    rng = random.Random(seed)
    context = forkserver()
    for number in range(1, kills + 1):
        writer = start_writer(context, home, url, acks, seed=number)
        time.sleep(rng.uniform(0.0, 1.2))
        writer.kill()
    return kills


def acknowledged(acks: Path) -> list[dict[str, Any]]:
    """Every complete ack line (a kill can cut only the last one, which was never acked)."""
    text = acks.read_text(encoding="utf-8") if acks.exists() else ""
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def lost(acks: list[dict[str, Any]], types: dict[str, list[str]]) -> list[str]:
    """Acked commands whose events are not at their sequences with their types."""
    missing = []
    for ack in acks:
        first = ack["sequence"] - len(ack["events"])
        found = types.get(ack["case"], [])[first : ack["sequence"]]
        if found != ack["events"]:
            missing.append(f"{ack['case']}#{ack['sequence']} {ack['events']}: found {found}")
    return missing


def check_after_crashes(home: Path, url: str, acks_file: Path) -> int:
    """Assert no ack is lost and everything verifies; return how many acks were checked."""
    acks = acknowledged(acks_file)
    engine = engine_for(str(home), url)
    try:
        types = {
            case_id: [record.header.event_type for record in engine.store.load(case_id)]
            for case_id in {ack["case"] for ack in acks}
        }
        assert lost(acks, types) == []
        assert ledger_problems(engine) == []
    finally:
        engine.close()
    return len(acks)


def crash_run(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, harness: Harness, kills: int
) -> None:
    """Kill writers ``kills`` times on ``backend``, check, and count for the harness report."""
    home = tmp_path / "home"
    url = prepared_database(backend, home, lambda: str(request.getfixturevalue("postgres_url")))
    acks = home / "acks.jsonl"
    survived = kill_writers(home, url, acks, kills=kills, seed=kills)
    checked = check_after_crashes(home, url, acks)
    assert checked >= kills, f"only {checked} commands acknowledged in {kills} kills: no load"
    harness.count("crash: kills survived", survived)
    harness.count("crash: acknowledged commands checked", checked)


@pytest.mark.parametrize("backend", BACKENDS)
def test_writer_killed_at_random_loses_no_acknowledged_command(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, harness: Harness
) -> None:
    """15 SIGKILLs under load: every ack kept, the ledger verifies, projections equal a rebuild."""
    crash_run(backend, tmp_path, request, harness, kills=15)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("backend", BACKENDS)
def test_writer_killed_two_hundred_times_loses_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, harness: Harness
) -> None:
    """200 SIGKILLs per backend, checked as above.

    Run: ``PHASEDCARE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/pytest -m slow tests/reliability/test_crash.py`` (3-4 minutes per backend).
    """
    crash_run(backend, tmp_path, request, harness, kills=200)


def test_writer_killed_at_every_step_of_publishing_leaves_no_partial_note(
    tmp_path: Path, harness: Harness
) -> None:
    """SIGKILL at each line the witness runs: a restarted publish then leaves the whole note.

    A partial note (say, an empty file from a kill between creating it and writing it) would
    fail verification and, as the first write wins, block the real note for good.
    """
    note = "phasedcare/test\n1\nsynthetic root\n\n- a synthetic signature\n"
    context = forkserver()
    for step in itertools.count(1):
        folder = tmp_path / f"witness-{step}"
        process = context.Process(target=publish_killed_at, args=(str(folder), step, note))
        process.start()
        process.join(timeout=READY_SECONDS)
        exitcode = process.exitcode
        process.close()
        if exitcode == 0:
            break
        assert exitcode == -signal.SIGKILL
        FolderWitness(folder).publish(size=1, note=note)  # the restarted writer signs again
        assert FolderWitness(folder).notes() == [note], f"killed at step {step}"
        harness.count("crash: kills survived")
    assert step > 3, "the witness ran fewer lines than expected: is the trace working?"
