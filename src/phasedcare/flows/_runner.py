"""The embedded runner: the flows on their intervals in this process, no Prefect server to run.

Without ``PREFECT_API_URL`` Prefect starts its own API on 127.0.0.1 in a subprocess of this
one (its ephemeral mode) the first time a flow runs; with it, the runs are recorded on that
server. Either way the work happens here. A failed run is logged (flow name and error type)
and the loop goes on; the next run picks up whatever is still due, because the state lives in
phasedcare's database, not in Prefect. A server named by ``PREFECT_API_URL`` that goes away is
simply tried again at the next run; Prefect's own API subprocess is started again by the runner
when it has died, since Prefect itself never checks on it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)
from prefect.settings.legacy import Setting

from phasedcare.config import Settings
from phasedcare.errors import PhasedCareError
from phasedcare.flows._definitions import drain_outbox, evaluate_mda, sweep_deadlines

__all__ = ["EmbeddedRunner", "Interval", "Outcome", "embedded", "intervals"]


EMBEDDED_API_STARTUP_SECONDS = 180
"""How long the first run waits for Prefect's embedded API to start (and migrate)."""

CLIENT_RETRIES = 2
"""How often Prefect's client retries a call to an absent server in a run here (2 s, 4 s)."""


@contextmanager
def embedded() -> Iterator[None]:
    """Prefect settings for flow runs in this process: no heartbeat thread, no telemetry,
    and a short wait for an absent server.

    A synchronous flow run joins its heartbeat thread, which sleeps in 1 s steps, so every
    run would last at least a second; heartbeats only detect crashed runs of deployments,
    and an embedded run that crashes takes its process with it. No environment variable can
    switch the heartbeat off, hence this context.

    Prefect's client retries each call five times (2 to 32 s apart) once it has reached the
    server, so a run caught by an outage would hold the loop for minutes, call after call.
    Here it gives up after :data:`CLIENT_RETRIES` (unless ``PREFECT_CLIENT_MAX_RETRIES`` is
    set): the run fails, is logged, and the next interval tries again, while the work waits
    in phasedcare's database.
    """
    updates: dict[Setting, Any] = {
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
    }
    if "PREFECT_CLIENT_MAX_RETRIES" not in os.environ:
        updates[PREFECT_CLIENT_MAX_RETRIES] = CLIENT_RETRIES
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        # Prefect gives up on its embedded API after 20 s without killing it, and the next
        # run starts a second one on the same database (migrating twice, one left orphaned):
        # on a busy machine the first start, with its migrations, takes longer than that.
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = EMBEDDED_API_STARTUP_SECONDS
    with temporary_settings(updates=updates):
        yield


@dataclass(frozen=True, slots=True)
class Interval:
    """One flow and how often the runner starts it."""

    name: str
    run: Callable[[], dict[str, Any]]
    seconds: float


def intervals(settings: Settings) -> list[Interval]:
    """The scheduled flows with the configured intervals, in the order they run when due."""
    return [
        Interval("drain-outbox", drain_outbox, settings.flows_drain_interval_seconds),
        Interval("sweep-deadlines", sweep_deadlines, settings.flows_sweep_interval_seconds),
        Interval("evaluate-mda", evaluate_mda, settings.flows_mda_interval_seconds),
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One flow run: its report (ids and counts), or the type of the error that ended it."""

    flow: str
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run completed."""
        return self.error is None


class EmbeddedRunner:
    """Runs flows in this process: each once, or each on its interval until told to stop."""

    def __init__(
        self,
        flows: list[Interval],
        *,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self._flows = flows
        self._on_outcome = on_outcome
        self._log = structlog.get_logger("phasedcare.flows")

    def run_once(self) -> list[Outcome]:
        """Run every flow once, in order; a failure does not stop the others."""
        with embedded():
            return [self._run(flow) for flow in self._flows]

    def run(self, stop: threading.Event) -> None:
        """Run each flow when due (all at once at the start) until ``stop`` is set."""
        due = dict.fromkeys((flow.name for flow in self._flows), time.monotonic())
        with embedded():
            while not stop.is_set():
                for flow in self._flows:
                    if stop.is_set():
                        return
                    if due[flow.name] <= time.monotonic():
                        due[flow.name] = time.monotonic() + flow.seconds
                        self._run(flow)
                stop.wait(max(0.0, min(due.values()) - time.monotonic()))

    def _run(self, flow: Interval) -> Outcome:
        started = time.monotonic()
        try:
            if _revive_embedded_api():
                self._log.warning("prefect api restarted", flow=flow.name)
            report = flow.run()
        except Exception as exc:  # any failure is logged and the loop goes on
            outcome = Outcome(flow.name, time.monotonic() - started, error=_describe(exc))
            self._log.error("flow failed", flow=flow.name, error=outcome.error)
        else:
            outcome = Outcome(flow.name, time.monotonic() - started, report=report)
            self._log.info("flow run", flow=flow.name, seconds=round(outcome.seconds, 3), **report)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome


def _revive_embedded_api() -> bool:
    """Start Prefect's own API subprocess again if it has died; whether it had to.

    Without ``PREFECT_API_URL``, the first flow run of a process starts Prefect's API in a
    subprocess, and Prefect never looks at it again: once that process is gone (killed, out
    of memory), every later run of this process fails to connect. It is started again on its
    port, so the clients and Prefect's background workers that know the address carry on.
    """
    if PREFECT_API_URL.value() or "prefect.server.api.server" not in sys.modules:
        return False  # a server of its own, or no embedded API started yet
    from prefect.server.api.server import SubprocessASGIServer  # noqa: PLC0415 - loaded already

    dead = [  # Prefect keeps its embedded servers in this class attribute; no public list
        server
        for server in SubprocessASGIServer._instances.values()
        if server.running and server.server_process and server.server_process.poll() is not None
    ]
    for server in dead:
        server.running = False  # start() starts only a server it believes stopped
        server.start()
    return bool(dead)


def _describe(exc: Exception) -> str:
    """The error's type, and its message when it is ours (ours name ids only, never people)."""
    if isinstance(exc, PhasedCareError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__
