"""`phasedcare cluster`: two API processes and a Prefect server with a worker on PostgreSQL.

One test walks the documented commands: `cluster up`, a case written through one API process
and read through the other, a deployment run picked up by the worker and Completed, no
personal data in Prefect's database, and `cluster down` leaving no process behind. It needs
PostgreSQL (PHASEDCARE_TEST_POSTGRES_URL) and takes one to two minutes on a shared 2-core
machine (most of it Prefect's start); each run gets a fresh schema for phasedcare and a fresh
database for Prefect, both dropped afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect_support import (
    POSTGRES_URL,
    PrefectServer,
    database_url,
    drop_database,
    files_text,
    free_port,
)
from typer.testing import CliRunner

from harness import Harness
from phasedcare.cli.app import app
from phasedcare.cli.processes import Detached, launch, stop_all
from support import CANARY_NAMES

VT = "u-vt-01@vt-ijsselland:professional"
PHASEDCARE = str(Path(sys.executable).parent / "phasedcare")


@dataclass(frozen=True)
class Cluster:
    """Where a test cluster lives and the environment its commands run with."""

    home: Path
    env: dict[str, str]
    prefect_database: str

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run `phasedcare cluster ...` as a user types it."""
        return subprocess.run(
            [PHASEDCARE, "cluster", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def state(self) -> dict[str, Any]:
        """run/cluster.json as `cluster up` wrote it."""
        return dict(json.loads((self.home / "run" / "cluster.json").read_text(encoding="utf-8")))


def two_free_ports() -> int:
    """A port P on 127.0.0.1 such that P and P + 1 are both free."""
    for _ in range(20):
        port = free_port()
        if port < 65000 and all(_free(p) for p in (port, port + 1)):
            return port
    raise AssertionError("no two consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A home, a fresh schema and a Prefect database name; what it left running is stopped."""
    if not POSTGRES_URL:
        pytest.skip("PHASEDCARE_TEST_POSTGRES_URL is unset: a cluster needs PostgreSQL")
    schema_url: str = request.getfixturevalue("postgres_url")  # fresh, dropped afterwards
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PHASEDCARE_"))}
    env.update(
        PHASEDCARE_HOME=str(tmp_path / "home"),
        PHASEDCARE_DATABASE_URL=schema_url,
        PREFECT_WORKER_QUERY_SECONDS="1",  # workers poll every second: runs start at once
    )
    made = Cluster(tmp_path / "home", env, f"pc_cluster_prefect_{uuid.uuid4().hex[:10]}")
    try:
        yield made
    finally:
        if (made.home / "run" / "cluster.json").exists():
            made.run("down", "--timeout", "5")
        drop_database(made.prefect_database)


def cluster_processes(home: Path) -> list[int]:
    """Every running process (this one excepted) whose environment names this home."""
    marker = f"PHASEDCARE_HOME={home}\0".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        pid = int(environ.parent.name)
        try:
            carries = marker in environ.read_bytes()
        except OSError:
            continue
        if carries and pid != os.getpid() and Detached(pid, None).running:
            found.append(pid)
    return found


def api_key(cluster: Cluster) -> dict[str, str]:
    """A bearer header for the Veilig Thuis professional (`phasedcare keys api create`)."""
    result = CliRunner().invoke(app, ["keys", "api", "create", "--actor", VT], env=cluster.env)
    assert result.exit_code == 0, result.stderr
    token = result.stdout.split("token: ", 1)[1].strip()
    return {"Authorization": f"Bearer {token}"}


def open_case_through(api: str, auth: dict[str, str]) -> str:
    """Open a case naming a canary person, through one API process; returns its id."""
    name = CANARY_NAMES[0]
    body = {"via": "melding", "summary": f"Melding over {name}"}
    opened = httpx.post(f"{api}/cases", json=body, headers=auth, timeout=30)
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    member = {"role": "slachtoffer", "name": name}
    recorded = httpx.post(f"{api}/cases/{case_id}/record-member", json=member, headers=auth)
    assert recorded.status_code == 200, recorded.text
    return case_id


def run_deployment(prefect_api: str, name: str) -> str:
    """Create a run of deployment ``name`` (as `prefect deployment run` does); its id."""
    with httpx.Client(base_url=prefect_api, timeout=30) as http:
        deployment = http.get(f"/deployments/name/{name}").json()
        run = http.post(f"/deployments/{deployment['id']}/create_flow_run", json={})
        assert run.status_code == 201, run.text
        return str(run.json()["id"])


def wait_for_end(prefect_api: str, flow_run_id: str, *, timeout: float) -> dict[str, Any]:
    """The flow run once its state is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}", timeout=10).json()
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not end in {timeout} s")


@pytest.mark.postgres
def test_cluster_up_serves_from_every_process_runs_deployments_and_goes_down(
    cluster: Cluster, harness: Harness
) -> None:
    """A case written via API 1 reads the same via API 2; the worker completes a deployment
    run; Prefect stores no name; `down` leaves no process of the cluster behind."""
    base = two_free_ports()
    up = cluster.run(
        "up",
        *("--api-processes", "2", "--workers", "1", "--base-port", str(base)),
        *("--prefect-port", str(free_port()), "--prefect-database", cluster.prefect_database),
        "--no-prefect-ui",
    )
    assert up.returncode == 0, up.stdout + up.stderr
    state = cluster.state()
    members = {m["name"]: m for m in state["members"]}
    assert sorted(members) == ["api-1", "api-2", "prefect-server", "worker-1"]
    assert [members["api-1"]["url"], members["api-2"]["url"]] == [
        f"http://127.0.0.1:{base}",
        f"http://127.0.0.1:{base + 1}",
    ]
    assert f"API: http://127.0.0.1:{base}, http://127.0.0.1:{base + 1}" in up.stdout
    status = cluster.run("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert all(m["healthy"] for m in json.loads(status.stdout)["members"])

    auth = api_key(cluster)
    case_id = open_case_through(members["api-1"]["url"], auth)
    via_1 = httpx.get(f"{members['api-1']['url']}/cases/{case_id}", headers=auth).json()
    via_2 = httpx.get(f"{members['api-2']['url']}/cases/{case_id}", headers=auth)
    assert via_2.status_code == 200
    assert (via_2.json()["members"], via_2.json()["phase"]) == (via_1["members"], "aanmelding")
    assert via_2.json()["members"][0]["name"] == CANARY_NAMES[0]
    caseload = httpx.get(f"{members['api-2']['url']}/cases", headers=auth).json()
    assert [c["case_id"] for c in caseload] == [case_id]  # no demo region seeded

    prefect_api = state["prefect_api_url"]
    flow_run_id = run_deployment(prefect_api, "sweep-deadlines/sweep-deadlines")
    run = wait_for_end(prefect_api, flow_run_id, timeout=90)
    assert (run["state"]["type"], run["work_pool_name"], run["parameters"]) == (
        "COMPLETED",
        "phasedcare",
        {},
    )
    worker_log = Path(members["worker-1"]["log"]).read_text(encoding="utf-8")
    assert f"Worker 'worker-1' submitting flow run '{flow_run_id}'" in worker_log

    time.sleep(1.5)  # the server persists events in batches, every second
    prefect_folder = cluster.home / "run" / "prefect"
    stored = PrefectServer(prefect_folder, database_url(cluster.prefect_database, driver="asyncpg"))
    prefect_text = stored.stored_text() + files_text(prefect_folder)
    for name in CANARY_NAMES:
        assert name.encode() not in prefect_text, f"{name!r} found in Prefect's store"

    down = cluster.run("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (cluster.home / "run" / "cluster.json").exists()
    assert cluster_processes(cluster.home) == []
    assert not any(Detached(m["pid"], m["started"]).running for m in members.values())
    harness.count("cluster: processes stopped by down", int(down.stdout.split()[2]))
    assert cluster.run("status").returncode == 1


def test_cluster_up_refuses_sqlite(tmp_path: Path) -> None:
    """SQLite serves one process: `cluster up` says so and starts nothing."""
    home = tmp_path / "home"
    args = ["cluster", "up", "--home", str(home), "--database-url", f"sqlite:///{tmp_path}/x.db"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "a cluster needs PostgreSQL, not sqlite" in result.stderr
    assert not home.exists()


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
if sys.argv[1] == "leader":  # argv[2] is this very code
    subprocess.Popen([sys.executable, "-c", sys.argv[2], "child"], start_new_session=True)
time.sleep(60)
"""
"""A process that ignores SIGTERM; as the leader it starts a child in a session of its own."""


def test_stop_all_kills_what_ignores_sigterm_and_the_children_it_started(tmp_path: Path) -> None:
    """SIGTERM first, SIGKILL after the timeout, to the leader and its descendants alike."""
    log = tmp_path / "stubborn.log"
    args = [sys.executable, "-c", STUBBORN, "leader", STUBBORN]
    leader = launch(args, env=dict(os.environ), cwd=tmp_path, log=log)
    deadline = time.monotonic() + 30
    while log.read_text(encoding="utf-8").count("ignoring SIGTERM") < 2:
        assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
        time.sleep(0.05)
    assert stop_all([leader], timeout=0.5) == (2, 2)
    assert not leader.running
    assert stop_all([leader], timeout=0.5) == (0, 0)
