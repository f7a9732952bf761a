"""M9: case text reaches the terminal as typed, never as Rich markup or as escape sequences.

Everything runs through the real CLI (typer's runner in-process, and the installed command
under a forced colour terminal) and asserts on the bytes it writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app

VT = "u-vt-01@vt-ijsselland:professional"
WIJKTEAM = "u-wt-01@wijkteam-zwolle:professional"

EVIL = "Evil\x1b]0;pwned\x07\x1b[2J\x1b[31mRED[bold]x[/bold]"
EVIL_SHOWN = "Evil\ufffd]0;pwned\ufffd\ufffd[2J\ufffd[31mRED[bold]x[/bold]"
NAMES = ("Jan [/] Test", "[onbekend]", "Kind [naam onbekend]", EVIL)
STATEMENT = "Vader \u202egeen\u202c contact\u2066 \x9b31m zonder \x7fafspraak"
STATEMENT_SHOWN = "Vader \ufffdgeen\ufffd contact\ufffd \ufffd31m zonder \ufffdafspraak"
RISK = "risico [bold]hoog[/bold]\r\x1b[1Aoverschreven"
RISK_SHOWN = "risico [bold]hoog[/bold]\ufffd\ufffd[1Aoverschreven"
UNSAFE = (b"\x1b", b"\x07", b"\x7f", b"\r", "\x9b".encode(), "\u202e".encode())


def run(*args: str, code: int = 0) -> tuple[bytes, bytes]:
    """Run the CLI in-process; assert its exit code; return stdout and stderr as bytes."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout_bytes, result.stderr_bytes


def assert_inert(output: bytes) -> None:
    """Nothing in ``output`` a terminal would act on rather than show."""
    for unsafe in UNSAFE:
        assert unsafe not in output, (unsafe, output)


@pytest.fixture
def case_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A case whose members, condition and handover carry markup, escapes and bidi controls."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHASEDCARE_ACTOR", VT)
    run("init")
    opened = run("case", "open", "--via", "melding", "--summary", "synthetic")[0]
    case = opened.decode().strip()
    for name in NAMES:
        run("case", "member", case, "--role", "kind", "--name", name)
    condition = ("--statement", STATEMENT, "--owner", "wijkteam-zwolle", "--every", "14")
    run("case", "condition", case, *condition)
    return case


def propose(case_id: str) -> None:
    """A handover whose monitoring agreement and risk summary carry markup and escapes."""
    run(
        "handover",
        "propose",
        case_id,
        "--to",
        "wijkteam-zwolle",
        "--condition",
        "c1",
        "--monitoring",
        EVIL,
        "--risk",
        RISK,
        "--legal-basis",
        "art. 5.2.6 Wmo 2015",
        "--household-informed",
    )


def test_case_show_prints_names_as_typed_and_no_escape_bytes(case_id: str) -> None:
    """`Jan [/] Test` no longer crashes the view; brackets stay; ESC, BEL, bidi are replaced."""
    out, _ = run("case", "show", case_id)
    text = out.decode()
    for name in NAMES[:3]:
        assert name in text
    assert EVIL_SHOWN in text
    assert STATEMENT_SHOWN in text
    assert_inert(out)


def test_case_show_json_keeps_the_data_whole_and_escapes_what_acts(case_id: str) -> None:
    """--json gives every character back, with the unsafe ones as \\u escapes only."""
    out, _ = run("case", "show", case_id, "--json")
    assert_inert(out)
    view = json.loads(out)
    assert [m["name"] for m in view["members"]] == list(NAMES)
    assert view["conditions"][0]["statement"] == STATEMENT
    assert "\\u009b31m" in out.decode()


def test_handover_show_and_list_print_payload_text_inert(case_id: str) -> None:
    """The payload's free text (monitoring, risk) shows as typed, markup and escapes inert."""
    propose(case_id)
    out, _ = run("handover", "show", case_id, "h1")
    text = out.decode()
    assert f"monitoring: {EVIL_SHOWN}" in text
    assert f"risk: {RISK_SHOWN}" in text
    assert_inert(out)
    listed, _ = run("handover", "list")
    assert case_id in listed.decode()
    assert_inert(listed)


def test_history_caseload_and_deadlines_print_clean_lines(case_id: str) -> None:
    """The list commands show the case, and nothing from its data acts on the terminal."""
    for args in (
        ("case", "history", case_id),
        ("case", "list"),
        ("deadlines",),
        ("case", "allowed", case_id),
        ("audit", "access", case_id),
    ):
        out, _ = run(*args)
        assert case_id in out.decode(), args
        assert_inert(out)


def test_an_error_line_replaces_escapes_from_the_command_line(case_id: str) -> None:
    """A bad id typed with escapes comes back in one error line, inert."""
    _, err = run("case", "show", "c-\x1b]0;x\x07", code=4)
    assert err.decode().startswith("error: ")
    assert "\ufffd]0;x\ufffd" in err.decode()
    assert_inert(err)


def test_a_colour_terminal_shows_markup_in_data_as_text(case_id: str) -> None:
    """Under a forced colour terminal Rich styles its own table, yet `[bold]` in data stays text
    and none of the data's ESC ] (OSC), BEL or clear-screen sequences reach the terminal."""
    env = {**os.environ, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "200"}
    phasedcare = str(Path(sys.executable).parent / "phasedcare")
    done = subprocess.run(
        [phasedcare, "case", "show", case_id], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert b"\x1b[1m" in done.stdout  # Rich's own bold: this is a colour terminal
    assert EVIL_SHOWN.encode() in done.stdout  # ...yet [bold] in the name is text
    for unsafe in (b"\x1b]", b"\x07", b"\x1b[2J", b"\x1b[31mRED", "\u202e".encode()):
        assert unsafe not in done.stdout
