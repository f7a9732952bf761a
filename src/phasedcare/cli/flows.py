"""``phasedcare flows``: run the Prefect flows in this process (embedded mode).

Prefect is imported only inside these commands, so ``phasedcare --help`` never loads it. This
module imports nothing from :mod:`phasedcare.cli.app`, so the app can register
:data:`flows_app` at import time without an import cycle.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phasedcare.cli.output import console, emit_json, fail, reporting_errors
from phasedcare.cli.processes import children_stopped, terminated_by_sigterm
from phasedcare.config import Settings, load_settings
from phasedcare.logs import configure_logging

if TYPE_CHECKING:
    from phasedcare.flows import EmbeddedRunner, Outcome

__all__ = ["FlowThread", "flow_processes_stopped", "flows_app", "prepare_flows", "run_each_once"]

flows_app = typer.Typer(
    help="Run the background flows (webhook outbox, deadline sweeps, MDA++) with Prefect.",
    no_args_is_help=True,
)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="PHASEDCARE_HOME", help="The phasedcare home folder."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

CHILDREN_STOP_SECONDS = 10.0
"""How long child processes (Prefect's embedded API) get between SIGTERM and SIGKILL."""
_QUIET_KEYS = frozenset({"checked", "pending"})
"""Report fields that alone do not make a run worth a line in the running log."""


def prepare_flows(home: Path | None) -> Settings:
    """Settings for the flows, which read them from this process's environment; sets
    Prefect's environment before anything imports Prefect."""
    with reporting_errors():
        settings = load_settings(home=home)
    if not settings.resolved_home.is_dir():
        fail(f"{settings.resolved_home} does not exist: run `phasedcare init` first")
    if home is not None:
        os.environ["PHASEDCARE_HOME"] = str(home)
    # Unless told otherwise, Prefect keeps its database and files beside phasedcare's, logs
    # at our level and sends no usage data (all read when Prefect is imported, after this).
    default_home = settings.resolved_home / "prefect"
    os.environ.setdefault("PREFECT_HOME", str(default_home))
    _private_prefect_files(default_home)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", settings.log_level.upper())
    os.environ.setdefault("DO_NOT_TRACK", "1")
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return settings


def _private_prefect_files(default_home: Path) -> None:
    """Prefect's home 0700 and its SQLite database 0600, made before Prefect starts.

    Prefect would create both with the umask's modes (0755, 0644), and SQLite gives the
    ``-wal`` and ``-shm`` files the database's mode. A server named by ``PREFECT_API_URL``
    keeps its own database: nothing is made here then. A ``PREFECT_HOME`` of the user's own
    keeps its mode; the one in phasedcare's home is made private.
    """
    from phasedcare.store.sqlite_files import (  # noqa: PLC0415 - keep `phasedcare --help` fast
        private_folder,
        private_sqlite_file,
    )

    if os.environ.get("PREFECT_API_URL"):
        return
    prefect_home = Path(os.environ["PREFECT_HOME"]).expanduser()
    private_folder(prefect_home)
    if prefect_home == default_home:
        os.chmod(prefect_home, 0o700)
    default_database = f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}"
    private_sqlite_file(os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL", default_database))


def _line(outcome: Outcome) -> str:
    """One line: the flow, its counts and ids (or the error), and how long it took."""
    if not outcome.ok:
        return f"{outcome.flow}: failed ({outcome.error})"
    parts = [f"{key} {_value(value)}" for key, value in outcome.report.items()]
    return f"{outcome.flow}: {', '.join(parts)} ({outcome.seconds:.2f} s)"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "none"
    return str(value)


def _worth_showing(outcome: Outcome) -> bool:
    """A failure, or a run that changed something."""
    return not outcome.ok or any(v for k, v in outcome.report.items() if k not in _QUIET_KEYS)


def _show(outcome: Outcome, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        console.print(_line(outcome), markup=False, highlight=False)


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM (a service manager) end the loop after the current run."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class FlowThread:
    """The embedded runner in a thread of its own, stopped after its current run.

    Off the main thread a flow run is never interrupted by a signal: in the main thread
    Prefect turns SIGTERM into an exception inside the run (crashing it), and a
    KeyboardInterrupt there would leave Prefect's client threads keeping the process alive.
    """

    def __init__(self, runner: EmbeddedRunner) -> None:
        self.stop = threading.Event()
        self._thread = threading.Thread(
            target=runner.run, args=(self.stop,), name="flows", daemon=True
        )
        self._thread.start()

    def wait(self) -> None:
        """Until the runner ends (after :attr:`stop` is set); signals are handled meanwhile."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def finish(self, timeout: float) -> None:
        """Stop after the current run (waiting ``timeout`` seconds at most)."""
        self.stop.set()
        self._thread.join(timeout)


def run_each_once(home: Path | None, *, as_json: bool = False) -> list[Outcome]:
    """Run every flow once with embedded Prefect and print the outcomes (``run --once``)."""
    settings = prepare_flows(home)
    from phasedcare.flows import EmbeddedRunner, intervals  # noqa: PLC0415 - Prefect only here

    outcomes = EmbeddedRunner(intervals(settings)).run_once()
    if as_json:
        emit_json(outcomes)
    else:
        for outcome in outcomes:
            _show(outcome, as_json=False)
    return outcomes


@flows_app.command("run")
def flows_run(
    once: Annotated[
        bool, typer.Option(help="Run each flow once, print the reports, exit.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the flows on their intervals in this process until Ctrl-C (no Prefect server needed).

    Prefect starts its API in a subprocess unless PREFECT_API_URL names a server. A failed run
    is logged and the loop goes on: what is due stays in phasedcare's database. Ctrl-C and
    SIGTERM stop the loop after the current run, then every child process (that API).
    """
    if once:  # SIGTERM exits as an error would: Prefect stops its API at exit then
        with terminated_by_sigterm(1):
            outcomes = run_each_once(home, as_json=as_json)
        raise typer.Exit(0 if all(o.ok for o in outcomes) else 1)
    with flow_processes_stopped():
        _run_until_stopped(home, as_json=as_json)


@contextmanager
def flow_processes_stopped() -> Iterator[None]:
    """Every child process started in the block (Prefect's embedded API) is stopped when it
    ends, never left to pid 1, once Prefect's clients have sent it what they still hold."""
    with children_stopped(timeout=CHILDREN_STOP_SECONDS):
        try:
            yield
        finally:
            _drain_prefect_clients()


def _drain_prefect_clients(timeout: float = 5.0) -> None:
    """Send what this process's Prefect clients still hold while their API answers."""
    if "prefect" not in sys.modules:
        return  # no flow ran here
    from prefect.events.worker import EventsWorker  # noqa: PLC0415 - loaded already
    from prefect.logging.handlers import APILogWorker  # noqa: PLC0415

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)


def _run_until_stopped(home: Path | None, *, as_json: bool) -> None:
    """The flows on their intervals until Ctrl-C or SIGTERM."""
    settings = prepare_flows(home)
    from phasedcare.flows import EmbeddedRunner, intervals  # noqa: PLC0415 - Prefect only here

    flows = intervals(settings)
    if not as_json:
        every = ", ".join(f"{f.name} every {f.seconds:g} s" for f in flows)
        console.print(f"running {every}; Ctrl-C stops", markup=False, highlight=False)
    runner = EmbeddedRunner(
        flows, on_outcome=lambda o: _show(o, as_json=as_json) if _worth_showing(o) else None
    )
    flow_thread = FlowThread(runner)
    with _stopped_by_signals(flow_thread.stop):
        flow_thread.wait()
    if not as_json:
        console.print("stopped")


@flows_app.command("escalate")
def flows_escalate(
    case_ids: Annotated[list[str], typer.Argument(help="The case ids to sweep now.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Expire and escalate the overdue handovers and deadlines of these cases, now."""
    prepare_flows(home)
    from phasedcare.flows import EmbeddedRunner, Interval, escalate  # noqa: PLC0415

    flow = Interval("escalate", lambda: escalate(case_ids), seconds=0)
    [outcome] = EmbeddedRunner([flow]).run_once()
    if as_json:
        emit_json(outcome)
    else:
        _show(outcome, as_json=False)
    raise typer.Exit(0 if outcome.ok else 1)
