"""``phasedcare cluster up | down | status``: the multi-process deployment on one machine.

``up`` migrates the PostgreSQL database, starts a Prefect server on a PostgreSQL database of
its own, creates the ``phasedcare`` process work pool, deploys the flows of
``workflows/prefect.yaml``, and starts N Prefect workers and N ``phasedcare serve --no-flows``
processes, all sharing one ``PHASEDCARE_HOME`` (its config, policy and key folder: KEKs are
files there, never rows in the database). Each process runs in a session of its own and logs
to ``$PHASEDCARE_HOME/run/<name>.log``; ``run/cluster.json`` records the pids, ports and logs
for ``status`` and ``down``. A load balancer goes in front of the API ports: there is no
reverse proxy here. docs/deployment.md spreads the same layout over machines.

Prefect is driven through its command line only (``prefect server start``, ``prefect deploy``,
``prefect worker start``), so this module never imports it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from phasedcare.cli.app import HomeOption, JsonOption, app
from phasedcare.cli.output import console, emit_json, fail, reporting_errors, table
from phasedcare.cli.processes import (
    Detached,
    append_to,
    executable,
    launch,
    launched,
    stop_all,
    terminated_by_sigterm,
)
from phasedcare.config import load_settings

if TYPE_CHECKING:
    import httpx

__all__ = ["POOL", "STATE_FILE"]

POOL = "phasedcare"
"""The Prefect work pool; workflows/prefect.yaml names it for every deployment."""
STATE_FILE = Path("run") / "cluster.json"
"""Where ``up`` records the cluster's processes, relative to the home."""
WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows" / "prefect.yaml"
"""workflows/prefect.yaml of the source checkout this package runs from (editable install)."""
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TERMINATED = 128 + 15
"""The exit status of ``up`` stopped by SIGTERM (as a shell reports a process it killed)."""
_CLIENT_VARIABLES = ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_API_DATABASE_CONNECTION_URL")
"""Prefect settings the cluster sets for each process, whatever the caller's shell holds."""

cluster_app = typer.Typer(
    help="Several API processes and a Prefect server with workers on PostgreSQL, on this machine.",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")


# -- the state file ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """One process of the cluster: what it is, where it answers, and how to recognise it."""

    name: str
    role: str
    """``api``, ``prefect-server`` or ``worker``."""
    pid: int
    started: int | None
    """Its start time in clock ticks after boot (Linux), so a reused pid is never signalled."""
    log: str
    url: str = ""
    """The API's base address, or the Prefect server's API address; empty for a worker."""

    @property
    def process(self) -> Detached:
        """The process, recognised by its pid and start time."""
        return Detached(self.pid, self.started)


@dataclass(slots=True)
class ClusterState:
    """What ``run/cluster.json`` holds: the processes and the addresses to reach them by.

    ``up`` writes it again after each start, so ``down`` finds every process even when
    ``up`` itself was killed halfway.
    """

    database: str
    """The phasedcare database URL, password hidden."""
    prefect_database: str
    """The Prefect server's database URL, password hidden."""
    prefect_api_url: str
    prefect_ui_url: str
    """Prefect's web UI, empty when it is off."""
    started_at: str
    members: list[Member] = field(default_factory=list)

    def write(self, home: Path) -> Path:
        """Write the state file (0600) and return its path."""
        path = home / STATE_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2)
        return path

    @classmethod
    def read(cls, home: Path) -> ClusterState | None:
        """The recorded cluster of ``home``, or None when none was started there."""
        path = home / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        members = [Member(**member) for member in data.pop("members")]
        return cls(**data, members=members)


# -- processes ---------------------------------------------------------------------------------


def _launch(
    name: str, role: str, args: list[str], *, env: dict[str, str], run: Path, url: str = ""
) -> Member:
    """Start a member in a session of its own, logging to ``run/<name>.log``."""
    log = run / f"{name}.log"
    process = launch(args, env=env, cwd=run, log=log)
    return Member(name, role, process.pid, process.started, str(log), url)


