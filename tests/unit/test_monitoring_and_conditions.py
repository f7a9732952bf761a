"""Monitoring happens and conditions are watched (domain.md 2.4 b-d, 2.5, 2.21), as the
professionals live it.

Veilig Thuis's monitoring begins when the wijkteam accepts the overdracht (or with the decision
voorwaarden en vervolg), not when somebody remembers to fire ``start_monitoring``; its moments
count from there, a check counts for the moment whose window it falls in, and the track closes
only once every moment was carried out. A safety condition's check cadence is a deadline for
the organisation that owns the condition, escalated when missed; stabiele veiligheid needs the
conditions checked and found met.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.errors import Refused, TransitionRefused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.testing import ManualClock
from support import TAXATIE, Journey, handover


def due(journey: Journey, kind: str) -> dict[str, date]:
    """The case's deadlines of ``kind``: ref -> due day."""
    return {
        d.ref: d.due
        for d in journey.engine.show(journey.case_id, actor=journey.vt).deadlines
        if d.kind == kind
    }


def overdracht_proposed(journey: Journey) -> str:
    """In directe veiligheid with a plan, Veilig Thuis decides overdracht and proposes the
    handover to the wijkteam; returns the handover's id."""
    journey.in_directe_veiligheid().with_plan()
    journey.engine.fire(
        journey.case_id, "besluit_overdracht", actor=journey.vt, chart="vt", **TAXATIE
    )
    proposed = journey.engine.handle(
        handover(journey.case_id, journey.wijkteam.organisation), actor=journey.vt
    )
    assert proposed.created_id is not None
    return proposed.created_id


def accepted(journey: Journey, handover_id: str) -> None:
    """The wijkteam accepts the handover: regie moves, Veilig Thuis's monitoring begins."""
    journey.engine.accept_handover(
        journey.case_id,
        actor=journey.wijkteam,
        handover_id=handover_id,
        casusregisseur=journey.wijkteam.user,
    )


def check(journey: Journey, on: date, outcome: str = "veilig") -> None:
    """Veilig Thuis records a monitoring check of ``on``."""
    journey.engine.record_monitoring_check(
        journey.case_id, actor=journey.vt, checked_on=on, outcome=outcome
    )


def refused(journey: Journey, event: str, actor: Actor) -> TransitionRefused:
    """Fire ``event`` of the Veilig Thuis chart expecting a refusal that writes nothing."""
    before = journey.engine.history(journey.case_id, actor=journey.vt)
    with pytest.raises(TransitionRefused) as caught:
        journey.engine.fire(journey.case_id, event, actor=actor, chart="vt")
    assert journey.engine.history(journey.case_id, actor=journey.vt) == before
    return caught.value


def test_a_condition_check_missed_for_60_days_is_overdue_and_escalated_for_the_organisation_that_owns_it(
    journey: Journey, engine: Engine, clock: ManualClock, jobs: Jobs, wijkteam: Actor
) -> None:
    """S1: c1 is checked every 14 days by the wijkteam. Nobody checks it for 60 days: the
    check due on 16 March is overdue for the wijkteam, the sweep escalates it once (to the
    wijkteam and Veilig Thuis), and the next check counts 14 days from the day it was made."""
    journey.in_directe_veiligheid()
    assert due(journey, "condition_check") == {"c1": date(2026, 3, 16), "c2": date(2026, 3, 16)}
    clock.advance(days=60)
    late = [
        r
        for r in engine.deadlines(actor=journey.vt, overdue=True, kind="condition_check")
        if r.case_id == journey.case_id
    ]
    assert [(r.ref, r.due, r.responsible, r.escalated) for r in late] == [
        ("c1", date(2026, 3, 16), "wijkteam-zwolle", False),
        ("c2", date(2026, 3, 16), "wijkteam-zwolle", False),
    ]
    report = jobs.sweep_deadlines()
    assert f"{journey.case_id}:condition_check:2026-03-16" in report.escalated
    escalation = engine.history(journey.case_id, actor=journey.vt)[-1]
    assert escalation.event_type == "DeadlineEscalated"
    assert escalation.details["responsible"] == "wijkteam-zwolle"
    assert escalation.details["notified"] == ["wijkteam-zwolle", "vt-ijsselland"]
    assert jobs.sweep_deadlines().escalated == []
    engine.record_condition_status(
        journey.case_id, actor=journey.vt, condition_id="c1", status="met", observed_on=clock.today
    )
    rows = {
        r.ref: r
        for r in engine.deadlines(actor=wijkteam, kind="condition_check")
        if r.case_id == journey.case_id
    }
    assert (rows["c1"].due, rows["c1"].escalated) == (clock.today + timedelta(days=14), False)
    assert (rows["c2"].due, rows["c2"].escalated) == (date(2026, 3, 16), True)


