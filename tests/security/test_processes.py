"""Start honestly, leave no orphans: the long-running commands and their child processes.

`serve` binds its port before anything else, so a taken port is one line of error and the
demo API key is still printed by the next start. SIGTERM (a service manager) and SIGINT
(Ctrl-C) to `serve`, `flows run` and `cluster up` stop every process they started: the
embedded Prefect API of the first two, the Prefect server, API processes and workers of the
third. Each test records the started command's process tree (through /proc) once it is up,
sends the signal, and then finds every recorded process ended. Whatever a test starts is
reaped and stopped even when it fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from phasedcare.bootstrap import initialise
from phasedcare.cli.processes import Detached, children, stop_all
from phasedcare.config import Settings

PHASEDCARE = str(Path(sys.executable).parent / "phasedcare")
POSTGRES_URL = os.environ.get("PHASEDCARE_TEST_POSTGRES_URL", "")
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
PREFECT_API = "prefect.server.api.server"
"""What the command line of Prefect's embedded API process holds."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command_line(process: Detached) -> str:
    """The process's arguments joined by spaces ('' once it is gone)."""
    try:
        raw = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def process_tree(pid: int) -> set[Detached]:
    """Every running descendant of ``pid``, found through the parents in /proc."""
    found: set[Detached] = set()
    frontier = {pid}
    while frontier:
        below = {child for parent in frontier for child in children(parent)} - found
        found |= below
        frontier = {child.pid for child in below}
    return found


def environment(home: Path, **settings: str) -> dict[str, str]:
    """This environment without phasedcare's or Prefect's address settings, plus a home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PHASEDCARE_") and k != "PREFECT_API_URL"
    }
    env.update(PHASEDCARE_HOME=str(home), **settings)
    return env


@dataclass
class Started:
    """A command started as a user starts it, its output going to a log file."""

    process: subprocess.Popen[bytes]
    log: Path
    seen: set[Detached] = field(default_factory=set)

    def tree(self) -> set[Detached]:
        """Its running descendants now (remembered, to be stopped should the test fail)."""
        now = process_tree(self.process.pid)
        self.seen |= now
        return now

    def output(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, ready: Callable[[], bool], what: str, *, timeout: float) -> None:
        """Wait until ``ready()``; fail with its output if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, f"exited before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} in {timeout} s:\n{self.output()}"
            time.sleep(0.2)

    def stopped_by(self, signum: signal.Signals, *, timeout: float = 90) -> int:
        """Send ``signum`` to the command alone (not its group); its exit status."""
        self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)


@contextmanager
def started(args: list[str], env: dict[str, str], folder: Path) -> Iterator[Started]:
    """Start ``args`` in a session of its own; afterwards stop and reap what is left of it."""
    log = folder / "command.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            args,
            env=env,
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = Started(process, log)
    try:
        yield run
    finally:
        # the pid is not reused before wait() reaps it, so no start time is needed
        stop_all([Detached(process.pid, None), *run.seen, *run.tree()], timeout=5)
        process.wait(timeout=30)


def flow_ran(run: Started) -> Callable[[], bool]:
    """Whether the command logged a completed flow run: Prefect's API answered it."""
    return lambda: '"event": "flow run"' in run.output()


def assert_all_ended(tree: set[Detached], what: str) -> None:
    """Every recorded process has ended (a reused pid or a zombie counts as ended)."""
    alive = {p.pid: command_line(p) for p in tree if p.running}
    assert not alive, f"{what} left running: {alive}"


# -- start honestly ------------------------------------------------------------------------


