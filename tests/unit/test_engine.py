"""The service layer: commands, refusals that write nothing, authorisation, queries."""

from __future__ import annotations

from datetime import date

import pytest
import structlog

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, Refused
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import CANARY_NAMES, Journey, handover


def test_open_case_gives_veilig_thuis_regie(engine: Engine, vt: Actor) -> None:
    """The opening professional's organisation holds regie, with that person as casusregisseur."""
    result = engine.open_case(actor=vt, via="melding", acute=True)
    view = engine.show(result.case_id, actor=vt)
    assert (view.regie.organisation, view.regie.casusregisseur) == ("vt-ijsselland", "u-vt-01")
    assert (view.phase, view.vt_stage, view.acute, view.sequence) == (
        "aanmelding",
        "melding",
        True,
        1,
    )


def test_only_veilig_thuis_opens_cases(engine: Engine, wijkteam: Actor) -> None:
    """A wijkteam cannot open a melding: meldingen go to Veilig Thuis."""
    with pytest.raises(NotAuthorised, match="opened by Veilig Thuis"):
        engine.open_case(actor=wijkteam, via="melding")
    assert engine.list_cases(actor=actor_of("vt-ijsselland")) == []


def test_every_event_records_the_policy_version_and_actor(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """History says who did what under which policy version."""
    journey.opened().with_members()
    history = engine.history(journey.case_id, actor=vt)
    assert {e.policy_version for e in history} == {engine.policy.version}
    assert [e.event_type for e in history] == [
        "CaseOpened",
        "MemberRecorded",
        "MemberRecorded",
        "MemberRecorded",
    ]
    assert history[1].actor == "u-vt-01@vt-ijsselland:professional"
    assert history[1].details["member_id"] == "m1"


def test_bad_input_names_the_field(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A malformed command is one clear error naming the field; nothing is written."""
    journey.opened()
    with pytest.raises(InvalidInput, match=r"^role: Input should be") as caught:
        engine.record_member(journey.case_id, actor=vt, role="buurman", name="Henk Fictief")
    assert caught.value.field == "role"
    assert engine.show(journey.case_id, actor=vt).sequence == 1


def test_an_unknown_case_is_not_found(engine: Engine, vt: Actor) -> None:
    """Commands and reads on an unknown case raise NotFound with its id."""
    with pytest.raises(NotFound, match="case c-nope does not exist"):
        engine.fire("c-nope", "terugval", actor=vt, reason="x")
    with pytest.raises(NotFound):
        engine.show("c-nope", actor=vt)


def test_an_unknown_organisation_is_not_authorised(journey: Journey, engine: Engine) -> None:
    """An actor from an organisation outside the region's policy is refused."""
    journey.opened()
    stranger = Actor(user="u-x", organisation="wijkteam-elders", role=Role.professional)
    with pytest.raises(NotAuthorised, match="organisation wijkteam-elders is unknown"):
        engine.show(journey.case_id, actor=stranger)


def test_auditors_read_but_never_change(journey: Journey, engine: Engine, auditor: Actor) -> None:
    """An auditor reads the history and cannot issue commands."""
    journey.opened()
    assert len(engine.history(journey.case_id, actor=auditor)) == 1
    with pytest.raises(NotAuthorised, match="the role auditor cannot change cases"):
        engine.record_member(journey.case_id, actor=auditor, role="kind", name="Iris Fictief")


def test_the_receiver_sees_only_what_the_handover_shares(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """Need to know: the wijkteam sees the handover's payload, never the rest of the case."""
    journey.opened().with_members().with_conditions()
    with pytest.raises(NotFound, match="does not exist or you may not read it"):  # no part yet
        engine.show(journey.case_id, actor=wijkteam)
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    with pytest.raises(NotAuthorised, match="sees only what its open handover shares"):
        engine.show(journey.case_id, actor=wijkteam)
    shared = engine.handover(journey.case_id, "h1", actor=wijkteam)
    assert [c.condition_id for c in shared.safety_conditions] == ["c1"]
    assert shared.legal_basis == "art. 5.2.6 Wmo 2015"
    assert "members" not in shared.model_dump()


def test_a_handover_moves_regie_only_on_acceptance(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock
) -> None:
    """The sender keeps regie until the receiver accepts; then regie moves with history."""
    journey.opened().with_conditions()
    proposed = engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    view = engine.show(journey.case_id, actor=vt)
    assert view.regie.organisation == "vt-ijsselland"
    assert (view.handovers[0].status, str(view.handovers[0].respond_by)) == (
        "proposed",
        "2026-03-09",
    )
    clock.advance(days=1)
    engine.handle(
        cmd.AcceptHandover(
            case_id=journey.case_id, handover_id=str(proposed.created_id), casusregisseur="u-wt-07"
        ),
        actor=wijkteam,
    )
    view = engine.show(journey.case_id, actor=wijkteam)
    assert [(r.organisation, r.casusregisseur) for r in view.regie_history] == [
        ("vt-ijsselland", "u-vt-01"),
        ("wijkteam-zwolle", "u-wt-07"),
    ]


def test_only_the_receiver_answers_a_handover(journey: Journey, engine: Engine, vt: Actor) -> None:
    """Another organisation cannot accept a handover that was not proposed to it: the sender
    is told why; one with no part in the case is answered as for a missing case."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    accept = cmd.AcceptHandover(case_id=journey.case_id, handover_id="h1", casusregisseur="u-x")
    with pytest.raises(NotAuthorised, match="only the receiving organisation answers handover h1"):
        engine.handle(accept, actor=vt)
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.handle(accept, actor=actor_of("wijkteam-deventer"))


def test_a_rejected_handover_leaves_regie_and_can_not_be_accepted_after(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """Rejection keeps regie with the sender; the handover is settled."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    engine.handle(
        cmd.RejectHandover(case_id=journey.case_id, handover_id="h1", reason="outside our area"),
        actor=wijkteam,
    )
    with pytest.raises(Refused, match="handover h1 is already rejected"):
        engine.handle(
            cmd.AcceptHandover(case_id=journey.case_id, handover_id="h1", casusregisseur="u-wt-01"),
            actor=wijkteam,
        )
    assert engine.show(journey.case_id, actor=vt).regie.organisation == "vt-ijsselland"


@pytest.mark.parametrize(
    ("to", "rule"),
    [("vt-ijsselland", "handover_to_self"), ("politie-ijsselland", "receiver_cannot_hold_regie")],
)
def test_handovers_that_make_no_sense_are_refused(
    journey: Journey, engine: Engine, vt: Actor, to: str, rule: str
) -> None:
    """A handover to oneself or to a partner that cannot hold regie is refused."""
    journey.opened().with_conditions()
    with pytest.raises(Refused) as caught:
        engine.handle(handover(journey.case_id, to), actor=vt)
    assert caught.value.rule == rule


def test_one_open_handover_at_a_time(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A second proposal while one is open is refused naming the open one."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    with pytest.raises(Refused, match="handover h1 is still open"):
        engine.handle(handover(journey.case_id, "mda-ijsselland"), actor=vt)


def test_a_breached_condition_in_stabiele_veiligheid_fires_terugval(
    journey: Journey, engine: Engine, wijkteam: Actor, clock: ManualClock
) -> None:
    """Recording a breach appends the status and the terugval in one command."""
    journey.in_stabiele_veiligheid()
    result = engine.record_condition_status(
        journey.case_id,
        actor=wijkteam,
        condition_id="c1",
        status="breached",
        observed_on=clock.today,
    )
    assert result.events == ["SafetyConditionStatusRecorded", "PhaseTransitioned"]
    last = engine.history(journey.case_id, actor=wijkteam)[-1]
    assert last.details["reason"] == "safety condition c1 breached on 2026-03-02"
    assert engine.show(journey.case_id, actor=wijkteam).phase == "directe_veiligheid"


def test_an_incident_in_herstel_fires_terugval(
    journey: Journey, engine: Engine, wijkteam: Actor, clock: ManualClock
) -> None:
    """A new incident past directe veiligheid returns the case to it."""
    journey.in_herstel()
    result = engine.record_incident(journey.case_id, actor=wijkteam, occurred_on=clock.today)
    assert result.events == ["IncidentRecorded", "PhaseTransitioned"]
    assert engine.show(journey.case_id, actor=wijkteam).phase == "directe_veiligheid"


def test_an_incident_in_directe_veiligheid_is_only_recorded(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """In directe veiligheid an incident is recorded without a phase change."""
    journey.in_directe_veiligheid()
    assert engine.record_incident(journey.case_id, actor=vt, occurred_on=clock.today).events == [
        "IncidentRecorded"
    ]


def test_an_incident_in_the_future_is_refused(journey: Journey, engine: Engine, vt: Actor) -> None:
    """Incidents are facts: a date after today is refused."""
    journey.opened()
    with pytest.raises(Refused, match=r"cannot lie in the future \(2026-03-03\)"):
        engine.record_incident(journey.case_id, actor=vt, occurred_on=date(2026, 3, 3))


def test_a_revised_risk_assessment_keeps_its_id_and_bumps_its_version(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Risk assessments are versioned records."""
    journey.opened()
    first = engine.record_risk_assessment(
        journey.case_id,
        actor=vt,
        instrument="RiHG",
        instrument_version="2.1",
        level="verhoogd",
        assessed_on=clock.today,
        items={"A1": "rood"},
    )
    engine.record_risk_assessment(
        journey.case_id,
        actor=vt,
        instrument="RiHG",
        instrument_version="2.1",
        level="hoog",
        assessed_on=clock.today,
        assessment_id=first.created_id,
    )
    found = engine.show(journey.case_id, actor=vt).risk_assessments
    assert [(r.assessment_id, r.record_version, r.level) for r in found] == [
        ("r1", 1, "verhoogd"),
        ("r1", 2, "hoog"),
    ]
    assert found[0].items == {"A1": "rood"}
    assert found[0].assessor == "u-vt-01"


def test_a_closed_case_refuses_new_work(journey: Journey, engine: Engine, wijkteam: Actor) -> None:
    """After afsluiten, recording members is refused until the case is reopened."""
    journey.closed()
    with pytest.raises(Refused, match="the case is closed: reopen it before recording members"):
        engine.record_member(journey.case_id, actor=wijkteam, role="kind", name="Jet Fictief")


def test_casusregisseur_changes_within_the_organisation(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Another professional of the regie organisation takes over; regie history records it."""
    journey.opened()
    engine.handle(
        cmd.AssignCasusregisseur(case_id=journey.case_id, casusregisseur="u-vt-02"), actor=vt
    )
    assert engine.show(journey.case_id, actor=vt).regie.casusregisseur == "u-vt-02"


def test_the_caseload_of_a_wijkteam_holds_only_its_cases(
    engine: Engine, clock: ManualClock, vt: Actor, wijkteam: Actor
) -> None:
    """Lists show ids, phases and organisations; a wijkteam sees its own cases only."""
    kept = Journey(engine, clock, vt, wijkteam).opened()
    moved = Journey(engine, clock, vt, wijkteam).in_stabiele_veiligheid()
    assert [p.case_id for p in engine.list_cases(actor=wijkteam)] == [moved.case_id]
    assert {p.case_id for p in engine.list_cases(actor=vt)} == {kept.case_id, moved.case_id}
    assert [p.case_id for p in engine.list_cases(actor=vt, phase="aanmelding")] == [kept.case_id]


def test_rebuilt_projections_equal_the_live_ones(
    engine: Engine, clock: ManualClock, vt: Actor, wijkteam: Actor
) -> None:
    """A rebuild from the events gives exactly the rows kept live."""
    for step in ("opened", "in_directe_veiligheid", "in_herstel", "closed"):
        getattr(Journey(engine, clock, vt, wijkteam), step)()
    live = engine.list_cases(actor=vt)
    assert engine.projection_differences() == []
    assert engine.rebuild_projections() == 4
    assert engine.list_cases(actor=vt) == live


def test_logs_carry_ids_never_names(journey: Journey, engine: Engine, vt: Actor) -> None:
    """One log line per command with ids; the canary names never reach the logs."""
    with structlog.testing.capture_logs() as logs:
        journey.opened()
        for name in CANARY_NAMES:
            engine.record_member(journey.case_id, actor=vt, role="kind", name=name)
        with pytest.raises(InvalidInput):
            engine.record_member(journey.case_id, actor=vt, role="buurman", name=CANARY_NAMES[0])
        engine.show(journey.case_id, actor=vt)
    assert not [line for line in logs if any(n in repr(line) for n in CANARY_NAMES)]
    commands = [line for line in logs if line["event"] == "command"]
    assert [(c["command"], c["sequence"]) for c in commands] == [
        ("OpenCase", 1),
        ("RecordMember", 2),
        ("RecordMember", 3),
        ("RecordMember", 4),
    ]
    assert {line["case_id"] for line in logs if line["event"] == "read"} == {journey.case_id}
