"""The command line as a user runs it: real files under a temporary home."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from support import CANARY_NAMES

VT = "u-vt-01@vt-ijsselland:professional"
WIJKTEAM = "u-wt-01@wijkteam-zwolle:professional"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised phasedcare home, with the VT professional as actor."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", VT)
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    return folder


def cli(*args: str, code: int = 0) -> str:
    """Run the CLI in-process; assert its exit code; return stdout."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def cli_error(*args: str, code: int) -> str:
    """Run the CLI expecting a failure; return its single stderr line."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def event_count(home: Path) -> int:
    """How many case event records (not access-log entries) the home's database holds."""
    with sqlite3.connect(home / "phasedcare.db") as db:
        query = "select count(*) from event_records where case_id not like '%~%'"
        return int(db.execute(query).fetchone()[0])


def test_init_is_idempotent_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """init creates a 0700 home with 0600 files, and a second run creates nothing."""
    folder = tmp_path / "h"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    first = cli("init")
    assert "created" in first
    assert "created" not in cli("init")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "policy.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "keys").stat().st_mode) == 0o700
    [kek] = (folder / "keys").glob("kek-*.key")
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "keys" / "checkpoint.key").stat().st_mode) == 0o600
    assert (folder / "phasedcare.db").exists()


def test_a_case_from_open_to_stabiele_veiligheid(home: Path) -> None:
    """Open, record, fire and inspect a case through the CLI."""
    case_id = cli("case", "open", "--via", "melding", "--summary", "synthetic").strip()
    cli(
        "case",
        "member",
        case_id,
        "--role",
        "kind",
        "--name",
        "Cato Voorbeeld",
        "--born",
        "2018-04-01",
    )
    cli("case", "fire", case_id, "start_veiligheidsbeoordeling", "--chart", "vt")
    cli(
        "case",
        "condition",
        case_id,
        "--statement",
        "No violence",
        "--owner",
        "wijkteam-zwolle",
        "--every",
        "14",
    )
    cli(
        "case",
        "risk",
        case_id,
        "--instrument",
        "LIRIK",
        "--instrument-version",
        "2",
        "--level",
        "hoog",
    )
    cli("case", "fire", case_id, "start_directe_veiligheid")
    cli("case", "plan", case_id)
    cli("case", "check", case_id, "c1", "--status", "met")
    cli("case", "fire", case_id, "naar_stabiele_veiligheid")
    cli("case", "flag", case_id, "intieme_terreur")
    shown = json.loads(cli("case", "show", case_id, "--json"))
    assert (shown["phase"], shown["vt_stage"], shown["sequence"]) == (
        "stabiele_veiligheid",
        "veiligheidsbeoordeling",
        10,
    )
    assert shown["flags"] == ["intieme_terreur"]
    history = json.loads(cli("case", "history", case_id, "--json"))
    assert [h["event_type"] for h in history][-2:] == ["PhaseTransitioned", "SpecificGroupFlagged"]
    allowed = {o["event"]: o for o in json.loads(cli("case", "allowed", case_id, "--json"))}
    assert allowed["terugval"]["allowed"]
    assert not allowed["naar_herstel"]["allowed"]


def test_a_refusal_is_one_line_with_the_rule_and_writes_nothing(home: Path) -> None:
    """A refused event exits 5 with the reason; the database is unchanged."""
    case_id = cli("case", "open").strip()
    before = event_count(home)
    line = cli_error("case", "fire", case_id, "start_directe_veiligheid", code=5)
    assert (
        line
        == "error: start_directe_veiligheid refused in aanmelding: no household members recorded"
    )
    assert event_count(home) == before
    refusals = [
        a
        for a in json.loads(cli("audit", "access", case_id, "--json"))
        if a["outcome"] == "refused"
    ]
    assert [(a["query"], a["detail"], a["access_point"]) for a in refusals] == [
        ("FireEvent", "TransitionRefused:has_members", "cli")
    ]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["case", "show", "c-unknown"], 4, "error: case c-unknown does not exist"),
        (
            ["case", "fire", "CASE", "naar_hersel"],
            2,
            "error: unknown event of the phase chart; known events:",
        ),
        (
            ["case", "member", "CASE", "--role", "buurman", "--name", "X"],
            2,
            "error: role: Input should be",
        ),
        (
            ["case", "check", "CASE", "c9", "--status", "met"],
            4,
            "error: case CASE has no safety condition c9",
        ),
        (
            ["case", "check", "CASE", "c1", "--status", "met", "--on", "gisteren"],
            2,
            "error: 'gisteren' is not a date",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    home: Path, args: list[str], code: int, expected: str
) -> None:
    """Unknown cases, events, roles, conditions and dates give one line and a non-zero exit."""
    case_id = cli("case", "open").strip()
    before = event_count(home)
    line = cli_error(*[case_id if a == "CASE" else a for a in args], code=code)
    assert line.startswith(expected.replace("CASE", case_id))
    assert event_count(home) == before


