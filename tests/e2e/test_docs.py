"""The README and every page in docs/ run as written: their Python blocks are executed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phasedcare.domain.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks() -> list[tuple[str, int, str]]:
    """(page, block number, code) for every python block of the README and docs."""
    return [
        (page.name, number, code)
        for page in PAGES
        for number, code in enumerate(_PYTHON.findall(page.read_text(encoding="utf-8")), start=1)
    ]


@pytest.mark.parametrize(("page", "number", "code"), python_blocks(), ids=lambda v: str(v)[:30])
def test_python_blocks_run(
    page: str,
    number: int,
    code: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each python block of the README and docs runs without error (its asserts hold)."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path))
    exec(compile(code, f"{page}#{number}", "exec"), {"__name__": f"docs_{number}"})  # noqa: S102 - our own docs


def test_the_readme_has_python_examples() -> None:
    """The README shows at least one runnable Python example, and docs have more."""
    pages = {page for page, _, _ in python_blocks()}
    assert {"README.md", "getting-started.md"} <= pages


def test_ci_runs_the_readme_commands_verbatim() -> None:
    """.ci/run types exactly the README's two commands."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)\n```", readme, re.DOTALL)[:2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.lock -e . && .venv/bin/phasedcare serve",
        ".venv/bin/python -m pytest",
    ]
    assert all(command in ci for command in commands)


def test_the_auditors_guide_runs_as_written(tmp_path: Path) -> None:
    """Every bash block of docs/ledger.md runs, in order, in one shell on a fresh home."""
    page = (ROOT / "docs" / "ledger.md").read_text(encoding="utf-8")
    script = "\n".join(re.findall(r"```bash\n(.*?)```", page, re.DOTALL))
    env = {
        **os.environ,
        "PHASEDCARE_HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("PHASEDCARE_ACTOR", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ledger intact") == 5
    assert result.stdout.count("refused, exit 1") == 2  # the forged record, the cut bundle
    assert "refused, exit 7" in result.stdout  # the case does not open: not authentic
    assert "unsealed record" in result.stdout
    assert "records after sequence" in result.stdout
    assert "kept and cosigned the checkpoint" in result.stdout
    assert re.search(
        r"case bundle intact: \d+ records, complete through sequence \d+", result.stdout
    )
    assert "checkpoint signed" in result.stdout
    assert "hashes, holds" in result.stdout
    assert "rewrapped" in result.stdout


def test_the_auditors_guide_counts_the_insiders_forgeries_as_the_suite_makes_them() -> None:
    """docs/ledger.md names as many event types, and as many forgeries on both databases, as
    tests/security/test_insider.py makes: one unsealed record of every type per database."""
    page = " ".join((ROOT / "docs" / "ledger.md").read_text(encoding="utf-8").split())
    found = re.search(r"every event type \((\d+) types, .*?, (\d+) on both databases\)", page)
    assert found is not None, "the insider paragraph of docs/ledger.md changed its wording"
    types, both = (int(group) for group in found.groups())
    assert (types, both) == (len(EVENT_TYPES), 2 * len(EVENT_TYPES))
