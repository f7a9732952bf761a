"""Obligations as a first-class invariant, told as stories (issue 14; domain.md 2.4(a)).

A duty ends only by a recorded fulfilment or a waiver with a reason: a closure or a phase
change never makes it disappear, and a closure with open obligations is refused with their
list.
"""

from __future__ import annotations

import pytest

from phasedcare.domain.case import fold
from phasedcare.domain.deadlines import FULFILLED_BY
from phasedcare.domain.obligations import SOURCES, obligations
from phasedcare.errors import InvalidInput, NotAuthorised, TransitionRefused
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import TAXATIE, Journey

WAIVER = "the household moved abroad; the monitoring cannot take place here"


def monitoring_without_checks(journey: Journey) -> Journey:
    """S1: overdracht to the wijkteam, accepted, Veilig Thuis monitors and then does nothing."""
    journey.in_directe_veiligheid().with_plan()
    journey.engine.fire(
        journey.case_id, "besluit_overdracht", actor=journey.vt, chart="vt", **TAXATIE
    )
    journey.handed_over()
    journey.engine.fire(journey.case_id, "start_monitoring", actor=journey.vt, chart="vt")
    return journey


def open_ids(engine: Engine, journey: Journey) -> list[str]:
    return [
        o.id
        for o in engine.obligations(journey.case_id, actor=journey.vt)
        if o.status in ("open", "escalated")
    ]


def test_veilig_thuis_closes_with_monitoring_skipped(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """Zero monitoring checks in a year: vt_afsluiten is refused listing m3; after a waiver
    with a reason for each of Veilig Thuis's open obligations it closes, and the waivers are
    in the history."""
    monitoring_without_checks(journey)
    clock.advance(days=400)
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(journey.case_id, "vt_afsluiten", actor=journey.vt, chart="vt")
    refused = dict(caught.value.reasons)["no_open_obligation"]
    assert "monitoring:m3 (" in refused
    assert "overdue" in refused
    vt_owes = [
        o.id
        for o in engine.obligations(journey.case_id, actor=journey.vt)
        if o.status in ("open", "escalated") and o.responsible == "vt-ijsselland"
    ]
    assert "monitoring:m3" in vt_owes
    assert all(f"{oid} (" in refused for oid in vt_owes)
    for oid in vt_owes:
        engine.waive_obligation(journey.case_id, actor=journey.vt, obligation_id=oid, reason=WAIVER)
    engine.fire(journey.case_id, "vt_afsluiten", actor=journey.vt, chart="vt")
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "afgesloten"
    waived = [
        h
        for h in engine.history(journey.case_id, actor=journey.vt)
        if h.event_type == "ObligationWaived"
    ]
    assert len(waived) == len(vt_owes)
    m3 = next(
        o for o in engine.obligations(journey.case_id, actor=journey.vt) if o.id == "monitoring:m3"
    )
    assert (m3.status, m3.ended_why) == ("moot", WAIVER)
    assert m3.ended is not None
    assert m3.ended.event == "ObligationWaived"


def test_an_overdue_obligation_outlives_a_phase_change(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """The plan review is due in directe veiligheid; the case moves to stabiele veiligheid and
    herstel without it: the obligation stays open, marked as moved on, and still overdue."""
    journey.in_directe_veiligheid().with_plan()
    clock.advance(days=60)
    journey.handed_over().conditions_met().in_stabiele_veiligheid()
    journey.in_herstel()
    review = next(
        o
        for o in engine.obligations(journey.case_id, actor=journey.vt)
        if o.kind == "safety_plan_review"
    )
    assert review.status in ("open", "escalated")
    assert review.overdue
    assert review.moved_on is not None
    assert review.moved_on.event == "PhaseTransitioned"
    assert review.source == SOURCES["safety_plan_review"]
    assert review.id in open_ids(engine, journey)


def test_the_veiligheidsbeoordeling_is_fulfilled_by_the_decision(
    engine: Engine, journey: Journey
) -> None:
    """The decision that concludes the veiligheidsbeoordeling fulfils it, recorded."""
    journey.in_directe_veiligheid()
    engine.fire(journey.case_id, "besluit_overdracht", actor=journey.vt, chart="vt", **TAXATIE)
    vb = next(
        o
        for o in engine.obligations(journey.case_id, actor=journey.vt)
        if o.id == "veiligheidsbeoordeling:vb"
    )
    assert vb.status == "fulfilled"
    assert vb.ended is not None
    assert vb.ended.event == "VtStageTransitioned"
    assert vb.opened.event == "CaseOpened"
    assert vb.opened.sequence == 1


def test_a_waiver_needs_a_real_reason_and_the_right_organisation(
    engine: Engine, journey: Journey
) -> None:
    """A waiver without a real reason, of an obligation not open, or by an organisation that
    is neither responsible nor Veilig Thuis is refused and records nothing."""
    monitoring_without_checks(journey)
    before = engine.show(journey.case_id, actor=journey.vt).sequence
    with pytest.raises(InvalidInput):
        engine.waive_obligation(
            journey.case_id, actor=journey.vt, obligation_id="monitoring:m3", reason="xxxxxxxxxxxx"
        )
    with pytest.raises(NotAuthorised):
        engine.waive_obligation(
            journey.case_id, actor=journey.wijkteam, obligation_id="monitoring:m3", reason=WAIVER
        )
    assert engine.show(journey.case_id, actor=journey.vt).sequence == before


def test_obligations_are_a_function_of_the_events(engine: Engine, journey: Journey) -> None:
    """The obligations read live equal those folded from the stored events afresh."""
    monitoring_without_checks(journey)
    events = engine._events(journey.case_id)
    folded = obligations(journey.case_id, events, engine.policy, engine.policy.working_days())
    assert [o.id for o in folded] == [
        o.id for o in engine.obligations(journey.case_id, actor=journey.vt)
    ]
    assert fold(journey.case_id, events).sequence == len(events)


def test_every_kind_of_deadline_has_a_source() -> None:
    """The table of sources covers every kind of deadline."""
    assert set(FULFILLED_BY) <= set(SOURCES)
