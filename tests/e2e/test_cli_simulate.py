"""``phasedcare simulate`` as a user runs it: a home filled through the engine's commands."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    return folder


def test_simulate_fills_the_home_and_reports_what_it_did(home: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--households", "20", "--years", "1"])
    assert result.exit_code == 0, result.stderr
    rows = dict(
        (cells[1].strip(), cells[2].strip())
        for line in result.stdout.splitlines()
        if len(cells := line.split("│")) == 4
    )
    assert rows["households"] == "20"
    assert rows["refused"] == "0"
    with sqlite3.connect(home / "phasedcare.db") as db:
        stored = db.execute("select count(*) from event_records").fetchone()[0]
        cases = db.execute("select count(*) from case_records").fetchone()[0]
    assert rows["ledger records (all)"] == f"{stored:,}"
    assert cases == 20
    assert rows["database size"].endswith("MB")


def test_simulating_a_seed_again_is_one_clear_error(home: Path) -> None:
    assert CliRunner().invoke(app, ["simulate", "--households", "2", "--seed", "4"]).exit_code == 0
    again = CliRunner().invoke(app, ["simulate", "--households", "2", "--seed", "4"])
    assert again.exit_code == 2
    assert again.stderr.strip() == (
        "error: this database holds the simulation of seed 4 already: pick another --seed"
    )


def test_a_bad_size_is_refused_before_anything_runs(home: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--households", "0"])
    assert result.exit_code == 2
    assert "--households" in result.stderr
    assert not (home / "phasedcare.db").exists()