def test_wrong_actors_are_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed actor, a missing one and one of another organisation are refused."""
    case_id = cli("case", "open").strip()
    assert cli_error("case", "show", case_id, "--actor", "vt-ijsselland", code=2).startswith(
        "error: actor 'vt-ijsselland' is not of the form"
    )
    # an organisation with no part in the case is answered as for a missing case
    assert cli_error("case", "show", case_id, "--actor", WIJKTEAM, code=4) == (
        f"error: case {case_id} does not exist or you may not read it"
    )
    assert "is unknown in region" in cli_error(
        "case", "show", case_id, "--actor", "u@elders:professional", code=3
    )
    monkeypatch.delenv("PHASEDCARE_ACTOR")
    assert (
        cli_error("case", "list", code=2)
        == "error: no actor: pass --actor user@organisation:role or set PHASEDCARE_ACTOR"
    )


def test_a_malformed_policy_names_file_line_and_field(home: Path) -> None:
    """A broken policy file stops every command with the line and field at fault."""
    policy = home / "policy.yaml"
    text = policy.read_text(encoding="utf-8").replace(
        "veiligheidsbeoordeling_werkdagen: 5", "veiligheidsbeoordeling_werkdagen: -5"
    )
    assert "-5" in text
    policy.write_text(text, encoding="utf-8")
    line = cli_error("case", "list", code=2)
    assert "deadlines.veiligheidsbeoordeling_werkdagen" in line
    assert " line " in line


def test_an_uninitialised_home_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands on a home without a database ask for `phasedcare init`."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "empty"))
    assert "phasedcare init" in cli_error("case", "list", "--actor", VT, code=7)


def test_lists_never_show_names(home: Path) -> None:
    """The caseload and the database's projection table hold no member names."""
    case_id = cli("case", "open").strip()
    for name in CANARY_NAMES:
        cli("case", "member", case_id, "--role", "kind", "--name", name)
    listing = cli("case", "list", "--json") + cli("case", "list")
    assert not any(name in listing for name in CANARY_NAMES)
    with sqlite3.connect(home / "phasedcare.db") as db:
        rows = repr(db.execute("select * from case_records").fetchall())
    assert case_id in rows
    assert not any(name in rows for name in CANARY_NAMES)


def test_names_never_reach_the_database_files(home: Path) -> None:
    """Sealed payloads: no canary name in the database file or its WAL, even in raw bytes."""
    case_id = cli("case", "open", "--summary", CANARY_NAMES[1]).strip()
    for name in CANARY_NAMES:
        cli("case", "member", case_id, "--role", "kind", "--name", name)
    cli("case", "incident", case_id, "--description", CANARY_NAMES[2])
    shown = cli("case", "show", case_id, "--json")
    assert all(name in shown for name in CANARY_NAMES)  # readable through the engine...
    raw = b"".join(p.read_bytes() for p in home.glob("phasedcare.db*"))
    assert b"MemberRecorded" in raw  # ...while the files hold headers only
    for name in CANARY_NAMES:
        assert name.encode() not in raw
        assert name.encode("utf-16-le") not in raw


