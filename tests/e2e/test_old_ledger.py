"""A ledger written by main before obligations still opens, verifies and replays under the new
rules, and its cases get their obligations (issue 14: "events stay facts").

The fixture (tests/fixtures/home-919fe40) is a home written by `phasedcare demo` at commit
919fe40: schema 0010, deadline rows of that moment, no policy recorded for its projections.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.store.tables import SCHEMA_REVISION

FIXTURE = Path(__file__).parent.parent / "fixtures" / "home-919fe40"
REASON = "het gezin is naar het buitenland verhuisd (synthetisch)"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the old home (git keeps no file modes: keys are made private again)."""
    folder = tmp_path / "home"
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns("README.md"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    return folder


def _cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result.stdout


def _query(home: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "phasedcare.db") as db:
        return db.execute(sql).fetchall()


def test_the_old_ledger_migrates_verifies_and_gets_its_obligations(home: Path) -> None:
    assert _query(home, "SELECT version_num FROM alembic_version") == [("0010",)]
    columns = {row[1] for row in _query(home, "PRAGMA table_info(case_records)")}
    assert "next_obligation" not in columns

    _cli("init")  # migrates to this code's schema

    assert _query(home, "SELECT version_num FROM alembic_version") == [(SCHEMA_REVISION,)]
    assert "projections match the events" in _cli("projections", "rebuild", "--check")
    assert "ledger intact" in _cli("audit", "verify")
    owed = json.loads(_cli("obligations", "--json"))
    assert owed, "the old cases owe something"
    rows = dict(_query(home, "SELECT case_id, next_obligation FROM case_records"))
    for obligation in owed:  # the caseload row names the earliest open one of each case
        assert rows[obligation["case_id"]] is not None
    late = json.loads(_cli("obligations", "--overdue", "--json"))
    assert ("veiligheidsbeoordeling:vb", True) in {(o["id"], o["overdue"]) for o in late}
    for case in json.loads(_cli("case", "list", "--json")):
        history = json.loads(_cli("case", "history", case["case_id"], "--json"))
        assert history[0]["event_type"] == "CaseOpened"


def test_a_command_on_an_old_case_is_decided_with_its_obligations(home: Path) -> None:
    """Veilig Thuis waives the late veiligheidsbeoordeling of an old case; the ledger stays
    intact and the obligation ends, recorded."""
    _cli("init")
    late = json.loads(_cli("obligations", "--overdue", "--json"))
    target = next(o for o in late if o["id"] == "veiligheidsbeoordeling:vb")
    _cli("case", "waive", target["case_id"], target["id"], "--reason", REASON)
    ended = json.loads(_cli("obligations", "--case", target["case_id"], "--json"))
    [waived] = [o for o in ended if o["id"] == target["id"]]
    assert (waived["status"], waived["ended_why"]) == ("moot", REASON)
    _cli("audit", "checkpoint")
    assert "ledger intact" in _cli("audit", "verify")
    assert "projections match the events" in _cli("projections", "rebuild", "--check")
