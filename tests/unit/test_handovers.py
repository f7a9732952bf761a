"""The handover protocol: payload, expiry, escalation, and what the receiver may see."""

from __future__ import annotations

import json
from datetime import date

import pytest

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.validation import make_command
from phasedcare.testing import ManualClock, actor_of
from support import Journey, handover


def _bodies(engine: Engine, case_id: str, kind: str) -> list[dict[str, object]]:
    messages = engine.store.messages(case_id=case_id)
    return [json.loads(m.body) for m in messages if m.event_type == f"nl.phasedcare.{kind}"]


def test_a_proposal_without_its_payload_is_refused_naming_every_missing_part(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Conditions, monitoring agreement, risk summary, legal basis and 'informed' are required."""
    journey.opened().with_conditions()
    with pytest.raises(InvalidInput) as caught:
        make_command(
            cmd.ProposeHandover, case_id=journey.case_id, to_organisation="wijkteam-zwolle"
        )
    assert caught.value.message == (
        "ProposeHandover is missing safety_conditions, monitoring_agreement, risk_summary, "
        "legal_basis, household_informed"
    )
    assert engine.handovers(actor=vt) == []


def test_a_household_not_informed_needs_the_reason(journey: Journey) -> None:
    """Not informing the household is allowed only with a reason (e.g. it would endanger)."""
    journey.opened().with_conditions()
    with pytest.raises(InvalidInput, match="household_not_informed_reason is required"):
        make_command(
            cmd.ProposeHandover,
            **handover(journey.case_id, "wijkteam-zwolle").model_dump(
                exclude={"household_informed"}
            ),
            household_informed=False,
        )


def test_unknown_conditions_and_past_response_dates_are_refused(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """The shared conditions must exist; the response date must lie ahead."""
    journey.opened().with_conditions()
    with pytest.raises(NotFound, match="has no safety condition c9"):
        engine.handle(
            handover(journey.case_id, "wijkteam-zwolle", safety_conditions=["c9"]), actor=vt
        )
    with pytest.raises(Refused, match="must lie after today") as caught:
        engine.handle(
            handover(journey.case_id, "wijkteam-zwolle", respond_by=clock.today), actor=vt
        )
    assert caught.value.rule == "respond_by_in_past"
    assert engine.show(journey.case_id, actor=vt).handovers == []


def test_the_proposal_notifies_the_receiver_with_ids_only(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """The outbox holds a CloudEvent for the receiver: ids, dates and a link, no payload text."""
    journey.opened().with_members().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    [message] = [m for m in engine.store.messages(case_id=journey.case_id)]
    assert (message.event_type, message.recipients) == (
        "nl.phasedcare.handover.proposed",
        ("wijkteam-zwolle",),
    )
    body = json.loads(message.body)
    assert body["data"] == {
        "case_id": journey.case_id,
        "handover_id": "h1",
        "from_organisation": "vt-ijsselland",
        "to_organisation": "wijkteam-zwolle",
        "purpose": "regie",
        "respond_by": "2026-03-09",
        "link": f"http://127.0.0.1:8000/cases/{journey.case_id}",
    }
    assert b"Voorbeeld" not in message.body
    assert b"Wmo" not in message.body


def test_an_unanswered_handover_expires_and_is_escalated_once(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """After its response date the sweep expires it; regie stays; contacts are told."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    clock.advance(days=7)  # 2026-03-09 is the last day to answer
    assert jobs.sweep_deadlines().expired == []
    clock.advance(days=1)
    report = jobs.sweep_deadlines()
    assert report.expired == [f"{journey.case_id}/h1"]
    view = engine.show(journey.case_id, actor=vt)
    assert (view.regie.organisation, view.handovers[0].status) == ("vt-ijsselland", "escalated")
    [escalated] = _bodies(engine, journey.case_id, "handover.escalated")
    assert escalated["data"]["escalate_to"] == [  # type: ignore[index]
        "regie@vt-ijsselland.example",
        "escalatie@zvh-ijsselland.example",
    ]
    assert jobs.sweep_deadlines().expired == []
    [row] = [d for d in engine.deadlines(actor=vt, overdue=True) if d.kind == "handover_response"]
    assert (row.responsible, row.escalated) == ("vt-ijsselland", True)


def test_an_expired_handover_stays_visible_until_the_sender_withdraws_it(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """Waiting is never dropped: the escalated handover is a deadline until it is resolved."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    clock.advance(days=10)
    jobs.sweep_deadlines()
    clock.advance(days=30)
    assert any(d.kind == "handover_response" for d in engine.deadlines(actor=vt, overdue=True))
    engine.withdraw_handover(journey.case_id, actor=vt, handover_id="h1", reason="new plan")
    assert not any(d.kind == "handover_response" for d in engine.deadlines(actor=vt))


def test_a_late_acceptance_before_the_sweep_still_moves_regie(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """A receiver answering late, before the sweep ran, takes regie; nothing is expired."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    clock.advance(days=12)
    engine.accept_handover(
        journey.case_id, actor=wijkteam, handover_id="h1", casusregisseur="u-wt-07"
    )
    assert jobs.sweep_deadlines().expired == []
    assert engine.show(journey.case_id, actor=wijkteam).regie.organisation == "wijkteam-zwolle"


def test_only_the_sweep_expires_and_it_does_nothing_else(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """Professionals cannot expire; the system actor cannot propose or read cases."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    clock.advance(days=10)
    expire = cmd.ExpireHandover(case_id=journey.case_id, handover_id="h1")
    with pytest.raises(NotAuthorised, match="come from the sweeps"):
        engine.handle(expire, actor=vt)
    with pytest.raises(NotAuthorised, match="issues only expiries, escalations and signals"):
        engine.handle(handover(journey.case_id, "wijkteam-deventer"), actor=jobs.actor)
    with pytest.raises(NotAuthorised, match="reads no cases"):
        engine.show(journey.case_id, actor=jobs.actor)


def test_expiry_before_the_response_date_is_refused(
    journey: Journey, engine: Engine, vt: Actor, jobs: Jobs
) -> None:
    """The domain refuses an early expiry even from the system."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    with pytest.raises(Refused, match="may be answered until 2026-03-09") as caught:
        engine.handle(
            cmd.ExpireHandover(case_id=journey.case_id, handover_id="h1"), actor=jobs.actor
        )
    assert caught.value.rule == "handover_not_due"


def test_the_receiver_sees_the_payload_and_a_third_party_sees_nothing(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """The receiver's view is the payload with the shared conditions' statements only."""
    journey.opened().with_members().with_conditions(count=3)
    engine.handle(
        handover(
            journey.case_id,
            "wijkteam-zwolle",
            safety_conditions=["c1", "c3"],
            household_informed=False,
            household_not_informed_reason="informing the pleger endangers the victim",
        ),
        actor=vt,
    )
    shared = engine.handover(journey.case_id, "h1", actor=wijkteam)
    assert [(c.condition_id, c.statement) for c in shared.safety_conditions] == [
        ("c1", "Synthetic condition 1"),
        ("c3", "Synthetic condition 3"),
    ]
    assert (shared.household_informed, shared.household_not_informed_reason) == (
        False,
        "informing the pleger endangers the victim",
    )
    other = actor_of("wijkteam-deventer")  # no part in the case: told nothing of it (L4)
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.handover(journey.case_id, "h1", actor=other)
    log = engine.access_history(journey.case_id, actor=vt)
    assert [(a.actor, a.query, a.outcome) for a in log if a.query == "handover"] == [
        (str(wijkteam), "handover", "allowed"),
        (str(other), "handover", "denied"),
    ]


def test_handover_lists_are_scoped_to_the_organisation(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """A wijkteam lists the handovers it sends or receives; Veilig Thuis lists all."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    assert [(h.handover_id, h.status) for h in engine.handovers(actor=wijkteam)] == [
        ("h1", "proposed")
    ]
    assert engine.handovers(actor=actor_of("wijkteam-deventer")) == []
    assert len(engine.handovers(actor=vt, status="proposed")) == 1


def test_acceptance_notifies_both_parties(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """Regie moves with the acceptance, and the sender and receiver are told."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    engine.accept_handover(
        journey.case_id, actor=wijkteam, handover_id="h1", casusregisseur="u-wt-07"
    )
    [accepted] = [
        m
        for m in engine.store.messages(case_id=journey.case_id)
        if m.event_type.endswith("handover.accepted")
    ]
    assert accepted.recipients == ("vt-ijsselland", "wijkteam-zwolle")


def test_a_refused_command_writes_no_notification(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Nothing is lost and nothing is invented: a refusal leaves the outbox as it was."""
    journey.opened().with_conditions()
    before = engine.store.messages()
    with pytest.raises(Refused):
        engine.handle(handover(journey.case_id, "vt-ijsselland"), actor=vt)
    assert engine.store.messages() == before


def test_respond_by_counts_werkdagen_across_a_weekend_and_koningsdag(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Proposed on Friday 24 April 2026: Monday 27 is Koningsdag, so the answer is due 4 May."""
    clock.now = clock.now.replace(year=2026, month=4, day=24)
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    assert engine.show(journey.case_id, actor=vt).handovers[0].respond_by == date(2026, 5, 4)
