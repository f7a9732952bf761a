"""`phasedcare obligations` and `phasedcare case waive`: a Veilig Thuis professional finds the
veiligheidsbeoordeling of a melding received 10 days ago overdue and, the household having
moved out of the region, waives it with the reason; refusals change nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app

REASON = "het gezin is verhuisd naar een andere regio"


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def _obligations(*args: str) -> list[dict[str, object]]:
    result = _run("obligations", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_an_overdue_obligation_is_listed_and_waived_with_a_reason(late_case: str) -> None:
    overdue = _obligations("--overdue")
    assert [(o["case_id"], o["id"], o["overdue"]) for o in overdue] == [
        (late_case, "veiligheidsbeoordeling:vb", True)
    ]

    waived = _run("case", "waive", late_case, "veiligheidsbeoordeling:vb", "--reason", REASON)
    assert waived.exit_code == 0, waived.stderr

    assert _obligations("--overdue") == []
    [ended] = _obligations("--case", late_case)
    assert (ended["status"], ended["ended_why"], ended["ended"]["event"]) == (
        "moot",
        REASON,
        "ObligationWaived",
    )


@pytest.mark.parametrize(
    ("obligation", "reason", "code", "words"),
    [
        ("monitoring:m3", REASON, 5, "has no open obligation monitoring:m3"),
        ("veiligheidsbeoordeling:vb", "te laat", 2, "needs at least 10 letters"),
        ("not an id", REASON, 2, "obligation_id"),
    ],
)
def test_a_refused_waiver_says_why_and_changes_nothing(
    late_case: str, obligation: str, reason: str, code: int, words: str
) -> None:
    before = _obligations("--case", late_case)
    refused = _run("case", "waive", late_case, obligation, "--reason", reason)
    assert refused.exit_code == code, (refused.stdout, refused.stderr)
    assert words in refused.stderr
    assert _obligations("--case", late_case) == before
