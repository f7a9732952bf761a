"""What the test session and CI start, they also end and remove (issue 12 audit, A5).

- A pytest session makes a throwaway PREFECT_HOME (``phasedcare-prefect-*`` under the temp
  folder) and removes it when it ends; one the caller named is left alone.
- ``.ci/run`` stops ``serve`` by its process id, stops PostgreSQL when it started it, and
  removes its mktemp home, whatever ends the run (here: a command that fails, as a curl
  does); sourced, it only defines its functions, so the EXIT trap is tried for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"


def _session(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A small pytest session of this repository with ``tmp`` as its temp folder."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PREFECT_HOME", "PHASEDCARE_TEST_THROWAWAY_PREFECT_HOME"}
        and not k.startswith("PYTEST_")
    }
    environment.update(TMPDIR=str(tmp), **env)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command.append("tests/security/test_findings.py")
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )


def test_a_test_session_removes_its_throwaway_prefect_home(tmp_path: Path) -> None:
    """The session's own ``phasedcare-prefect-*`` folder is gone once it ends."""
    result = _session(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.glob("phasedcare-prefect-*")) == []


def test_a_prefect_home_the_caller_named_is_kept(tmp_path: Path) -> None:
    """A PREFECT_HOME given to the session is the caller's: it stays, and no other is made."""
    named = tmp_path / "mine"
    named.mkdir()
    result = _session(tmp_path, PREFECT_HOME=str(named))
    assert result.returncode == 0, result.stdout + result.stderr
    assert named.is_dir()
    assert sorted(p.name for p in tmp_path.glob("phasedcare-prefect-*")) == []


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    "serve",
    [
        pytest.param("( sleep 300; true ) &", id="serve a child of the subshell"),
        pytest.param("( sleep 300 ) &", id="serve in the subshell's place"),
    ],
)
def test_ci_run_stops_what_it_started_when_a_step_fails(tmp_path: Path, serve: str) -> None:
    """A step fails after serve and PostgreSQL were started: the EXIT trap stops serve by
    its process id, stops the PostgreSQL cluster it started, removes its home, and the run
    still exits with the failing step's status."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "pg_ctlcluster.calls"
    stub = stubs / "pg_ctlcluster"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n', encoding="utf-8")
    stub.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    pids = tmp_path / "pids"
    script = f"""
        source {CI_RUN}
        trap cleanup EXIT
        {serve}
        serving=$!
        started_postgres=15
        ci_home={home}
        sleep 0.3
        echo "$serving $(pgrep -P "$serving" || true)" > {pids}
        false  # a curl that fails
        """
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=False, timeout=90
    )
    assert result.returncode == 1, result.stdout + result.stderr
    started = [int(p) for p in pids.read_text(encoding="utf-8").split()]
    assert started, "serve's subshell was recorded"
    assert [p for p in started if _alive(p)] == []
    assert calls.read_text(encoding="utf-8") == "--skip-systemctl-redirect 15 main stop\n"
    assert not home.exists()


def test_ci_run_installs_chromium_as_it_installs_softhsm() -> None:
    """The browser tests find Debian's /usr/bin/chromium: the script installs it when absent."""
    text = CI_RUN.read_text(encoding="utf-8")
    assert (
        "if ! command -v chromium >/dev/null; then\n    (apt-get update -qq && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) > /dev/null\n  fi"
    ) in text
