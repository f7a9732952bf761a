"""``phasedcare import`` as an operator runs it: a file of case histories into a real home."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from import_support import VT, history, region
from phasedcare.cli.app import app

CANARY = "Zorro Kanariepiet"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised home, with the Veilig Thuis professional as actor."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", VT)
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    return folder


@pytest.fixture
def region_file(tmp_path: Path) -> Path:
    """Three case histories (45 lines) whose members carry a canary name."""
    path = tmp_path / "region.jsonl"
    lines = region(3, START, names=(CANARY, "Bram Voorbeeld", "Cato Voorbeeld"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str, code: int = 0) -> tuple[str, str]:
    """Run the CLI in-process, assert its exit code; stdout and stderr."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def error_line(*args: str, code: int) -> str:
    """The one error line of a failing command (stdout stays empty)."""
    stdout, stderr = run(*args, code=code)
    assert stdout == ""
    [line] = stderr.strip().splitlines()
    return line


def case_events(home: Path) -> int:
    """Case event records in the home's database (access-log entries not counted)."""
    with sqlite3.connect(home / "phasedcare.db") as db:
        query = "select count(*) from event_records where case_id not like '%~%'"
        return int(db.execute(query).fetchone()[0])


def test_import_writes_the_cases_and_prints_one_summary(home: Path, region_file: Path) -> None:
    """The summary counts lines, cases and events and gives the speed; the caseload shows
    the imported cases at their phase."""
    stdout, _ = run("import", str(region_file), "--batch-size", "20")
    summary = r"imported 45 lines: 3 cases, 45 events in [\d.]+ s \([\d,]+ events/s\), 2 batches\n"
    assert re.fullmatch(summary, stdout)
    assert case_events(home) == 45
    cases = json.loads(run("case", "list", "--json")[0])
    assert [(c["case_id"], c["phase"]) for c in cases] == [
        (f"c-imp-0000{n}", "stabiele_veiligheid") for n in range(3)
    ]
    assert CANARY not in stdout


def test_a_dry_run_checks_everything_and_writes_nothing(home: Path, region_file: Path) -> None:
    """--dry-run reports what would be imported; no case is written."""
    stdout, _ = run("import", str(region_file), "--dry-run")
    assert stdout.startswith("dry run, nothing written: 45 lines: 3 cases, 45 events would be")
    assert case_events(home) == 0
    assert json.loads(run("case", "list", "--json")[0]) == []


def test_a_bad_line_is_one_error_line_with_exit_code_2(home: Path, tmp_path: Path) -> None:
    """A refused line names its line, class and rule; nothing is written, nothing echoed."""
    entries = history("c-1", START)
    entries[11]["fields"]["name"] = CANARY  # AcceptHandover takes no name
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in entries), encoding="utf-8")
    line = error_line("import", str(path), code=2)
    assert line == (
        "error: line 12: fields: an unknown field; AcceptHandover takes case_id, "
        "handover_id, casusregisseur"
    )
    entries[11]["fields"].pop("name")
    entries[14]["actor"] = VT  # the wijkteam holds regie by then, not Veilig Thuis
    path.write_text("\n".join(json.dumps(e) for e in entries), encoding="utf-8")
    line = error_line("import", str(path), code=2)
    assert line.startswith("error: line 15: FireEvent refused (NotAuthorised): ")
    assert case_events(home) == 0


def test_a_second_import_is_refused_and_resume_skips_what_is_there(
    home: Path, region_file: Path
) -> None:
    """The same file again: exit 2 at its first case; with --resume nothing is added."""
    run("import", str(region_file))
    line = error_line("import", str(region_file), code=2)
    assert line.startswith("error: line 1: OpenCase refused (Refused:case_exists): case c-imp")
    stdout, _ = run("import", str(region_file), "--resume", "--json")
    report = json.loads(stdout)
    assert (report["cases"], report["skipped_cases"], report["events"]) == (0, 3, 0)
    assert case_events(home) == 45


def test_only_veilig_thuis_imports(home: Path, region_file: Path) -> None:
    """Another organisation's professional is refused with exit code 3."""
    actor = "u-wt-01@wijkteam-zwolle:professional"
    line = error_line("import", str(region_file), "--actor", actor, code=3)
    assert line.endswith("is not authorised: imports are run by Veilig Thuis of the region")
    assert case_events(home) == 0


@pytest.mark.usefixtures("home")
def test_an_unreadable_file_or_batch_size_is_refused(tmp_path: Path) -> None:
    """A missing file is one error line (exit 2); a batch size below 1 a usage error."""
    missing = tmp_path / "missing.jsonl"
    line = error_line("import", str(missing), code=2)
    assert line == f"error: cannot read {missing}: No such file or directory"
    run("import", str(missing), "--batch-size", "0", code=2)
