"""L9: no API key is created for the system role, which could never be used from outside."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.cli.app import app
from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import default_policy
from phasedcare.errors import InvalidInput
from phasedcare.service.api_keys import ApiKeys
from phasedcare.store.memory import InMemoryEventStore
from phasedcare.testing import ManualClock

SYSTEM = "sys@vt-ijsselland:system"


def key_count(home: Path) -> int:
    """How many API keys the home's database holds."""
    with sqlite3.connect(home / "phasedcare.db") as db:
        return int(db.execute("select count(*) from api_keys").fetchone()[0])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised home named by PHASEDCARE_HOME."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    return folder


def test_the_cli_refuses_a_system_key_in_one_line_with_exit_2(home: Path) -> None:
    """`keys api create --actor ...:system` says why in one line, exits 2 and stores nothing."""
    result = CliRunner().invoke(app, ["keys", "api", "create", "--actor", SYSTEM])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: an API key cannot act in the system role")
    assert key_count(home) == 0


def test_the_cli_still_creates_a_key_for_a_professional(home: Path) -> None:
    """The refusal is about the role only: the same organisation's professional gets a key."""
    actor = "u-vt-01@vt-ijsselland:professional"
    result = CliRunner().invoke(app, ["keys", "api", "create", "--actor", actor])
    assert result.exit_code == 0, result.stderr
    assert "token: pck_" in result.stdout
    assert key_count(home) == 1


def test_the_service_refuses_a_system_key() -> None:
    """ApiKeys.create refuses the system role with InvalidInput on the actor field."""
    store = InMemoryEventStore()
    keys = ApiKeys(
        store=store,
        policy=default_policy(),
        clock=ManualClock.starting("2026-03-02T09:00:00+00:00"),
    )
    with pytest.raises(InvalidInput) as refused:
        keys.create(Actor.parse(SYSTEM), label="sweeps")
    assert refused.value.field == "actor"
    assert keys.list() == []
