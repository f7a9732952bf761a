"""The Prefect flows: each builds the jobs, does one short job, closes them, returns ids and counts.

Parameters and results are ids and counts only: Prefect keeps both in plain text in its own
database, so no flow ever takes or returns anything about a person. Results are not persisted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger

from phasedcare.bootstrap import build_jobs
from phasedcare.config import load_settings
from phasedcare.service.jobs import Jobs

__all__ = ["drain_outbox", "escalate", "evaluate_mda", "sweep_deadlines"]

Report = dict[str, Any]
"""A flow's result: counts and ids (``c-123``, ``c-123/h1``), never names or free text."""


@contextmanager
def _jobs() -> Iterator[Jobs]:
    """The jobs for the settings in this process's environment, closed afterwards."""
    jobs = build_jobs(load_settings())
    try:
        yield jobs
    finally:
        jobs.close()


def _logged(name: str, report: Report) -> Report:
    """Log the report in one line on the flow run (counts and ids only) and return it."""
    summary = ", ".join(f"{key}={value}" for key, value in report.items())
    get_run_logger().info("%s: %s", name, summary)
    return report


def _run(name: str, job: Callable[[Jobs], Any]) -> Report:
    with _jobs() as jobs:
        result = job(jobs)
    report: Report = asdict(result) if not isinstance(result, list) else {"signalled": result}
    return _logged(name, report)


@flow(name="drain-outbox", persist_result=False, log_prints=False)
def drain_outbox(limit: int = 100) -> Report:
    """Deliver the due webhook deliveries (signed CloudEvents); failures retry with backoff."""
    return _run("drain-outbox", lambda jobs: jobs.drain_outbox(limit=limit))


@flow(name="sweep-deadlines", persist_result=False, log_prints=False)
def sweep_deadlines() -> Report:
    """Expire handovers past their response date and escalate every overdue deadline."""
    return _run("sweep-deadlines", lambda jobs: jobs.sweep_deadlines())


@flow(name="escalate", persist_result=False, log_prints=False)
def escalate(case_ids: list[str]) -> Report:
    """The deadline sweep for these cases only (case ids, nothing else)."""
    return _run("escalate", lambda jobs: jobs.escalate(case_ids))


@flow(name="evaluate-mda", persist_result=False, log_prints=False)
def evaluate_mda() -> Report:
    """Signal every open case whose MDA++ entry criteria are met for MDA++ triage."""
    return _run("evaluate-mda", lambda jobs: jobs.evaluate_mda())