def _give_up(log: Path, message: str, lines: int = 15) -> NoReturn:
    """Print the end of ``log``, then fail with ``message``."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    tail = "\n".join(text.splitlines()[-lines:])
    console.print(tail, markup=False, highlight=False, soft_wrap=True)
    fail(f"{message}: see {log}", code=1)


# -- health ------------------------------------------------------------------------------------


def _answers(http: httpx.Client, url: str) -> bool:
    """Whether GET ``url`` answers 200."""
    import httpx  # noqa: PLC0415 - keep `phasedcare --help` fast

    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _online_workers(http: httpx.Client, prefect_api_url: str) -> set[str]:
    """The names of the pool's workers that the Prefect server sees polling."""
    import httpx  # noqa: PLC0415 - keep `phasedcare --help` fast

    try:
        response = http.post(f"{prefect_api_url}/work_pools/{POOL}/workers/filter", json={})
    except httpx.HTTPError:
        return set()
    if response.status_code != 200:
        return set()
    return {w["name"] for w in response.json() if w.get("status") == "ONLINE"}


def _health(http: httpx.Client, member: Member, online: set[str]) -> bool:
    """An API answers /health, the Prefect server its /health, a worker is seen online."""
    if member.role == "worker":
        return member.name in online
    return _answers(http, f"{member.url}/health")


def _wait_healthy(members: list[Member], prefect_api_url: str, *, deadline: float) -> None:
    """Wait until every member is healthy; fail with the log of one that exits or lags."""
    import httpx  # noqa: PLC0415 - keep `phasedcare --help` fast

    pending = list(members)
    with httpx.Client(timeout=2) as http:
        while pending:
            online = _online_workers(http, prefect_api_url)
            for member in list(pending):
                if not member.process.running:
                    _give_up(Path(member.log), f"{member.name} exited")
                if _health(http, member, online):
                    pending.remove(member)
            if pending and time.monotonic() > deadline:
                _give_up(Path(pending[0].log), f"{pending[0].name} is not healthy in time")
            time.sleep(0.2)


# -- databases ---------------------------------------------------------------------------------


def _require_postgres(database_url: str) -> None:
    """Refuse anything but PostgreSQL: several processes share the database."""
    if not database_url:
        fail("no database: pass --database-url postgresql+psycopg://USER@HOST:5432/NAME")
    if not database_url.startswith("postgresql"):
        scheme = database_url.split(":", 1)[0]
        fail(
            f"a cluster needs PostgreSQL, not {scheme}: several processes write to one "
            "database, which SQLite serves to one process only (use `phasedcare serve`); "
            "pass --database-url postgresql+psycopg://USER@HOST:5432/NAME"
        )