def test_a_condition_check_counts_amsterdam_days(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """A condition agreed at midnight starting Tuesday 3 March in Amsterdam (23:00 UTC on
    Monday) is a Tuesday's: its first check is due 14 days after Tuesday."""
    journey.opened().with_members().assessing()
    clock.advance(hours=14)
    journey.with_conditions(1)
    assert due(journey, "condition_check") == {"c1": date(2026, 3, 17)}


def test_monitoring_counts_from_the_accepted_overdracht(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """S1: the wijkteam accepts the overdracht on 5 March. Monitoring has begun then: the
    3- and 12-month moments are due on 5 June and 5 March 2027 while the stage still says
    overdracht, and firing start_monitoring 61 days later moves the stage without moving
    the moments (they once counted from the late start)."""
    handover_id = overdracht_proposed(journey)
    assert due(journey, "monitoring") == {}
    clock.advance(days=3)
    accepted(journey, handover_id)
    moments = {"m3": date(2026, 6, 5), "m12": date(2027, 3, 5)}
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "overdracht"
    assert due(journey, "monitoring") == moments
    clock.advance(days=61)
    engine.fire(journey.case_id, "start_monitoring", actor=journey.vt, chart="vt")
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "monitoring"
    assert due(journey, "monitoring") == moments


def test_voorwaarden_en_vervolg_begins_monitoring_with_the_decision(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Veilig Thuis decides on voorwaarden en vervolg on 2 March: its moments count from the
    decision, and a check can be recorded before anybody fires start_monitoring."""
    journey.opened().with_members().assessing().with_conditions(1)
    engine.fire(
        journey.case_id, "besluit_voorwaarden_en_vervolg", actor=journey.vt, chart="vt", **TAXATIE
    )
    assert due(journey, "monitoring") == {"m3": date(2026, 6, 2), "m12": date(2027, 3, 2)}
    clock.advance(days=90)
    check(journey, clock.today)
    assert due(journey, "monitoring") == {"m12": date(2027, 3, 2)}


def test_a_check_on_the_first_day_does_not_satisfy_the_3_month_moment(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """S3: a check on the day monitoring began counts for no moment (its window opens
    halfway to the 3 months, on 17 April); a late 3-month check in July still counts for the
    3 months; a check in late October, nearer the 12 months, counts for the 12."""
    accepted(journey, overdracht_proposed(journey))
    check(journey, clock.today)
    assert due(journey, "monitoring") == {"m3": date(2026, 6, 2), "m12": date(2027, 3, 2)}
    clock.advance(days=130)
    check(journey, clock.today)
    assert due(journey, "monitoring") == {"m12": date(2027, 3, 2)}
    clock.advance(days=106)
    check(journey, clock.today)
    assert due(journey, "monitoring") == {}


def test_a_check_before_monitoring_began_is_refused(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Before the overdracht is accepted there is nothing to monitor; a check dated before
    monitoring began is no monitoring check either. Neither writes anything."""
    handover_id = overdracht_proposed(journey)
    with pytest.raises(Refused, match="monitoring has not begun") as early:
        check(journey, clock.today)
    assert early.value.rule == "not_monitoring"
    clock.advance(days=2)
    accepted(journey, handover_id)
    before = engine.history(journey.case_id, actor=journey.vt)
    with pytest.raises(Refused, match="monitoring began on 2026-03-04") as backdated:
        check(journey, date(2026, 3, 3))
    assert backdated.value.rule == "before_monitoring"
    assert engine.history(journey.case_id, actor=journey.vt) == before


def test_veilig_thuis_cannot_start_monitoring_while_it_holds_regie_itself(
    journey: Journey, engine: Engine
) -> None:
    """2.4 d: after besluit overdracht, with no handover accepted, Veilig Thuis still holds
    regie: start_monitoring is refused with the reason."""
    overdracht_proposed(journey)
    error = refused(journey, "start_monitoring", journey.vt)
    assert error.reasons == [
        (
            "monitoring_has_begun",
            "Veilig Thuis still holds regie: monitoring follows the overdracht, and begins "
            "when the handover is accepted",
        )
    ]


def test_veilig_thuis_cannot_close_with_monitoring_moments_undone(
    journey: Journey, engine: Engine, clock: ManualClock, jobs: Jobs
) -> None:
    """S1: twelve months on, with no monitoring check at all, vt_afsluiten is refused naming
    both moments; the missed 3-month moment was escalated by the sweep and stays on the list.
    A check at 12 months carries out the 12 but not the 3: still refused, naming m3."""
    accepted(journey, overdracht_proposed(journey))
    engine.fire(journey.case_id, "start_monitoring", actor=journey.vt, chart="vt")
    clock.advance(days=95)
    assert f"{journey.case_id}:monitoring:2026-06-02" in jobs.sweep_deadlines().escalated
    clock.advance(days=270)
    error = refused(journey, "vt_afsluiten", journey.vt)
    assert error.reasons[0] == (
        "monitoring_finished",
        "monitoring moments not carried out: m3 (due 2026-06-02, a check from 2026-04-17), "
        "m12 (due 2027-03-02, a check from 2026-10-16)",
    )
    assert error.reasons[1][0] == "no_open_obligation"
    assert "monitoring:m3 (" in error.reasons[1][1]
    assert "monitoring:m12 (" in error.reasons[1][1]
    check(journey, clock.today)
    error = refused(journey, "vt_afsluiten", journey.vt)
    assert error.reasons[0] == (
        "monitoring_finished",
        "monitoring moments not carried out: m3 (due 2026-06-02, a check from 2026-04-17)",
    )
    assert "monitoring:m12" not in error.reasons[1][1]
    [m3] = [d for d in engine.show(journey.case_id, actor=journey.vt).deadlines if d.ref == "m3"]
    assert (m3.kind, m3.due, m3.escalated) == ("monitoring", date(2026, 6, 2), True)


def test_veilig_thuis_closes_once_every_moment_was_carried_out(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Checks at 3 and 12 months: before the last moment the track still runs; from it,
    vt_afsluiten closes the track."""
    accepted(journey, overdracht_proposed(journey))
    engine.fire(journey.case_id, "start_monitoring", actor=journey.vt, chart="vt")
    clock.advance(days=92)
    check(journey, clock.today)
    clock.advance(days=250)
    check(journey, clock.today)
    assert refused(journey, "vt_afsluiten", journey.vt).reasons == [
        ("monitoring_finished", "monitoring runs until 2027-03-02")
    ]
    clock.advance(days=23)
    engine.fire(journey.case_id, "vt_afsluiten", actor=journey.vt, chart="vt")
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "afgesloten"
    assert due(journey, "monitoring") == {}


def test_stabiele_veiligheid_needs_the_conditions_checked_and_met(
    journey: Journey, engine: Engine, clock: ManualClock, wijkteam: Actor
) -> None:
    """S4: plan agreed, two conditions listed, never checked: naar_stabiele_veiligheid is
    refused naming both. c1 found met and c2 breached: refused naming c2. Both met: allowed."""
    journey.in_directe_veiligheid().with_plan().handed_over()

    def status(condition_id: str, found: str) -> None:
        engine.record_condition_status(
            journey.case_id,
            actor=wijkteam,
            condition_id=condition_id,
            status=found,
            observed_on=clock.today,
        )

    def reasons() -> list[tuple[str, str]]:
        before = engine.history(journey.case_id, actor=wijkteam)
        with pytest.raises(TransitionRefused) as caught:
            engine.fire(journey.case_id, "naar_stabiele_veiligheid", actor=wijkteam)
        assert engine.history(journey.case_id, actor=wijkteam) == before
        return caught.value.reasons

    assert reasons() == [
        (
            "conditions_checked_and_met",
            "safety conditions not checked and met: c1 (never checked), c2 (never checked)",
        )
    ]
    status("c1", "met")
    status("c2", "breached")
    assert reasons() == [
        (
            "conditions_checked_and_met",
            "safety conditions not checked and met: c2 (breached on 2026-03-02)",
        )
    ]
    status("c2", "met")
    engine.fire(journey.case_id, "naar_stabiele_veiligheid", actor=wijkteam)
    assert engine.show(journey.case_id, actor=wijkteam).phase == "stabiele_veiligheid"