def test_a_taken_port_is_one_line_and_the_next_start_still_prints_the_key(tmp_path: Path) -> None:
    """Nothing is seeded or printed on a taken port (not even the home is made); a later
    start on a free port seeds the demo and prints its one-time key."""
    home = tmp_path / "home"
    env = environment(home)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [PHASEDCARE, "serve", "--port", str(port), "--no-flows"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (choose another --port)"
    ]
    assert refused.stdout == ""
    assert not home.exists()

    free = free_port()
    with started([PHASEDCARE, "serve", "--port", str(free), "--no-flows"], env, tmp_path) as run:
        run.wait_for(lambda: "API key for" in run.output(), "API key", timeout=120)
        assert f"phasedcare serves http://127.0.0.1:{free}" in run.output()
        assert run.stopped_by(signal.SIGTERM) == 0
    assert "(shown once): pck_" in run.output()


# -- no orphans ----------------------------------------------------------------------------


@pytest.mark.prefect
@pytest.mark.parametrize("signum", SIGNALS)
def test_serve_stops_the_embedded_prefect_api(signum: signal.Signals, tmp_path: Path) -> None:
    """`serve` with its flows: the Prefect API it started ends with it."""
    env = environment(tmp_path / "home", PHASEDCARE_LOG_LEVEL="info")
    args = [PHASEDCARE, "serve", "--port", str(free_port()), "--no-seed"]
    with started(args, env, tmp_path) as run:
        run.wait_for(flow_ran(run), "flow run", timeout=240)
        tree = run.tree()
        assert any(PREFECT_API in command_line(p) for p in tree), run.output()
        assert run.stopped_by(signum) == 0, run.output()
    assert_all_ended(tree, "serve")


@pytest.mark.prefect
@pytest.mark.parametrize("signum", SIGNALS)
def test_flows_run_stops_the_embedded_prefect_api(signum: signal.Signals, tmp_path: Path) -> None:
    """`flows run` stops after the current run, and the Prefect API it started with it."""
    home = tmp_path / "home"
    initialise(Settings(home=home))
    env = environment(home, PHASEDCARE_LOG_LEVEL="info")
    with started([PHASEDCARE, "flows", "run"], env, tmp_path) as run:
        run.wait_for(flow_ran(run), "flow run", timeout=240)
        tree = run.tree()
        assert any(PREFECT_API in command_line(p) for p in tree), run.output()
        assert run.stopped_by(signum) == 0, run.output()
    assert "stopped" in run.output().splitlines()
    assert_all_ended(tree, "flows run")


def _cluster_state(home: Path) -> dict[str, object]:
    """run/cluster.json as `cluster up` last wrote it ({} before it wrote any)."""
    path = home / "run" / "cluster.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _roles(home: Path) -> set[str]:
    members = _cluster_state(home).get("members", [])
    assert isinstance(members, list)
    return {member["role"] for member in members}


@contextmanager
def _prefect_database() -> Iterator[str]:
    """A name for the Prefect database `cluster up` creates; dropped afterwards."""
    name = f"pc_orphans_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.prefect
@pytest.mark.parametrize("signum", SIGNALS)
def test_cluster_up_interrupted_stops_what_it_started(
    signum: signal.Signals, tmp_path: Path, postgres_url: str
) -> None:
    """A signal while `cluster up` starts (server, APIs and a worker running, the flows
    deploying) stops every one of them and removes the state file; `up` exits non-zero."""
    home = tmp_path / "home"
    env = environment(home, PHASEDCARE_DATABASE_URL=postgres_url, PREFECT_WORKER_QUERY_SECONDS="1")
    with _prefect_database() as prefect_database:
        args = [PHASEDCARE, "cluster", "up", "--api-processes", "1", "--workers", "1"]
        args += ["--base-port", str(free_port()), "--prefect-port", str(free_port())]
        args += ["--prefect-database", prefect_database, "--no-prefect-ui"]
        with started(args, env, tmp_path) as run:
            run.wait_for(lambda: "worker" in _roles(home), "worker launched", timeout=240)
            tree = run.tree()
            assert {"prefect-server", "api", "worker"} <= _roles(home)
            status = run.stopped_by(signum)
        assert status == 128 + signum, run.output()  # as a shell reports a killed command
        assert_all_ended(tree, "cluster up")
        assert not (home / "run" / "cluster.json").exists()
