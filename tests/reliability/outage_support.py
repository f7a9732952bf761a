"""Test support for the outage harness: a private PostgreSQL cluster to crash, ``phasedcare
serve`` over it, HTTP clients that retry every write with its one Idempotency-Key, and
``phasedcare flows run`` against a Prefect server that is stopped and started again.

The cluster is the harness's own (``initdb`` into a temporary folder, a free port on
127.0.0.1), so crashing it never touches the machine's shared PostgreSQL. PostgreSQL refuses
to run as root: as root, its programs run as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from e2e.prefect_support import Process, free_port
from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.errors import ConcurrencyConflict
from phasedcare.service.engine import Engine
from support import handover

__all__ = [
    "FlowsRun",
    "Households",
    "PostgresCluster",
    "Served",
    "Write",
    "WriteLoad",
    "phasedcare_env",
    "postgres_programs",
    "wait_until",
]

BIN = Path(sys.executable).parent
LEAKS = ("psycopg", "connection", "refused", "127.0.0.1", "sqlalchemy", "Traceback")
"""Words of a driver's or a server's own message: a problem response must show none."""


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def postgres_programs() -> Path | None:
    """The newest installed PostgreSQL's bin folder (initdb, pg_ctl), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


# -- a private PostgreSQL cluster ---------------------------------------------------------------


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of its own: trust authentication, 127.0.0.1 on a free port."""

    programs: Path
    folder: Path
    port: int = field(default_factory=free_port)

    @classmethod
    def create(cls, programs: Path) -> PostgresCluster:
        """``initdb`` into a new temporary folder (owned by ``postgres`` when we are root)."""
        folder = Path(tempfile.mkdtemp(prefix="phasedcare-outage-pg-"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        cluster = cls(programs, folder)
        cluster._run(
            "initdb", "--no-sync", "-D", str(cluster.data), "-A", "trust", "-U", "postgres"
        )
        return cluster

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.folder / "data"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        ``fsync=off``: a crash of the server (not of the machine) keeps the page cache, so
        recovery finds every commit; the disk is spared a flush per commit.
        """
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")

    def crash(self) -> None:
        """Stop at once, as a power cut would to the server: the next start recovers."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        status = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
        if status.returncode == 0:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        path = self.folder / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one of PostgreSQL's programs, as ``postgres`` when we are root."""
        command = [str(self.programs / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=120, cwd=self.folder
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} failed:\n{result.stderr}")
        return result


# -- phasedcare serve ----------------------------------------------------------------------------


def phasedcare_env(**settings: str) -> dict[str, str]:
    """This environment without Prefect's or phasedcare's variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PHASEDCARE_"))}
    env.update(settings)
    return env


@dataclass
class Served:
    """``phasedcare serve --no-flows`` in a subprocess, and the API key it printed."""

    process: Process
    base_url: str
    token: str

    @classmethod
    def start(cls, *, home: Path, database_url: str, folder: Path) -> Served:
        """Serve ``home`` over ``database_url``; the first start seeds the demo region."""
        port = free_port()
        env = phasedcare_env(PHASEDCARE_HOME=str(home), PHASEDCARE_DATABASE_URL=database_url)
        args = [str(BIN / "phasedcare"), "serve", "--no-flows", "--port", str(port)]
        process = Process.start("serve", args, env=env, folder=folder)
        served = cls(process, f"http://127.0.0.1:{port}", "")
        wait_until(served._printed_key, timeout=120, what=f"serve's API key\n{process.tail()}")
        wait_until(served.healthy, timeout=30, what="serve's /health")
        return served

    def _printed_key(self) -> bool:
        assert self.process.alive, f"serve exited:\n{self.process.tail()}"
        for line in self.process.log_path.read_text(errors="replace").splitlines():
            if "API key for" in line:
                self.token = line.rsplit(" ", 1)[-1].strip()
        return bool(self.token)

    def healthy(self) -> bool:
        """Whether /health answers 200 (it needs no database)."""
        try:
            return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        """Everything serve printed."""
        return self.process.log_path.read_text(errors="replace")


# -- clients that write through an outage ---------------------------------------------------------


@dataclass
class Write:
    """One write: its request, its one Idempotency-Key, and every answer it got."""

    path: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: f"outage-{uuid.uuid4().hex}")
    statuses: list[int] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def acknowledged(self) -> bool:
        """Whether the last answer was a success."""
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300

    @property
    def reopened(self) -> bool:
        """A retried open refused because its case exists: its first attempt committed."""
        retried = len(self.statuses) > 1
        return retried and self.path == "/cases" and self.result.get("rule") == "case_exists"


class WriteLoad:
    """Client threads that open cases and record members over HTTP until told to stop.

    Every write is retried with its own Idempotency-Key until it is answered 2xx: after a
    503 it waits the Retry-After the server asked for, after a transport error 0.2 s. Each
    thread finishes its current write after :meth:`stop`. What the answers showed that a
    client should not see (a refusal without Retry-After or problem details, a slow refusal,
    a driver's message, a final answer that is not a success) is collected in ``problems``;
    an open whose retry was refused because its case exists goes to ``reopened`` instead.
    """

    def __init__(self, served: Served, *, clients: int, members_per_case: int = 3) -> None:
        self.served = served
        self.members_per_case = members_per_case
        self.writes: list[Write] = []
        self.reopened: list[Write] = []
        self.problems: list[str] = []
        self.sent = 0
        self.refused = 0
        self.slowest_refusal = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._abandoned = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), name=f"client-{n}", daemon=True)
            for n in range(clients)
        ]

    def start(self) -> None:
        """Start the clients."""
        for thread in self._threads:
            thread.start()

    def stop(self, *, timeout: float = 120) -> None:
        """Let each client finish its current write, and wait for them."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"clients still writing after {timeout} s: {alive}"

    def abandon(self) -> None:
        """Stop the clients even in the middle of a write (the test failed already)."""
        self._abandoned.set()
        self._stopping.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(timeout=30)

    def acknowledged(self) -> int:
        """How many writes were answered 2xx so far."""
        with self._lock:
            return sum(w.acknowledged for w in self.writes)

    def expected_members(self) -> dict[str, Counter[str]]:
        """Per acknowledged case, the names of its acknowledged members (each once)."""
        expected: dict[str, Counter[str]] = {}
        for write in self.writes:
            if write.path == "/cases" and write.acknowledged:
                expected.setdefault(write.result["case_id"], Counter())
            elif write.acknowledged:
                case_id = write.path.split("/")[2]
                expected.setdefault(case_id, Counter())[write.body["name"]] += 1
        return expected

    def _client(self, number: int) -> None:
        with httpx.Client(
            base_url=self.served.base_url,
            headers={"Authorization": f"Bearer {self.served.token}"},
            timeout=30,
        ) as http:
            household = 0
            while not self._stopping.is_set():
                household += 1
                self._household(http, f"{number}-{household}")

    def _household(self, http: httpx.Client, label: str) -> None:
        opened = self._write(http, "/cases", {"via": "melding", "summary": "Synthetic melding"})
        if not opened.acknowledged:
            return
        case_id = opened.result["case_id"]
        for member in range(self.members_per_case):
            if self._stopping.is_set():
                return
            body = {"role": "kind", "name": f"Anna Voorbeeld {label}-{member}"}
            if not self._write(http, f"/cases/{case_id}/record-member", body).acknowledged:
                return

    def _write(self, http: httpx.Client, path: str, body: dict[str, Any]) -> Write:
        write = Write(path, body)
        with self._lock:
            self.writes.append(write)
        while not self._abandoned.is_set():
            status, retry_after = self._send(http, write)
            if status in {0, 503}:
                time.sleep(retry_after)
                continue
            if write.reopened:
                with self._lock:
                    self.reopened.append(write)
            elif not write.acknowledged:
                self._problem(f"{path} ended with {status} after {write.statuses}")
            return write
        return write

    def _send(self, http: httpx.Client, write: Write) -> tuple[int, float]:
        """One attempt: its status (0: no answer) and how long to wait before the next."""
        started = time.monotonic()
        try:
            response = http.post(
                write.path, json=write.body, headers={"Idempotency-Key": write.key}
            )
        except httpx.TransportError as exc:
            self._count(refused=False)
            self._problem(f"{write.path}: no answer ({type(exc).__name__})")
            write.statuses.append(0)
            return 0, 0.2
        seconds = time.monotonic() - started
        write.statuses.append(response.status_code)
        self._count(refused=response.status_code == 503, seconds=seconds)
        if response.status_code == 503:
            return 503, self._refusal(response)
        write.result = response.json()
        return response.status_code, 0.0

    def _refusal(self, response: httpx.Response) -> float:
        """Check a 503 is problem details with a Retry-After and no driver text; the wait."""
        text = response.text
        if response.headers.get("content-type") != "application/problem+json":
            self._problem(f"503 is not problem details: {text[:200]}")
        leaked = [word for word in LEAKS if word.lower() in text.lower()]
        if leaked:
            self._problem(f"503 shows {leaked}: {text[:200]}")
        retry_after = response.headers.get("Retry-After", "")
        if not retry_after.isdigit():
            self._problem(f"503 without a Retry-After: {dict(response.headers)}")
            return 1.0
        return float(retry_after)

    def _count(self, *, refused: bool, seconds: float = 0.0) -> None:
        with self._lock:
            self.sent += 1
            if refused:
                self.refused += 1
                self.slowest_refusal = max(self.slowest_refusal, seconds)

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)


# -- phasedcare flows run ------------------------------------------------------------------------


@dataclass
class FlowsRun:
    """``phasedcare flows run --json`` in a subprocess; its outcomes, one JSON line each."""

    process: Process
    stdout: Path

    @classmethod
    def start(cls, *, env: dict[str, str], folder: Path) -> FlowsRun:
        """Start the runner; its stdout (outcomes) and stderr (logs) go to two files."""
        stdout = folder / "flows-run.jsonl"
        args = [str(BIN / "phasedcare"), "flows", "run", "--json"]
        log_path = folder / "flows-run.log"
        log = log_path.open("ab")
        with stdout.open("wb") as out:
            popen = subprocess.Popen(args, env=env, stdout=out, stderr=log, start_new_session=True)
        return cls(Process("flows-run", popen, log_path, log), stdout)

    def outcomes(self) -> list[dict[str, Any]]:
        """Every outcome printed so far (runs that changed something, and failures)."""
        text = self.stdout.read_text(errors="replace")
        complete = text[: text.rfind("\n") + 1].splitlines()  # a line being written waits
        return [json.loads(line) for line in complete if line.startswith("{")]

    def kill_embedded_api(self) -> int:
        """SIGKILL the API subprocess Prefect started for the runner (no PREFECT_API_URL)."""
        [api] = [pid for pid in _children(self.process.popen.pid) if b"uvicorn" in _cmdline(pid)]
        os.kill(api, signal.SIGKILL)
        return api

    def interrupt(self, *, timeout: float = 90) -> int:
        """Ctrl-C; the exit status once it stopped after its current run."""
        self.process.popen.send_signal(signal.SIGINT)
        try:
            return self.process.popen.wait(timeout=timeout)
        finally:
            self.process.stop()


def _children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (from Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    """A process's command line ('' when it ended meanwhile)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# -- commands that keep the flows busy ------------------------------------------------------------


class Households:
    """A thread that opens a case from a melding, records its victim, starts its
    veiligheidsbeoordeling and proposes to hand regie to ``receiver``, again and again until
    stopped, on the engine's clock (set it weeks back).

    Each household gives the drain a webhook at once (``handover.proposed``) and the sweep an
    overdue veiligheidsbeoordeling and an unanswered handover to escalate (two more). A
    command that meets the sweep's write to the same case is retried, as a client would.
    """

    def __init__(self, engine: Engine, actor: Actor, *, receiver: str, pause: float = 1.0) -> None:
        self.engine, self.actor, self.receiver, self.pause = engine, actor, receiver, pause
        self.case_ids: list[str] = []
        self.errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="households", daemon=True)

    def start(self) -> None:
        """Start producing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current household."""
        self._stopping.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the households thread did not stop"

    def _produce(self) -> None:
        while not self._stopping.wait(self.pause):
            try:
                self.case_ids.append(self._household(len(self.case_ids)))
            except Exception as exc:  # reported by the test, which expects none
                self.errors.append(exc)
                return

    def _household(self, number: int) -> str:
        """A case opened, its victim recorded, its assessment started, a handover proposed."""
        engine, actor = self.engine, self.actor
        case_id = engine.open_case(actor=actor, via="melding", summary="Synthetic melding").case_id
        name = f"Bea Voorbeeld {number}"
        commands: list[cmd.CaseCommand] = [
            cmd.RecordMember(case_id=case_id, role="slachtoffer", name=name),
            cmd.FireEvent(case_id=case_id, chart="vt", event="start_veiligheidsbeoordeling"),
            cmd.AddSafetyCondition(
                case_id=case_id, statement="Geen geweld", owner=self.receiver, check_every_days=14
            ),
            handover(case_id, self.receiver),
        ]
        for command in commands:
            self._handle(command)
        return case_id

    def _handle(self, command: cmd.CaseCommand, *, attempts: int = 5) -> None:
        """Handle the command; load the case again when the sweep wrote to it first."""
        for attempt in range(attempts):
            try:
                self.engine.handle(command, actor=self.actor)
            except ConcurrencyConflict:
                if attempt == attempts - 1:
                    raise
            else:
                return