def test_the_demo_through_the_installed_command(tmp_path: Path) -> None:
    """`phasedcare demo` fills a region with cases in every phase; they can be listed after."""
    env = {
        **os.environ,
        "PHASEDCARE_HOME": str(tmp_path / "demo"),
        "PHASEDCARE_ACTOR": VT,
        "COLUMNS": "200",
    }
    phasedcare = str(Path(sys.executable).parent / "phasedcare")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [phasedcare, *args], env=env, capture_output=True, text=True, check=False
        )

    result = run("demo", "--households", "12")
    assert result.returncode == 0, result.stderr
    assert (
        "phases: aanmelding 4, afgesloten 1, directe_veiligheid 5, herstel 1, stabiele_veiligheid 1"
        in result.stdout
    )
    assert "handovers: accepted 5, proposed 2" in result.stdout
    sweep = next(line for line in result.stdout.splitlines() if line.startswith("sweep-deadlines"))
    assert "expired c-" in sweep  # the embedded flow expired the unanswered handover
    assert ":veiligheidsbeoordeling:" in sweep  # and escalated the late assessments
    overdue = json.loads(run("obligations", "--overdue", "--json").stdout)
    acute = [o for o in overdue if o["due_at"] is not None]
    assert [(o["id"], o["status"]) for o in acute] == [
        ("veiligheidsbeoordeling:vb-m2", "escalated")
    ]
    assert overdue[0]["id"] == "veiligheidsbeoordeling:vb-m2"  # the acute one first
    cases = json.loads(run("case", "list", "--json").stdout)
    assert len(cases) == 12
    assert sum(c["zicht_until"] is not None for c in cases) == 1  # arranged for a late one
    caseload = run("case", "list").stdout
    assert "until 20" in caseload  # zicht arranged for one late melding
    assert "none" in caseload  # and not for the other
    check = run("projections", "rebuild", "--check")
    assert check.returncode == 0, check.stdout


@pytest.mark.postgres
def test_the_cli_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init migrates a PostgreSQL database; cases open, move and list there."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "pg-home"))
    monkeypatch.setenv("PHASEDCARE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PHASEDCARE_ACTOR", VT)
    cli("init")
    case_id = cli("case", "open").strip()
    cli("case", "member", case_id, "--role", "kind", "--name", CANARY_NAMES[0])
    cli("case", "fire", case_id, "start_directe_veiligheid")
    listed = json.loads(cli("case", "list", "--json"))
    assert [(c["case_id"], c["phase"]) for c in listed] == [(case_id, "directe_veiligheid")]
    assert not (tmp_path / "pg-home" / "phasedcare.db").exists()


def test_audit_verify_exits_1_at_the_first_bad_record(home: Path) -> None:
    """A flipped byte in a sealed payload: verify names its position and case, exit code 1."""
    case_id = cli("case", "open").strip()
    cli("case", "member", case_id, "--role", "kind", "--name", "Otto Proefmans")
    cli("audit", "checkpoint")
    assert "ledger intact" in cli("audit", "verify")
    with sqlite3.connect(home / "phasedcare.db") as db:
        position, payload = db.execute(
            "select position, payload from event_records where case_id = ? and sequence = 2",
            (case_id,),
        ).fetchone()
        db.execute(
            "update event_records set payload = ? where position = ?",
            (payload[:-1] + bytes([payload[-1] ^ 1]), position),
        )
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"ledger NOT intact: position {position}, case {case_id}#2: leaf hash does not match"
    )


def test_init_refuses_to_make_new_keys_for_a_database_that_holds_cases(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second machine started without the key folder must not seal apart from the data."""
    cli("case", "open", "--via", "melding")
    other = tmp_path / "other-machine"
    monkeypatch.setenv("PHASEDCARE_HOME", str(other))
    monkeypatch.setenv("PHASEDCARE_DATABASE_URL", f"sqlite:///{home / 'phasedcare.db'}")
    line = cli_error("init", code=7)
    assert "the database holds cases but" in line
    assert "lacks a key-encryption key, checkpoint.key, index.key" in line
    assert not any((other / "keys").glob("*.key"))


def test_version_prints_the_installed_packages_version_and_one_truth() -> None:
    """`phasedcare --version` (issue 18): the version the package was installed with, which
    `phasedcare.__version__` repeats; the package says it is typed (py.typed, PEP 561)."""
    from importlib import resources  # noqa: PLC0415
    from importlib.metadata import version  # noqa: PLC0415

    import phasedcare  # noqa: PLC0415

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"phasedcare {version('phasedcare')}"
    assert phasedcare.__version__ == version("phasedcare")
    assert resources.files("phasedcare").joinpath("py.typed").is_file()
