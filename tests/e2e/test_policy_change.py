"""One truth after a policy change (issue 14): when a new policy version changes a term, the
case view, the obligation list, the deadline rows the sweep escalates from and a rebuilt
projection agree; a ledger whose projections predate obligations gets them on the next start.

The operator's story, through the CLI a region's administrator types: the region lengthens
the veiligheidsbeoordeling term from 5 to 10 werkdagen in a new policy version.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.domain.policy import default_policy, parse_policy

AMSTERDAM_DAY = "%Y-%m-%dT%H:%M"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised home, a Veilig Thuis professional as actor, one case received 3 days ago."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    received = (datetime.now(default_policy().zone) - timedelta(days=3)).replace(hour=10)
    opened = runner.invoke(app, ["case", "open", "--received-at", f"{received:{AMSTERDAM_DAY}}"])
    assert opened.exit_code == 0, opened.stderr
    return folder


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _case_id() -> str:
    return json.loads(_cli("case", "list", "--json"))[0]["case_id"]


def _dues() -> dict[str, list[str]]:
    """The veiligheidsbeoordeling's due date as every reader gives it."""
    case_id = _case_id()
    shown = json.loads(_cli("case", "show", case_id, "--json"))
    owed = json.loads(_cli("obligations", "--case", case_id, "--json"))
    rows = json.loads(_cli("deadlines", "--json"))
    listed = json.loads(_cli("case", "list", "--json"))
    return {
        "case view": [d["due"] for d in shown["deadlines"]],
        "obligations": [o["due"] for o in owed if o["ended"] is None],
        "deadline rows (the sweep's list)": [r["due"] for r in rows],
        "caseload next deadline": [c["next_deadline"] for c in listed],
    }


def _new_policy(home: Path, werkdagen: int) -> str:
    """Write a policy version 2026.2 with another veiligheidsbeoordeling term; its due date."""
    path = home / "policy.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('version: "2026.1"', 'version: "2026.2"', 1)
    text = text.replace(
        "veiligheidsbeoordeling_werkdagen: 5", f"veiligheidsbeoordeling_werkdagen: {werkdagen}", 1
    )
    path.write_text(text, encoding="utf-8")
    policy = parse_policy(text, source=str(path))
    assert policy.deadlines.veiligheidsbeoordeling_werkdagen == werkdagen
    received = (datetime.now(policy.zone) - timedelta(days=3)).date()
    return policy.working_days().add_working_days(received, werkdagen).isoformat()


def test_a_longer_term_in_a_new_policy_version_is_one_truth_for_every_reader(home: Path) -> None:
    before = _dues()
    assert len({due for dues in before.values() for due in dues}) == 1, before

    due = _new_policy(home, 10)

    after = _dues()
    assert after == {reader: [due] for reader in after}, after
    assert "projections match the events" in _cli("projections", "rebuild", "--check")


def test_the_sweep_list_follows_a_shorter_term_so_the_missed_duty_is_escalated(
    home: Path,
) -> None:
    """A term shortened to 1 werkdag makes the 3-day-old melding overdue for every reader."""
    due = _new_policy(home, 1)
    assert _dues()["deadline rows (the sweep's list)"] == [due]
    overdue = json.loads(_cli("deadlines", "--overdue", "--json"))
    assert [(r["kind"], r["due"]) for r in overdue] == [("veiligheidsbeoordeling", due)]


def test_projections_from_before_obligations_get_them_on_the_next_start(home: Path) -> None:
    """A database written before projections recorded their policy (today's main): the case
    row has no next obligation and no deadline rows; the next command rebuilds them."""
    database = home / "phasedcare.db"
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM store_meta WHERE name = 'projections_policy'")
        db.execute("DELETE FROM case_deadlines")
        db.execute("UPDATE case_records SET next_deadline = NULL, next_obligation = NULL")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM case_deadlines").fetchone() == (0,)

    assert "differ" not in _cli("case", "list")  # any start rebuilds them
    with sqlite3.connect(database) as db:
        (obligation,) = db.execute("SELECT next_obligation FROM case_records").fetchone()
        (rows,) = db.execute("SELECT count(*) FROM case_deadlines").fetchone()
        (stamp,) = db.execute(
            "SELECT value FROM store_meta WHERE name = 'projections_policy'"
        ).fetchone()
    assert (obligation, rows) == ("veiligheidsbeoordeling:vb", 1)
    assert stamp == default_policy().fingerprint
    assert "projections match the events" in _cli("projections", "rebuild", "--check")
