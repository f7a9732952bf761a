"""Test support: a real Prefect server and worker, as subprocesses on the loopback interface.

One :class:`PrefectServer` serves a whole pytest session (it takes 5-13 s to start). It keeps
its database in a temporary folder (SQLite), or in a fresh PostgreSQL database when
``PHASEDCARE_TEST_POSTGRES_URL`` is set, and can be stopped and started again on the same
port, its data kept, to test what happens while it is away.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psycopg

__all__ = [
    "POSTGRES_URL",
    "PrefectServer",
    "Process",
    "Workflows",
    "create_database",
    "drop_database",
    "free_port",
]

BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("PHASEDCARE_TEST_POSTGRES_URL", "")
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_dsn() -> str:
    """The libpq form of the PostgreSQL URL the tests were given."""
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database; returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    """Drop a database made by :func:`create_database`, ending its connections."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str, *, driver: str) -> str:
    """The URL of database ``name`` on the test server, for a SQLAlchemy ``driver``."""
    base = _admin_dsn().rsplit("/", 1)[0]
    return base.replace("postgresql://", f"postgresql+{driver}://", 1) + f"/{name}"


@dataclass
class Process:
    """A subprocess in its own session, writing to a log file; stopped with its children."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @classmethod
    def start(cls, name: str, args: list[str], *, env: dict[str, str], folder: Path) -> Process:
        """Start ``args`` with ``env``, logging to ``folder/name.log``."""
        log_path = folder / f"{name}.log"
        log = log_path.open("ab")
        popen = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return cls(name, popen, log_path, log)

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for failure messages."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM to the process group; SIGKILL after ``timeout``; always reaped."""
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self.log.close()


@dataclass
class PrefectServer:
    """``prefect server start`` on 127.0.0.1, its database and home in ``folder``."""

    folder: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: Process | None = None
    started_in: list[float] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        """The API address clients and workers use."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def running(self) -> bool:
        """Whether the server process is up."""
        return self.process is not None and self.process.alive

    def client_env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of a Prefect client (CLI, worker) of this server, home in ``home``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PHASEDCARE_"))}
        env.update(
            PREFECT_HOME=str(home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
        )
        env.update(extra)
        return env

    def start(self, *, timeout: float = 90.0) -> None:
        """Start the server and wait until its health check answers."""
        home = self.folder / "server-home"
        home.mkdir(exist_ok=True)
        env = self.client_env(
            home,
            PREFECT_API_DATABASE_CONNECTION_URL=self.database_url,
            PREFECT_UI_ENABLED="false",
        )
        del env["PREFECT_API_URL"]
        args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
        started = time.perf_counter()
        self.process = Process.start(
            "server", [*args, "--port", str(self.port)], env=env, folder=self.folder
        )
        self._wait_healthy(started + timeout)
        self.started_in.append(time.perf_counter() - started)

    def _wait_healthy(self, deadline: float) -> None:
        assert self.process is not None
        with httpx.Client(timeout=2) as http:
            while time.perf_counter() < deadline:
                if not self.process.alive:
                    raise AssertionError(f"prefect server exited:\n{self.process.tail()}")
                try:
                    if http.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise AssertionError(f"prefect server not healthy in time:\n{self.process.tail()}")

    def stop(self) -> None:
        """Stop the server; its database stays for the next start."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def ensure_running(self) -> None:
        """Start the server again if a test stopped it."""
        if not self.running:
            self.start()

    def prefect(self, *args: str, cwd: Path, env: dict[str, str]) -> str:
        """Run the prefect CLI against this server; return its output (fail on non-zero)."""
        result = subprocess.run(
            [str(BIN / "prefect"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    def stored_text(self) -> bytes:
        """Everything the server has stored: its database (rows as text) and its home's files."""
        if self.database_url.startswith("postgresql"):
            stored = _postgres_rows(self.database_url.rsplit("/", 1)[1])
        else:
            path = Path(self.database_url.split("///", 1)[1])
            stored = b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))
        return stored + files_text(self.folder / "server-home")


def files_text(folder: Path) -> bytes:
    """The bytes of every file under ``folder``."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _postgres_rows(name: str) -> bytes:
    """Every row of every table of database ``name``, as text."""
    dsn = _admin_dsn().rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
        rows = [
            str(row[0])
            for (table,) in tables
            for row in conn.execute(f'select t::text from "{table}" t').fetchall()
        ]
    return "\n".join(rows).encode()


@dataclass
class Workflows:
    """The deployed side: the work pool, ``prefect deploy --all`` and a process worker."""

    server: PrefectServer
    folder: Path
    worker: Process | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """A client environment with its own Prefect home under ``folder``."""
        home = self.folder / "client-home"
        home.mkdir(exist_ok=True)
        return self.server.client_env(home, **extra)

    def deploy(self) -> str:
        """Create (or reset) the ``phasedcare`` process pool and deploy every flow in prefect.yaml."""
        env = self.env()
        create = ["work-pool", "create", "phasedcare", "--type", "process", "--overwrite"]
        self.server.prefect(*create, cwd=self.folder, env=env)
        return self.server.prefect("--no-prompt", "deploy", "--all", cwd=WORKFLOWS, env=env)

    def start_worker(self, **phasedcare_env: str) -> None:
        """``prefect worker start --pool phasedcare``, polling every second, with this env."""
        env = self.env(PREFECT_WORKER_QUERY_SECONDS="1", **phasedcare_env)
        args = [str(BIN / "prefect"), "worker", "start", "--pool", "phasedcare"]
        self.worker = Process.start("worker", args, env=env, folder=self.folder)

    def stop_worker(self) -> None:
        """Stop the worker (and the flow runs it started)."""
        if self.worker is not None:
            self.worker.stop(timeout=15)
            self.worker = None
