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
from phasedcare.errors import InvalidInput, NotAuthorised, Refused, TransitionRefused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhooks import WebhookSender
from phasedcare.testing import ManualClock
from support import TAXATIE, Journey, handover

WAIVER = "the household moved abroad; the monitoring cannot take place here"


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
    journey.in_monitoring()  # and then does nothing
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
    journey.in_monitoring()  # and then does nothing
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


def test_a_handovers_answer_is_not_waived_so_the_sweep_still_expires_it(
    engine: Engine, journey: Journey, clock: ManualClock, jobs: Jobs
) -> None:
    """Found by the obligations property: a waived handover_response left the sweep's list,
    so an unanswered handover was never expired. A handover is answered, withdrawn or expires;
    the waiver is refused, and the sweep expires it when its date has passed."""
    journey.in_directe_veiligheid().with_plan()
    proposed = engine.handle(
        handover(journey.case_id, journey.wijkteam.organisation), actor=journey.regiehouder
    )
    obligation_id = f"handover_response:{proposed.created_id}"
    assert obligation_id in open_ids(engine, journey)
    before = engine.show(journey.case_id, actor=journey.vt).sequence
    with pytest.raises(Refused) as refused:
        engine.waive_obligation(
            journey.case_id, actor=journey.vt, obligation_id=obligation_id, reason=WAIVER
        )
    assert refused.value.rule == "not_waived"
    assert "answered, not waived" in refused.value.message
    assert engine.show(journey.case_id, actor=journey.vt).sequence == before
    clock.advance(days=30)
    jobs.sweep_deadlines()
    [expired] = engine.show(journey.case_id, actor=journey.vt).handovers
    assert expired.status == "escalated"  # expired, then escalated to the sender
    [ended] = [
        o for o in engine.obligations(journey.case_id, actor=journey.vt) if o.id == obligation_id
    ]
    assert (ended.status, ended.ended.event) == ("moot", "HandoverExpired")


def test_a_new_handover_after_an_expired_one_ends_the_senders_decision(
    engine: Engine, journey: Journey, clock: ManualClock, jobs: Jobs
) -> None:
    """Found by the simulation: after an expiry the sender owes a decision (withdraw, or a new
    handover). A new proposal is that decision, so the old one ends moot and no closure
    later waits for a withdrawal the sender, no longer regiehouder, may not make."""
    journey.in_directe_veiligheid().with_plan()
    first = engine.handle(
        handover(journey.case_id, journey.wijkteam.organisation), actor=journey.regiehouder
    ).created_id
    clock.advance(days=30)
    jobs.sweep_deadlines()
    senders = f"handover_response:{first}:2"  # the receiver's answer ended moot at the expiry
    assert senders in open_ids(engine, journey)
    engine.handle(
        handover(journey.case_id, journey.wijkteam.organisation), actor=journey.regiehouder
    )
    [ended] = [o for o in engine.obligations(journey.case_id, actor=journey.vt) if o.id == senders]
    assert (ended.status, ended.ended_why) == (
        "moot",
        "the sender followed the expired handover with a new one",
    )


def test_obligations_are_a_function_of_the_events(engine: Engine, journey: Journey) -> None:
    """The obligations read live equal those folded from the stored events afresh."""
    journey.in_monitoring()  # and then does nothing
    events = engine._events(journey.case_id)
    folded = obligations(journey.case_id, events, engine.policy, engine.policy.working_days())
    assert [o.id for o in folded] == [
        o.id for o in engine.obligations(journey.case_id, actor=journey.vt)
    ]
    assert fold(journey.case_id, events).sequence == len(events)


def test_every_kind_of_deadline_has_a_source() -> None:
    """The table of sources covers every kind of deadline."""
    assert set(FULFILLED_BY) <= set(SOURCES)


def test_the_cached_book_is_the_one_a_fresh_fold_gives(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """A command folds only the events since the book was last seen: after many commands the
    engine's book equals a fold of every event from nothing (what a rebuild does)."""
    journey.in_monitoring()  # and then does nothing
    for _ in range(6):
        clock.advance(days=10)
        journey.conditions_met()
    clock.advance(days=100)
    jobs = Jobs(engine=engine, sender=WebhookSender(), clock=clock)
    jobs.sweep_deadlines()
    jobs.close()
    _, cached, _ = engine._tracked_with_head(journey.case_id)
    fresh = obligations(
        journey.case_id,
        engine._events(journey.case_id),
        engine.policy,
        engine.policy.working_days(),
    )
    assert cached.obligations == fresh
    assert any(o.id == "condition_check:c1:2" and o.status == "fulfilled" for o in fresh)
    [m3] = [o for o in fresh if o.id == "monitoring:m3"]
    assert (m3.status, m3.escalated) == ("escalated", True)