def _hidden(database_url: str) -> str:
    """The URL with its password masked, for the state file and the screen."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - keep `phasedcare --help` fast

    return make_url(database_url).render_as_string(hide_password=True)


def prefect_database_url(database_url: str, name: str) -> str:
    """The asyncpg URL of database ``name`` beside phasedcare's, created when missing."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415 - keep `phasedcare --help` fast
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    if not _DATABASE_NAME.fullmatch(name):
        fail(f"--prefect-database {name!r}: use lower-case letters, digits and _")
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            query = text("select 1 from pg_database where datname = :name")
            if conn.execute(query, {"name": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        fail(f"could not create the Prefect database {name} ({type(exc).__name__}): create it")
    finally:
        engine.dispose()
    url = make_url(database_url).set(drivername="postgresql+asyncpg", database=name, query={})
    return url.render_as_string(hide_password=False)


# -- environments ------------------------------------------------------------------------------


def _environment(**settings: str) -> dict[str, str]:
    """This process's environment without Prefect's address settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in _CLIENT_VARIABLES}
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", **settings)
    return env


def _phasedcare_env(home: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a phasedcare process: the shared home and database."""
    return _environment(PHASEDCARE_HOME=str(home), PHASEDCARE_DATABASE_URL=database_url, **settings)


def _prefect_home(run: Path, name: str) -> str:
    """A Prefect home of its own for one process, under ``run/prefect/``."""
    folder = run / "prefect" / name
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(folder)


# -- up ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the cluster's processes listen and what they run on."""

    home: Path
    database_url: str
    prefect_database_url: str
    host: str
    api_ports: list[int]
    prefect_port: int
    workers: int
    prefect_ui: bool

    @property
    def run(self) -> Path:
        """The folder of logs, Prefect homes and the state file."""
        return self.home / "run"

    @property
    def prefect_api_url(self) -> str:
        """The Prefect server's API address."""
        return f"http://{self.host}:{self.prefect_port}/api"


def _check_ports_free(host: str, ports: list[int]) -> None:
    """Fail before starting anything when a port is taken."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex((host, port)) == 0:
                fail(f"port {port} on {host} is in use (choose --base-port / --prefect-port)")


def _start_prefect_server(layout: Layout) -> Member:
    """``prefect server start`` on its own PostgreSQL database (no phasedcare settings)."""
    env = _environment(
        PREFECT_HOME=_prefect_home(layout.run, "server"),
        PREFECT_API_DATABASE_CONNECTION_URL=layout.prefect_database_url,
        PREFECT_UI_ENABLED=str(layout.prefect_ui).lower(),
    )
    env = {k: v for k, v in env.items() if not k.startswith("PHASEDCARE_")}
    args = [executable("prefect"), "server", "start", "--host", layout.host]
    args += ["--port", str(layout.prefect_port)]
    name = "prefect-server"
    return _launch(name, name, args, env=env, run=layout.run, url=layout.prefect_api_url)


def _start_apis(layout: Layout) -> list[Member]:
    """One ``phasedcare serve --no-flows --no-seed`` per API port, sharing the home."""
    env = _phasedcare_env(layout.home, layout.database_url)
    members = []
    for number, port in enumerate(layout.api_ports, start=1):
        args = [executable("phasedcare"), "serve", "--no-flows", "--no-seed"]
        args += ["--host", layout.host, "--port", str(port)]
        url = f"http://{layout.host}:{port}"
        members.append(_launch(f"api-{number}", "api", args, env=env, run=layout.run, url=url))
    return members


def _start_workers(layout: Layout) -> list[Member]:
    """``prefect worker start --pool phasedcare``, N times; flow runs inherit the env."""
    members = []
    for number in range(1, layout.workers + 1):
        name = f"worker-{number}"
        env = _phasedcare_env(
            layout.home,
            layout.database_url,
            PREFECT_API_URL=layout.prefect_api_url,
            PREFECT_HOME=_prefect_home(layout.run, name),
        )
        args = [executable("prefect"), "worker", "start", "--pool", POOL, "--name", name]
        members.append(_launch(name, "worker", args, env=env, run=layout.run))
    return members


def _prefect(args: list[str], layout: Layout) -> None:
    """Run the prefect command line against the cluster's server; fail with its output."""
    env = _environment(
        PREFECT_API_URL=layout.prefect_api_url, PREFECT_HOME=_prefect_home(layout.run, "client")
    )
    log = layout.run / "deploy.log"
    with append_to(log) as output:
        try:
            result = subprocess.run(  # noqa: S603 - our own command, no shell
                [executable("prefect"), *args],
                env=env,
                cwd=layout.run,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            _give_up(log, f"`prefect {' '.join(args)}` took over 300 s")
    if result.returncode != 0:
        _give_up(log, f"`prefect {' '.join(args)}` failed")


def _find_prefect_file(given: Path | None) -> Path:
    """workflows/prefect.yaml: as given, of this checkout, or in the current folder."""
    candidates = [given] if given else [WORKFLOWS, Path("workflows/prefect.yaml")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    fail("no workflows/prefect.yaml found: pass --prefect-file PATH")


def _stop(members: list[Member], *, timeout: float) -> tuple[int, int]:
    """Stop the workers and their flow runs, then the rest; returns (ended, killed).

    Workers go first, while the Prefect server can still take their last reports: a Prefect
    client that cannot reach its server retries for a long time before it exits.
    """
    workers = stop_all([m.process for m in members if m.role == "worker"], timeout=timeout)
    others = stop_all([m.process for m in members if m.role != "worker"], timeout=timeout)
    return workers[0] + others[0], workers[1] + others[1]


@contextmanager
def _stopped_on_failure(state: ClusterState, home: Path) -> Iterator[None]:
    """If starting fails or is interrupted (Ctrl-C, SIGTERM), stop what was started before
    passing it on: the recorded members first, then any process launched but not yet
    recorded, each with its descendants."""
    try:
        with terminated_by_sigterm(_TERMINATED):
            yield
    except BaseException:
        _stop(state.members, timeout=10)
        stop_all(launched(), timeout=10)
        (home / STATE_FILE).unlink(missing_ok=True)
        raise


def _started(state: ClusterState, home: Path, *members: Member) -> None:
    """Record members as soon as they run."""
    state.members.extend(members)
    state.write(home)


def _start(state: ClusterState, layout: Layout, prefect_file: Path, *, deadline: float) -> None:
    """The server and the APIs at once; the pool; the workers while the flows deploy; health."""
    began = time.monotonic()
    with _stopped_on_failure(state, layout.home):
        _started(state, layout.home, _start_prefect_server(layout), *_start_apis(layout))
        _wait_healthy(state.members[:1], layout.prefect_api_url, deadline=deadline)
        ready = time.monotonic() - began
        console.print(f"Prefect server ready in {ready:.0f} s; deploying the flows")
        _prefect(["work-pool", "create", POOL, "--type", "process", "--overwrite"], layout)
        _started(state, layout.home, *_start_workers(layout))
        _prefect(["--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)], layout)
        _wait_healthy(state.members, layout.prefect_api_url, deadline=deadline)
    console.print(f"every process healthy in {time.monotonic() - began:.0f} s")


def _migrate(home: Path, database_url: str) -> None:
    """``phasedcare init`` against the cluster's database: the home, its keys, the schema."""
    from phasedcare.bootstrap import initialise  # noqa: PLC0415 - keep `phasedcare --help` fast

    with reporting_errors():
        initialise(load_settings(home=home, database_url=database_url))
    console.print(f"migrated {_hidden(database_url)}; home {home}")
    (home / "run").mkdir(mode=0o700, exist_ok=True)


def _refuse_if_running(home: Path, state: ClusterState | None) -> None:
    """One cluster per home: refuse while the recorded one still has a process."""
    if state is not None and any(m.process.running for m in state.members):
        fail(f"a cluster runs in {home}: `phasedcare cluster down` first", code=1)


def _print_addresses(state: ClusterState) -> None:
    """The addresses to use, and what goes in front of the API ports."""
    for member in state.members:
        where = member.url or f"polls work pool {POOL}"
        console.print(f"{member.name:15} pid {member.pid:<8} {where}", highlight=False)
    apis = [m.url for m in state.members if m.role == "api"]
    console.print(f"API: {', '.join(apis)} (docs at /docs): put a load balancer in front")
    ui = f" (UI at {state.prefect_ui_url})" if state.prefect_ui_url else ""
    console.print(f"Prefect: {state.prefect_api_url}{ui}")
    console.print("logs: run/*.log in the home; `phasedcare cluster down` stops everything")


DatabaseUrlOption = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="PHASEDCARE_DATABASE_URL",
        help="phasedcare's PostgreSQL database (postgresql+psycopg://USER@HOST:5432/NAME).",
    ),
]


@cluster_app.command("up")
def cluster_up(
    database_url: DatabaseUrlOption = "",
    api_processes: Annotated[int, typer.Option(min=1, max=64, help="How many API processes.")] = 2,
    workers: Annotated[int, typer.Option(min=0, max=64, help="How many Prefect workers.")] = 1,
    base_port: Annotated[
        int, typer.Option(min=1, max=65000, help="The first API port; the next ones follow.")
    ] = 8000,
    prefect_port: Annotated[
        int, typer.Option(min=1, max=65535, help="The Prefect server's port.")
    ] = 4200,
    prefect_database: Annotated[
        str,
        typer.Option(help="The Prefect server's database, beside phasedcare's (made if missing)."),
    ] = "phasedcare_prefect",
    prefect_file: Annotated[
        Path | None, typer.Option(help="The deployments (default: workflows/prefect.yaml).")
    ] = None,
    prefect_ui: Annotated[bool, typer.Option(help="Serve Prefect's web UI.")] = True,
    host: Annotated[str, typer.Option(help="The address every process listens on.")] = (
        "127.0.0.1"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 180.0,
    home: HomeOption = None,
) -> None:
    """Start N API processes and a Prefect server with N workers, all on PostgreSQL."""
    _require_postgres(database_url)
    deadline = time.monotonic() + timeout
    resolved, recorded = _recorded(home)
    _refuse_if_running(resolved, recorded)
    api_ports = [base_port + offset for offset in range(api_processes)]
    _check_ports_free(host, [*api_ports, prefect_port])
    _migrate(resolved, database_url)
    layout = Layout(
        home=resolved,
        database_url=database_url,
        prefect_database_url=prefect_database_url(database_url, prefect_database),
        host=host,
        api_ports=api_ports,
        prefect_port=prefect_port,
        workers=workers,
        prefect_ui=prefect_ui,
    )
    state = ClusterState(
        database=_hidden(database_url),
        prefect_database=_hidden(layout.prefect_database_url),
        prefect_api_url=layout.prefect_api_url,
        prefect_ui_url=layout.prefect_api_url.removesuffix("/api") if prefect_ui else "",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _start(state, layout, _find_prefect_file(prefect_file), deadline=deadline)
    console.print(f"cluster up: {resolved / STATE_FILE}")
    _print_addresses(state)


# -- status and down ---------------------------------------------------------------------------


def _recorded(home: Path | None) -> tuple[Path, ClusterState | None]:
    """The resolved home and the cluster recorded in it, if any."""
    with reporting_errors():
        resolved = load_settings(home=home).resolved_home.resolve()
    return resolved, ClusterState.read(resolved)


def _member_health(state: ClusterState) -> list[dict[str, Any]]:
    """Each member with whether it runs and whether it is healthy."""
    import httpx  # noqa: PLC0415 - keep `phasedcare --help` fast

    with httpx.Client(timeout=2) as http:
        online = _online_workers(http, state.prefect_api_url)
        return [
            {
                **asdict(member),
                "running": (running := member.process.running),
                "healthy": running and _health(http, member, online),
            }
            for member in state.members
        ]


@cluster_app.command("status")
def cluster_status(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Each process of the cluster: running or not, and healthy (exit 1 unless all are)."""
    resolved, state = _recorded(home)
    if state is None:
        fail(f"no cluster in {resolved} (`phasedcare cluster up` starts one)", code=1)
    rows = _member_health(state)
    if as_json:
        emit_json({**asdict(state), "members": rows})
    else:
        table(
            f"cluster in {resolved} (since {state.started_at})",
            ["process", "pid", "address", "running", "health", "log"],
            [
                [r["name"], r["pid"], r["url"] or f"pool {POOL}", r["running"], _word(r), r["log"]]
                for r in rows
            ],
            style=lambda row: "" if row[4] == "ok" else "bold red",
        )
    raise typer.Exit(0 if all(r["healthy"] for r in rows) else 1)


def _word(row: dict[str, Any]) -> str:
    """How a member's health reads in the table."""
    if row["healthy"]:
        return "ok"
    return "not responding" if row["running"] else "stopped"


@cluster_app.command("down")
def cluster_down(
    timeout: Annotated[float, typer.Option(help="Seconds between SIGTERM and SIGKILL.")] = 20.0,
    home: HomeOption = None,
) -> None:
    """Stop every process of the cluster: SIGTERM, then SIGKILL after the timeout."""
    resolved, state = _recorded(home)
    if state is None:
        console.print(f"no cluster in {resolved}")
        return
    ended, killed = _stop(state.members, timeout=timeout)
    (resolved / STATE_FILE).unlink()
    console.print(f"cluster down: {ended} processes ended ({killed} killed after {timeout:g} s)")
