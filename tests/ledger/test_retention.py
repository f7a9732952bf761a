"""Retention and crypto-shredding: expired cases lose their key; the ledger still verifies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from phasedcare.bootstrap import build, build_verifier, initialise, open_store
from phasedcare.config import Settings
from phasedcare.domain import commands as cmd
from phasedcare.domain.policy import default_policy, default_policy_text, parse_policy
from phasedcare.domain.retention import retention
from phasedcare.errors import Erased, NotAuthorised, StoreError
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, FileKeyProvider
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import CANARY_NAMES, TAXATIE, Journey

VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")


def closed_case(engine: Engine, clock: ManualClock) -> str:
    """A case closed after its full journey, with a canary child."""
    journey = Journey(engine, clock, VT, WIJKTEAM).opened()
    engine.record_member(
        journey.case_id, actor=VT, role="kind", name=CANARY_NAMES[0], date_of_birth=date(2015, 6, 1)
    )
    journey.with_members().assessing().with_conditions().with_risk()
    engine.fire(journey.case_id, "start_directe_veiligheid", actor=VT)
    journey.with_plan().handed_over().conditions_met()
    engine.fire(journey.case_id, "naar_stabiele_veiligheid", actor=WIJKTEAM)
    clock.advance(days=100)
    journey.conditions_met()
    engine.fire(journey.case_id, "naar_herstel", actor=WIJKTEAM)
    engine.fire(journey.case_id, "besluit_overdracht", actor=VT, chart="vt", **TAXATIE)
    engine.fire(journey.case_id, "start_monitoring", actor=VT, chart="vt")
    journey.monitored_a_year()
    journey.waived_open_obligations("the story skips plan reviews and condition checks")
    engine.fire(journey.case_id, "vt_afsluiten", actor=VT, chart="vt")
    engine.fire(journey.case_id, "afsluiten", actor=WIJKTEAM)
    return journey.case_id


def test_an_open_case_is_never_due(journey: Journey, engine: Engine, clock: ManualClock) -> None:
    """Retention runs from closure; an open case is kept."""
    journey.in_herstel()
    decision = retention(
        engine.state_at(journey.case_id, actor=VT), default_policy(), date(2099, 1, 1)
    )
    assert (decision.due, decision.why_not) == (False, "the case is open")


def test_the_longest_applicable_rule_wins(engine: Engine, clock: ManualClock) -> None:
    """Closed on 2027-06-15: VT keeps 20 years (2047-06-15) unless the youngest child rule runs longer."""
    case = engine.state_at(closed_case(engine, clock), actor=VT)
    decision = retention(case, default_policy(), date(2030, 1, 1))
    assert (decision.keep_until, decision.rule, decision.due) == (
        date(2047, 6, 15),
        "vt-dossier",
        False,
    )
    short = parse_policy(
        default_policy_text()
        .replace("closure: 20", "closure: 2")
        .replace("closure: 15", "closure: 1"),
        source="short.yaml",
    )
    decision = retention(case, short, date(2030, 1, 1))
    assert (decision.keep_until, decision.rule) == (date(2033, 6, 1), "jongste-kind-18")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialised home on SQLite."""
    initialise(Settings(home=tmp_path / "home"))
    return tmp_path / "home"


def test_retention_shreds_the_key_and_the_ledger_still_verifies(home: Path) -> None:
    """After 20 years the key is destroyed, the case reads as erased, the ledger verifies, and nothing opens."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(Settings(home=home), clock=clock)
    case_id = closed_case(engine, clock)
    kept = closed_case(engine, clock)
    engine.handle(cmd.PlaceLegalHold(case_id=kept, reason="complaint pending"), actor=VT)
    wrapped = engine.store.case_key(case_id)
    assert wrapped is not None
    assert [d.due for d in engine.run_retention(actor=VT, dry_run=True)] == [False, False]
    clock.advance(days=21 * 366)
    decisions = {d.case_id: d for d in engine.run_retention(actor=VT)}
    assert (decisions[case_id].due, decisions[kept].why_not) == (True, "a legal hold applies")
    with pytest.raises(
        Erased, match=f"case {case_id} was erased on .* under retention rule vt-dossier"
    ):
        engine.show(case_id, actor=VT)
    assert [p.case_id for p in engine.list_cases(actor=VT)] == [kept]
    assert engine.projection_differences() == []
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    engine.close()
    verifier = build_verifier(Settings(home=home))
    report = verifier.verify()
    verifier.close()
    assert report.intact, report.problems
    store = open_store(Settings(home=home).resolved_database_url)
    fresh = RecordCodec(keys=CaseKeys(store, FileKeyProvider(home / "keys")))
    with pytest.raises(StoreError, match="has no data key"):
        fresh.decode(store.load(case_id)[:1])
    store.close()
    raw = b"".join(p.read_bytes() for p in home.glob("phasedcare.db*"))
    assert wrapped.wrapped not in raw
    assert all(name.encode() not in raw for name in CANARY_NAMES)


def test_a_released_hold_lets_retention_erase(engine: Engine, clock: ManualClock) -> None:
    """Holds are placed and released by Veilig Thuis only; after release the case is erased."""
    case_id = closed_case(engine, clock)
    with pytest.raises(NotAuthorised, match="only Veilig Thuis places and releases legal holds"):
        engine.handle(cmd.PlaceLegalHold(case_id=case_id, reason="x"), actor=WIJKTEAM)
    engine.handle(cmd.PlaceLegalHold(case_id=case_id, reason="court order"), actor=VT)
    clock.advance(days=21 * 366)
    assert [d.due for d in engine.run_retention(actor=VT)] == [False]
    engine.handle(cmd.ReleaseLegalHold(case_id=case_id, reason="case dismissed"), actor=VT)
    assert [d.due for d in engine.run_retention(actor=VT)] == [True]
    with pytest.raises(Erased):
        engine.history(case_id, actor=VT)


def test_only_veilig_thuis_runs_retention(engine: Engine) -> None:
    """A wijkteam cannot shred."""
    with pytest.raises(NotAuthorised, match="retention is run by Veilig Thuis"):
        engine.run_retention(actor=WIJKTEAM)
