"""Prefect flows over ids only: the outbox, deadline sweeps and MDA++ evaluation.

The engine commits every command synchronously and never waits on Prefect; these flows do
the time-based and retried work afterwards, each in well under a second:

- :func:`drain_outbox` delivers due webhooks (signed CloudEvents), retrying with backoff;
- :func:`sweep_deadlines` expires handovers past their response date and escalates every
  overdue deadline; :func:`escalate` does the same for the given case ids only;
- :func:`evaluate_mda` signals the cases that meet the MDA++ entry criteria for triage.

Run them embedded with :class:`EmbeddedRunner` (``phasedcare flows run``), or deploy them
to a Prefect server with workers (``workflows/prefect.yaml``; the entrypoints are module
paths such as ``phasedcare.flows.drain_outbox``, loaded from the installed package).

Importing this package imports Prefect (about a second): only the commands that run flows
do, so ``phasedcare --help`` and the rest of the library never load it.
"""

from __future__ import annotations

from phasedcare.flows._definitions import drain_outbox, escalate, evaluate_mda, sweep_deadlines
from phasedcare.flows._runner import EmbeddedRunner, Interval, Outcome, embedded, intervals

__all__ = [
    "EmbeddedRunner",
    "Interval",
    "Outcome",
    "drain_outbox",
    "embedded",
    "escalate",
    "evaluate_mda",
    "intervals",
    "sweep_deadlines",
]
