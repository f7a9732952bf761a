"""``simulate``: synthetic households through the engine's commands, in the domain's shapes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from phasedcare.domain.actors import Role
from phasedcare.service.engine import Engine
from phasedcare.simulation import SimulationReport, simulate
from phasedcare.testing import ManualClock, actor_of, memory_engine

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _simulated(households: int, *, seed: int = 5) -> tuple[Engine, SimulationReport]:
    clock = ManualClock(NOW)
    engine = memory_engine(clock=clock)
    report = simulate(engine, clock, households=households, years=2, seed=seed)
    return engine, report


@pytest.fixture(scope="module")
def region() -> tuple[Engine, SimulationReport]:
    """150 households over two years (about 3,000 records), shared by the tests below."""
    return _simulated(150)


def test_every_step_is_accepted_by_the_engine(region: tuple[Engine, SimulationReport]) -> None:
    _, report = region
    assert report.refused == {}
    assert report.households == 150
    assert report.commands > 150 * 8
    assert report.reads > 0
    assert report.sweeps == 730


def test_the_paths_follow_the_domain_shares(region: tuple[Engine, SimulationReport]) -> None:
    _, report = region
    paths = report.paths
    assert 0.35 < paths["advies"] / report.households < 0.65
    meldingen = paths["in_time"] + paths["late"]
    assert 0.1 < paths["late"] / meldingen < 0.5
    assert paths["onderzoek"] == 0  # an onderzoek ends in one of the other outcomes
    assert paths["overdracht"] > paths["voorwaarden_en_vervolg"] > 0
    assert paths["handover_accept"] > paths["handover_unanswered"] > 0
    assert paths["terugval"] > 0
    assert paths["known_household"] > 0
    assert paths["closed"] > 0


def test_the_households_meet_most_obligations_and_miss_some(
    region: tuple[Engine, SimulationReport],
) -> None:
    """Issue 14: the simulation produces obligations, meets most, misses some. The missed
    ones are still there at the end (open or escalated), or were waived with a reason before
    a closure; none disappeared."""
    _, report = region
    owed = report.obligations
    total = sum(owed.values())
    assert total > 150 * 3
    assert owed["fulfilled"] / total > 0.5
    assert owed["open"] + owed["escalated"] > 0
    assert owed["moot"] >= report.waived > 0
    assert set(owed) <= {"open", "escalated", "fulfilled", "moot"}


def test_missed_deadlines_are_escalated_and_unanswered_handovers_expired(
    region: tuple[Engine, SimulationReport],
) -> None:
    _, report = region
    assert report.escalated > 0
    assert report.expired > 0


def test_the_simulated_ledger_verifies_and_its_projections_rebuild(
    region: tuple[Engine, SimulationReport],
) -> None:
    engine, _ = region
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    verified = engine.verify_ledger(actor=actor_of("vt-ijsselland", role=Role.auditor))
    assert verified.intact
    assert verified.tree_size > 2500
    assert engine.projection_differences() == []


def test_the_caseload_ends_in_every_phase(region: tuple[Engine, SimulationReport]) -> None:
    engine, _ = region
    phases = {p.phase for p in engine.list_cases(actor=actor_of("vt-ijsselland"))}
    assert {"aanmelding", "directe_veiligheid", "stabiele_veiligheid", "afgesloten"} <= phases


def test_a_seed_gives_the_same_region_again() -> None:
    _, first = _simulated(12, seed=9)
    _, second = _simulated(12, seed=9)
    assert (first.commands, first.reads, first.paths) == (
        second.commands,
        second.reads,
        second.paths,
    )


def test_simulating_the_same_seed_twice_into_one_database_is_refused() -> None:
    clock = ManualClock(NOW)
    engine = memory_engine(clock=clock)
    simulate(engine, clock, households=2, years=1, seed=3)
    with pytest.raises(ValueError, match="seed 3 already"):
        simulate(engine, clock, households=2, years=1, seed=3)


def test_hermeldingen_years_later_walk_on_without_a_refusal() -> None:
    """Four years give households time to close and come back: a hermelding about a household
    the wijkteam held is taken on by the regiehouder, and handed over to another team."""
    clock = ManualClock(NOW)
    engine = memory_engine(clock=clock)
    report = simulate(engine, clock, households=400, years=4, seed=11)
    assert report.paths["known_household"] > 30
    assert report.refused == {}


def test_conditions_and_monitoring_are_checked_mostly_in_time_and_sometimes_missed(
    region: tuple[Engine, SimulationReport],
) -> None:
    """The regiehouders check the safety conditions at their cadence and Veilig Thuis its
    monitoring moments; a few checks are missed and escalated (2.4, 2.5)."""
    engine, _ = region
    vt = actor_of("vt-ijsselland")
    counts: Counter[str] = Counter()
    for case_id in engine.store.case_ids():
        for event in engine.history(case_id, actor=vt):
            kind = event.details.get("kind") if event.event_type == "DeadlineEscalated" else None
            counts[f"escalated {kind}" if kind else event.event_type] += 1
    checks, missed = counts["SafetyConditionStatusRecorded"], counts["escalated condition_check"]
    assert 0 < missed < 0.2 * checks
    moments, late = counts["MonitoringCheckRecorded"], counts["escalated monitoring"]
    assert 0 < late < 0.3 * moments
