"""`phasedcare obligations` and `phasedcare case waive`: a Veilig Thuis professional finds the
veiligheidsbeoordeling of a melding received 10 days ago overdue and, the household having
moved out of the region, waives it with the reason; refusals change nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.domain.policy import default_policy

REASON = "het gezin is verhuisd naar een andere regio"


@pytest.fixture
def case_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    received = datetime.now(default_policy().zone) - timedelta(days=10)
    opened = _run("case", "open", "--received-at", f"{received:%Y-%m-%dT%H:%M}", "--json")
    assert opened.exit_code == 0, opened.stderr
    return json.loads(opened.stdout)["case_id"]


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def _obligations(*args: str) -> list[dict[str, object]]:
    result = _run("obligations", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_an_overdue_obligation_is_listed_and_waived_with_a_reason(case_id: str) -> None:
    overdue = _obligations("--overdue")
    assert [(o["case_id"], o["id"], o["overdue"]) for o in overdue] == [
        (case_id, "veiligheidsbeoordeling:vb", True)
    ]

    waived = _run("case", "waive", case_id, "veiligheidsbeoordeling:vb", "--reason", REASON)
    assert waived.exit_code == 0, waived.stderr

    assert _obligations("--overdue") == []
    [ended] = _obligations("--case", case_id)
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
    case_id: str, obligation: str, reason: str, code: int, words: str
) -> None:
    before = _obligations("--case", case_id)
    refused = _run("case", "waive", case_id, obligation, "--reason", reason)
    assert refused.exit_code == code, (refused.stdout, refused.stderr)
    assert words in refused.stderr
    assert _obligations("--case", case_id) == before
