"""Fixtures of the CLI stories."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.domain.policy import default_policy


@pytest.fixture
def late_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An initialised home, a Veilig Thuis professional as actor (tables 200 columns wide),
    and the id of a case whose melding was received 10 days ago: its veiligheidsbeoordeling
    is overdue."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    received = datetime.now(default_policy().zone) - timedelta(days=10)
    opened = runner.invoke(
        app, ["case", "open", "--received-at", f"{received:%Y-%m-%dT%H:%M}", "--json"]
    )
    assert opened.exit_code == 0, opened.stderr
    return str(json.loads(opened.stdout)["case_id"])
