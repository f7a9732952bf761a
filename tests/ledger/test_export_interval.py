"""Exports sign at most once per checkpoint interval (issue 11): each export adds an access
record, and a case export follows writes, but within the interval the newest checkpoint is
reused, so repeated exports add no file to write-once witness storage. A bundle says what
it covers: complete through the case's head (or the whole ledger) as of that checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain.actors import Role
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of

VT = actor_of("vt-ijsselland", user="u-vt-01")
AUDITOR = actor_of("vt-ijsselland", user="u-aud-01", role=Role.auditor)
INTERVAL_HOURS = 1


@pytest.fixture
def clock() -> ManualClock:
    """The engine's clock: it stands still unless a test lets the interval pass."""
    return ManualClock.starting("2026-03-02T09:00:00+00:00")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh home on SQLite with its witness folder."""
    home = tmp_path / "home"
    initialise(Settings(home=home))
    return home


@pytest.fixture
def engine(home: Path, clock: ManualClock) -> Engine:
    """An engine signing at most once an hour, with one case (its first commit signed)."""
    settings = Settings(home=home, checkpoint_interval_seconds=INTERVAL_HOURS * 3600)
    engine = build(settings, clock=clock)
    engine.open_case(actor=VT, via="melding")
    yield engine
    engine.close()


def _case(engine: Engine) -> str:
    [row] = engine.list_cases(actor=VT)
    return row.case_id


def _witnessed(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "checkpoints").iterdir())


def _public(engine: Engine) -> bytes:
    assert engine.auditor is not None
    return engine.auditor.public_key


def test_writes_and_case_exports_within_an_interval_sign_nothing(
    engine: Engine, home: Path, clock: ManualClock
) -> None:
    """Ten write+export rounds in one interval add no witness file; each bundle is complete
    through the case's head as of the newest checkpoint; an interval later one export signs
    once and covers every write."""
    case_id = _case(engine)
    before = _witnessed(home)
    for number in range(10):
        engine.record_member(case_id, actor=VT, role="kind", name=f"Kind Voorbeeld {number}")
        bundle = engine.export_case(case_id, actor=AUDITOR)
        report = verify_bundle(bundle, public=_public(engine))
        assert report.intact, report.problems
        assert report.complete_through == 1
        assert "complete through sequence 1 as of checkpoint" in report.summary()
    assert _witnessed(home) == before
    clock.advance(hours=INTERVAL_HOURS)
    bundles = [engine.export_case(case_id, actor=AUDITOR) for _ in range(3)]
    assert len(_witnessed(home)) == len(before) + 1
    assert {b["checkpoints"][0] for b in bundles} == {bundles[0]["checkpoints"][0]}
    assert verify_bundle(bundles[-1], public=_public(engine)).complete_through == 11


def test_ledger_exports_within_an_interval_sign_nothing_and_hold_no_unanchored_tail(
    engine: Engine, home: Path, clock: ManualClock
) -> None:
    """Ten ledger exports (each a new access record) sign nothing: the bundle holds the
    ledger as of the newest checkpoint and verifies whole; an interval later one signs."""
    before = _witnessed(home)
    bundles = [engine.export_ledger(actor=AUDITOR) for _ in range(10)]
    assert _witnessed(home) == before
    report = verify_bundle(bundles[-1], public=_public(engine))
    assert report.intact, report.problems
    assert report.unanchored == 0
    assert report.as_of is not None
    assert report.records == report.as_of.size == 1
    assert f"as of checkpoint {report.as_of.size} (signed " in report.summary()
    clock.advance(hours=INTERVAL_HOURS)
    later = [engine.export_ledger(actor=AUDITOR) for _ in range(3)]
    assert len(_witnessed(home)) == len(before) + 1
    assert len(later[0]["records"]) == 12  # the case, and eleven exports' access records


def test_a_case_no_checkpoint_holds_yet_is_signed_once_by_its_first_export(
    engine: Engine, home: Path
) -> None:
    """A case opened within the interval has no bundle yet: its first export signs it, the
    next ones reuse that checkpoint."""
    before = _witnessed(home)
    new_case = engine.open_case(actor=VT, via="melding").case_id
    bundles = [engine.export_case(new_case, actor=AUDITOR) for _ in range(5)]
    assert len(_witnessed(home)) == len(before) + 1
    assert {b["checkpoints"][0] for b in bundles} == {bundles[0]["checkpoints"][0]}
    assert verify_bundle(bundles[-1], public=_public(engine)).complete_through == 1
