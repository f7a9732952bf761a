"""Writer processes for the multi-process concurrency contract (spawned, so importable)."""

from __future__ import annotations

import multiprocessing
from typing import Any

from store_contract import append

from phasedcare.errors import ConcurrencyConflict
from phasedcare.store.sql import SqlEventStore


def race_rounds(url: str, case_id: str, rounds: int, barrier: Any, results: Any) -> None:
    """Append at sequence r in round r, in step with the other process; report each outcome."""
    store = SqlEventStore(url)
    outcomes = []
    for round_number in range(1, rounds + 1):
        barrier.wait(timeout=60)
        try:
            append(store, case_id, round_number)
            outcomes.append("ok")
        except ConcurrencyConflict:
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(f"error: {type(exc).__name__}: {exc}")
    store.close()
    results.put(outcomes)


def race_processes(url: str, case_id: str, rounds: int, processes: int = 2) -> list[list[str]]:
    """Outcomes per round, one list per round with each process's outcome."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=race_rounds, args=(url, case_id, rounds, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    per_process = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return [sorted(outcomes[r] for outcomes in per_process) for r in range(rounds)]
