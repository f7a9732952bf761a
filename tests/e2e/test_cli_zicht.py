"""`phasedcare case zicht`, and waiting made visible in `case list` and `case show`: a melding
received 10 days ago waits past its term; the Veilig Thuis professional sees "none" in the
caseload, arranges that the wijkteam keeps in contact with the family, and sees until when."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from click.testing import Result
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.domain.policy import default_policy


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _zicht(case_id: str, *extra: str) -> Result:
    return _run("case", "zicht", case_id, "--melding", "m1", "--kept-by", "wijkteam-zwolle", *extra)


def today() -> date:
    """Today in the region's time zone, as the engine judges it."""
    return datetime.now(default_policy().zone).date()


def _waiting_column(case_id: str) -> str:
    listed = _run("case", "list")
    assert listed.exit_code == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if case_id in line]
    return line


def test_a_waiting_melding_shows_no_zicht_until_it_is_arranged(late_case: str) -> None:
    assert "none" in _waiting_column(late_case)
    shown = _run("case", "show", late_case)
    assert "WAITING PAST ITS TERM" in shown.stdout
    assert "NONE" in shown.stdout

    until = (today() + timedelta(days=7)).isoformat()
    arranged = _zicht(late_case, "--means", "contact_met_gezin", "--until", until)
    assert arranged.exit_code == 0, arranged.stderr

    assert f"until {until}" in _waiting_column(late_case)
    shown = _run("case", "show", late_case)
    assert f"wijkteam-zwolle, contact_met_gezin, until {until}" in shown.stdout
    [melding] = json.loads(_run("case", "show", late_case, "--json").stdout)["meldingen"]
    assert (melding["waiting_past_term"], melding["zicht_organised"]) == (True, True)


@pytest.mark.parametrize(
    ("means", "days", "code", "words"),
    [
        ("hopen", 7, 2, "means"),
        ("contact_met_gezin", 60, 5, "at most 28 days ahead"),
        ("contact_met_gezin", -1, 5, "has passed"),
    ],
)
def test_zicht_that_cannot_be_is_refused_and_changes_nothing(
    late_case: str, means: str, days: int, code: int, words: str
) -> None:
    until = (today() + timedelta(days=days)).isoformat()
    refused = _zicht(late_case, "--means", means, "--until", until)
    assert refused.exit_code == code, (refused.stdout, refused.stderr)
    assert words in refused.stderr
    assert "none" in _waiting_column(late_case)
