"""Ledgers written by older versions of main still open, verify and replay under the new
rules, and their cases get their obligations (issue 14: "events stay facts").

The fixtures (tests/fixtures/home-*) are homes written by `phasedcare demo` at two commits:
919fe40 (schema 0010, after issue 11's ledger work: signed tombstones, checkpoints with a map
of case heads) and 9c23aad (schema 0006, before it: map-less checkpoints and a tail no
checkpoint signed). home-9c23aad-erased was written at 9c23aad too, by a retention run that
erased a case and signed nothing. `init` migrates each one and anchors an old tail as it
was found (docs/ledger.md, upgrading), so an honest old ledger verifies.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from phasedcare.bootstrap import LEDGER_FILE
from phasedcare.cli.app import app
from phasedcare.ledger.chain import leaf_hash
from phasedcare.ledger.checkpoints import parse_checkpoint
from phasedcare.ledger.records import RecordHeader
from phasedcare.store.tables import SCHEMA_REVISION, EventRecord

EVENTS = EventRecord.__table__  # type: ignore[attr-defined]

FIXTURES = Path(__file__).parent.parent / "fixtures"
REASON = "het gezin is naar het buitenland verhuisd (synthetisch)"


@dataclass(frozen=True)
class OldHome:
    """A fixture home and the schema revision its code wrote."""

    name: str
    revision: str


DEMOS = [OldHome("home-919fe40", "0010"), OldHome("home-9c23aad", "0006")]


def _copy(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of an old home (git keeps no file modes: keys are made private again)."""
    folder = tmp_path / "home"
    shutil.copytree(FIXTURES / name, folder, ignore=shutil.ignore_patterns("README.md"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    return folder


@pytest.fixture(params=DEMOS, ids=lambda old: old.name)
def old(request: pytest.FixtureRequest) -> OldHome:
    """Each old demo home."""
    found: OldHome = request.param
    return found


@pytest.fixture
def home(old: OldHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the old demo home."""
    return _copy(old.name, tmp_path, monkeypatch)


def _cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result.stdout


def _query(home: Path, sql: str, *values: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "phasedcare.db") as db:
        return db.execute(sql, values).fetchall()


def _outside_the_tree(home: Path) -> int:
    [(count,)] = _query(home, "SELECT count(*) FROM event_records WHERE tree_index IS NULL")
    assert isinstance(count, int)
    return count


def _notes(home: Path) -> dict[int, bool]:
    """The witness folder's checkpoints: size, and whether it signs a map."""
    public = bytes.fromhex((home / "keys" / "checkpoint.pub").read_text().strip())
    found = {}
    for path in sorted((home / "checkpoints").glob("checkpoint-*.note")):
        note = parse_checkpoint(path.read_text(), public=public, origin="phasedcare/ijsselland")
        found[note.size] = note.map_root is not None
    return found


def test_the_old_ledger_migrates_verifies_and_gets_its_obligations(
    old: OldHome, home: Path
) -> None:
    """`init` migrates; the ledger verifies at once; every case replays and owes something."""
    assert _query(home, "SELECT version_num FROM alembic_version") == [(old.revision,)]
    columns = {row[1] for row in _query(home, "PRAGMA table_info(case_records)")}
    assert "next_obligation" not in columns

    _cli("init")  # migrates to this code's schema

    assert _query(home, "SELECT version_num FROM alembic_version") == [(SCHEMA_REVISION,)]
    assert "ledger intact" in _cli("audit", "verify")
    assert "projections match the events" in _cli("projections", "rebuild", "--check")
    owed = json.loads(_cli("obligations", "--json"))
    assert owed, "the old cases owe something"
    rows = dict(_query(home, "SELECT case_id, next_obligation FROM case_records"))
    for obligation in owed:  # the caseload row names the earliest open one of each case
        assert rows[obligation["case_id"]] is not None
    late = json.loads(_cli("obligations", "--overdue", "--json"))
    assert ("veiligheidsbeoordeling:vb", True) in {(o["id"], o["overdue"]) for o in late}
    for case in json.loads(_cli("case", "list", "--json")):
        history = json.loads(_cli("case", "history", case["case_id"], "--json"))
        assert history[0]["event_type"] == "CaseOpened"


def test_a_command_on_an_old_case_is_decided_with_its_obligations(home: Path) -> None:
    """Veilig Thuis waives the late veiligheidsbeoordeling of an old case; the ledger stays
    intact and the obligation ends, recorded."""
    _cli("init")
    late = json.loads(_cli("obligations", "--overdue", "--json"))
    target = next(o for o in late if o["id"] == "veiligheidsbeoordeling:vb")
    _cli("case", "waive", target["case_id"], target["id"], "--reason", REASON)
    ended = json.loads(_cli("obligations", "--case", target["case_id"], "--json"))
    [waived] = [o for o in ended if o["id"] == target["id"]]
    assert (waived["status"], waived["ended_why"]) == ("moot", REASON)
    _cli("audit", "checkpoint")
    assert "ledger intact" in _cli("audit", "verify")
    assert "projections match the events" in _cli("projections", "rebuild", "--check")


def test_an_old_tail_no_checkpoint_signed_is_anchored_once_at_the_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """9c23aad's close() left 11 records outside the tree: `init` signs them as found in the
    old format (no map), once; the next checkpoint signs the map."""
    home = _copy("home-9c23aad", tmp_path, monkeypatch)
    assert _outside_the_tree(home) == 11
    assert _notes(home) == {1: False, 125: False}

    _cli("init")

    assert _outside_the_tree(home) == 0
    assert _notes(home) == {1: False, 125: False, 136: False}
    assert (home / "keys" / LEDGER_FILE).exists()
    _cli("init")  # once: the marker says the tail was anchored
    assert "checkpoint signed: 136 records" in _cli("audit", "checkpoint")  # nothing new
    assert _notes(home) == {1: False, 125: False, 136: False}
    _cli("case", "list")  # its access record, the process's first commit: signed with a map
    assert _notes(home) == {1: False, 125: False, 136: False, 137: True}
    assert "ledger intact: 137 records" in _cli("audit", "verify")


def test_a_new_ledgers_init_anchors_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home written after issue 11 (its checkpoints sign maps) only gets the marker."""
    home = _copy("home-919fe40", tmp_path, monkeypatch)
    before = _notes(home)
    assert all(before.values())
    _cli("init")
    assert _notes(home) == before
    assert (home / "keys" / LEDGER_FILE).exists()


@pytest.fixture
def erased_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the home whose 9c23aad retention run was never signed."""
    return _copy("home-9c23aad-erased", tmp_path, monkeypatch)


def _erased_and_kept(home: Path) -> tuple[str, str]:
    """The erased case (its key row is gone) and the kept one."""
    erased = _query(home, "SELECT case_id FROM event_records WHERE event_type = 'CaseErased'")
    kept = _query(home, "SELECT case_id FROM case_keys WHERE case_id NOT LIKE '%~access'")
    [(erased_id,)], [(kept_id,)] = erased, kept
    return str(erased_id), str(kept_id)


def test_an_old_retention_that_signed_nothing_verifies_after_the_upgrade(
    erased_home: Path,
) -> None:
    """9c23aad erased a case (an unsigned tombstone, its key destroyed) and signed nothing:
    after `init` every record is in the tree, the tombstone under the upgrade's map-less
    checkpoint, the ledger verifies, and the case reads as erased."""
    erased, kept = _erased_and_kept(erased_home)
    tombstone = "SELECT key_id, tree_index FROM event_records WHERE event_type = 'CaseErased'"
    assert _query(erased_home, tombstone) == [("", None)]  # unsigned, outside the tree
    assert _query(erased_home, "SELECT 1 FROM case_keys WHERE case_id = ?", erased) == []
    assert _outside_the_tree(erased_home) == 28
    assert _notes(erased_home) == {1: False}

    _cli("init")

    assert _outside_the_tree(erased_home) == 0
    assert _notes(erased_home) == {1: False, 29: False}
    assert "ledger intact: 29 records" in _cli("audit", "verify")
    result = CliRunner().invoke(app, ["case", "show", erased])
    assert result.exit_code == 4, result.stderr
    assert f"case {erased} was erased on " in result.stderr
    assert json.loads(_cli("case", "history", kept, "--json"))[0]["event_type"] == "CaseOpened"
    _cli("audit", "checkpoint")
    assert "ledger intact" in _cli("audit", "verify")


def _append_unsigned_tombstone(home: Path, case_id: str) -> None:
    """The insider's append, with SQL and SHA-256 only: the case's key row deleted, then an
    unsigned CaseErased chained to its last record."""
    engine = create_engine(f"sqlite:///{home / 'phasedcare.db'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_keys WHERE case_id = :c"), {"c": case_id})
        sequence, previous = conn.execute(
            select(EVENTS.c.sequence, EVENTS.c.leaf_hash)
            .where(EVENTS.c.case_id == case_id)
            .order_by(EVENTS.c.sequence.desc())
            .limit(1)
        ).one()
        at, payload = datetime(2048, 3, 2, 10, tzinfo=UTC), b'{"rule": "vt-dossier"}'
        header = RecordHeader(case_id, sequence + 1, "CaseErased", 1, at, "")
        conn.execute(
            EVENTS.insert().values(
                case_id=case_id,
                sequence=sequence + 1,
                event_type="CaseErased",
                schema_version=1,
                recorded_at=at,
                key_id="",
                payload=payload,
                leaf_hash=leaf_hash(header, payload, bytes(previous)),
                tree_index=None,
            )
        )
    engine.dispose()


def test_an_unsigned_tombstone_written_after_the_upgrade_is_a_forgery(erased_home: Path) -> None:
    """Once upgraded, the insider's unsigned tombstone on the kept case (its key row deleted
    first) is refused by the signer and reads, and verify names it: only the anchor covers
    unsigned tombstones, and it covers only what the old version left."""
    _, kept = _erased_and_kept(erased_home)
    _cli("init")
    _cli("case", "list")  # the first start rebuilds the projections under today's policy
    _append_unsigned_tombstone(erased_home, kept)
    _cli("audit", "checkpoint")
    assert _outside_the_tree(erased_home) == 1
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "unsigned erasure tombstone" in result.stdout
    refused = CliRunner().invoke(app, ["case", "show", kept])
    assert refused.exit_code == 7, refused.stderr
    assert "not authentic" in refused.stderr
