"""Writer processes for the multi-writer ledger test (spawned, so importable), and the helper
that runs processes side by side (the reliability harnesses use it too)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phasedcare.bootstrap import build
from phasedcare.config import Settings
from phasedcare.testing import actor_of


def write_cases(home: str, url: str, cases: int, results: Any) -> None:
    """Open cases and record members, signing a checkpoint after every commit."""
    settings = Settings(home=Path(home), database_url=url, checkpoint_interval_seconds=1)
    engine = build(settings)
    vt = actor_of("vt-ijsselland")
    written = 0
    for _ in range(cases):
        case_id = engine.open_case(actor=vt, via="melding").case_id
        engine.record_member(case_id, actor=vt, role="kind", name="Noor Proefmans")
        assert engine.auditor is not None
        engine.auditor.checkpoint()
        written += 2
    engine.close()
    results.put(written)


def run_processes(
    target: Callable[..., None],
    arguments: list[tuple[Any, ...]],
    *,
    context: multiprocessing.context.BaseContext | None = None,
) -> list[Any]:
    """Run ``target(*args, results)`` in one process per argument tuple (spawned unless a
    context is given), side by side; what each put on ``results``, in the order they put it."""
    context = context or multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=target, args=(*args, results)) for args in arguments]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return found


def run_writers(home: Path, url: str, processes: int, cases: int) -> int:
    """Run the writers side by side; the number of records they wrote in all."""
    return sum(run_processes(write_cases, [(str(home), url, cases)] * processes))
