"""The phase chart: every transition, allowed and refused, with the reason a professional reads."""

from __future__ import annotations

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.errors import InvalidInput, NotAuthorised, TransitionRefused
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import MOTIVATED, Journey, handover


def refusal(
    engine: Engine, case_id: str, event: str, actor: Actor, *, reason: str = ""
) -> TransitionRefused:
    """Fire ``event`` expecting a refusal; assert nothing was written; return the error."""
    before = engine.history(case_id, actor=actor)
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(case_id, event, actor=actor, reason=reason)
    assert engine.history(case_id, actor=actor) == before
    return caught.value


def test_start_directe_veiligheid_moves_a_melding_with_members(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """A melding with its members recorded enters directe veiligheid."""
    journey.opened().with_members()
    engine.fire(journey.case_id, "start_directe_veiligheid", actor=vt)
    assert engine.show(journey.case_id, actor=vt).phase == "directe_veiligheid"


def test_start_directe_veiligheid_needs_members(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Without recorded members the phases cannot start."""
    journey.opened()
    error = refusal(engine, journey.case_id, "start_directe_veiligheid", vt)
    assert error.reasons == [("has_members", "no household members recorded")]
    assert error.rule == "has_members"


def test_an_advies_cannot_enter_the_phases(journey: Journey, engine: Engine, vt: Actor) -> None:
    """An advies registers no household: it must become a melding first."""
    journey.opened(via="advies").with_members()
    error = refusal(engine, journey.case_id, "start_directe_veiligheid", vt)
    assert error.rule == "is_melding"
    assert "convert it to a melding" in error.reason


def test_naar_stabiele_veiligheid_with_plan_conditions_and_risk(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """A plan, conditions, a risk assessment and a regiehouder allow stabiele veiligheid."""
    journey.in_stabiele_veiligheid()
    assert engine.show(journey.case_id, actor=wijkteam).phase == "stabiele_veiligheid"


def test_naar_stabiele_veiligheid_lists_every_missing_requirement(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Without plan, conditions or risk assessment, each missing part is named."""
    journey.opened().with_members()
    engine.fire(journey.case_id, "start_directe_veiligheid", actor=vt)
    error = refusal(engine, journey.case_id, "naar_stabiele_veiligheid", vt)
    assert error.reasons == [
        ("has_agreed_plan", "no agreed safety plan"),
        ("has_condition", "no safety condition agreed"),
        ("has_risk_assessment", "no risk assessment recorded"),
    ]
    assert error.state == "directe veiligheid"


def test_a_breached_condition_blocks_stabiele_veiligheid(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """A breached safety condition is named with its date, and so is one never checked."""
    journey.in_directe_veiligheid().with_plan()
    engine.record_condition_status(
        journey.case_id, actor=vt, condition_id="c2", status="breached", observed_on=clock.today
    )
    error = refusal(engine, journey.case_id, "naar_stabiele_veiligheid", vt)
    assert error.reasons == [
        (
            "conditions_checked_and_met",
            "safety conditions not checked and met: c1 (never checked), "
            "c2 (breached on 2026-03-02)",
        )
    ]


def test_naar_herstel_after_three_stable_months(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """Stable safety for the policy's period with all conditions met allows herstel."""
    journey.in_herstel()
    assert engine.show(journey.case_id, actor=wijkteam).phase == "herstel"


def test_naar_herstel_too_early_says_when_it_becomes_possible(
    journey: Journey, engine: Engine, wijkteam: Actor, clock: ManualClock
) -> None:
    """Before three months of stable safety, herstel is refused with the date it becomes possible."""
    journey.in_stabiele_veiligheid()
    clock.advance(days=30)
    error = refusal(engine, journey.case_id, "naar_herstel", wijkteam)
    assert error.reasons == [
        (
            "stable_period_lasted",
            "stable safety has lasted 30 days without incident; the policy asks 3 months "
            "(possible from 2026-06-02)",
        )
    ]


def test_naar_herstel_needs_every_condition_met(
    journey: Journey, engine: Engine, wijkteam: Actor, vt: Actor, clock: ManualClock
) -> None:
    """A condition whose status is unknown blocks herstel."""
    journey.in_stabiele_veiligheid()
    engine.add_safety_condition(
        journey.case_id,
        actor=vt,
        statement="New condition",
        owner="wijkteam-zwolle",
        check_every_days=7,
    )
    clock.advance(days=100)
    error = refusal(engine, journey.case_id, "naar_herstel", wijkteam)
    assert error.reasons == [("all_conditions_met", "safety conditions not met: c3 (unknown)")]


@pytest.mark.parametrize("phase", ["stabiele_veiligheid", "herstel"])
def test_terugval_returns_to_directe_veiligheid(
    journey: Journey, engine: Engine, wijkteam: Actor, phase: str
) -> None:
    """Terugval from any later phase goes back to directe veiligheid, with its reason kept."""
    journey.in_stabiele_veiligheid() if phase == "stabiele_veiligheid" else journey.in_herstel()
    engine.fire(journey.case_id, "terugval", actor=wijkteam, reason="new melding by the police")
    history = engine.history(journey.case_id, actor=wijkteam)
    assert engine.show(journey.case_id, actor=wijkteam).phase == "directe_veiligheid"
    assert history[-1].details == {
        "event": "terugval",
        "source": phase,
        "target": "directe_veiligheid",
        "reason": "new melding by the police",
    }


def test_terugval_needs_a_reason(journey: Journey, engine: Engine, wijkteam: Actor) -> None:
    """A terugval without its trigger is refused as bad input."""
    journey.in_stabiele_veiligheid()
    with pytest.raises(InvalidInput, match="terugval needs a reason"):
        engine.fire(journey.case_id, "terugval", actor=wijkteam)


def test_terugval_is_not_possible_from_directe_veiligheid(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """In directe veiligheid there is nothing to fall back from."""
    journey.in_directe_veiligheid()
    error = refusal(engine, journey.case_id, "terugval", vt, reason="incident")
    assert error.reasons == [
        ("not_from_state", "terugval is possible only from: herstel, stabiele veiligheid")
    ]


def test_afsluiten_after_veilig_thuis_closed(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """From herstel, with Veilig Thuis closed and no open handover, the case closes."""
    journey.closed()
    assert engine.show(journey.case_id, actor=wijkteam).phase == "afgesloten"


def test_afsluiten_while_veilig_thuis_is_involved_is_refused(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """A case cannot close while its Veilig Thuis track is open (nor with the
    veiligheidsbeoordeling Veilig Thuis still owes)."""
    journey.in_herstel()
    error = refusal(engine, journey.case_id, "afsluiten", wijkteam)
    assert error.reasons[1:] == [
        ("vt_track_closed", "Veilig Thuis is still involved (stage: veiligheidsbeoordeling)")
    ]
    assert error.reasons[0][0] == "no_open_obligation"
    assert "veiligheidsbeoordeling:vb (" in error.reasons[0][1]


def test_afsluiten_with_an_open_handover_is_refused(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Closing needs no open handover."""
    journey.opened().with_members().assessing().with_conditions()
    engine.fire(journey.case_id, "besluit_einde_bemoeienis", actor=vt, chart="vt", **MOTIVATED)
    engine.fire(journey.case_id, "vt_afsluiten", actor=vt, chart="vt")
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    error = refusal(engine, journey.case_id, "afsluiten", vt)
    assert error.reasons[0] == ("no_open_handover", "handover h1 to wijkteam-zwolle is still open")
    assert [rule for rule, _ in error.reasons] == ["no_open_handover", "no_open_obligation"]
    assert "handover_response:h1 (" in error.reasons[1][1]


def test_heropenen_brings_a_closed_case_back_to_aanmelding(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """A closed case reopens into aanmelding with the reason recorded."""
    journey.closed()
    engine.fire(journey.case_id, "heropenen", actor=wijkteam, reason="hermelding")
    assert engine.show(journey.case_id, actor=wijkteam).phase == "aanmelding"


def test_heropenen_only_from_afgesloten(journey: Journey, engine: Engine, vt: Actor) -> None:
    """An open case cannot be reopened."""
    journey.opened()
    error = refusal(engine, journey.case_id, "heropenen", vt, reason="x")
    assert error.rule == "not_from_state"


def test_only_the_regiehouder_moves_the_phase(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """An organisation without regie (here the melder) cannot fire phase events."""
    journey.opened(melder="wijkteam-zwolle").with_members()
    with pytest.raises(NotAuthorised, match="vt-ijsselland holds regie"):
        engine.fire(journey.case_id, "start_directe_veiligheid", actor=wijkteam)


def test_an_unknown_event_names_the_known_ones(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A typo in an event name is bad input listing the events that exist (not the typo: it is
    the client's text)."""
    journey.opened()
    with pytest.raises(
        InvalidInput,
        match="unknown event of the phase chart; known events: start_directe_veiligheid",
    ):
        engine.fire(journey.case_id, "naar_hersel", actor=vt)


def test_allowed_explains_every_event(journey: Journey, engine: Engine, vt: Actor) -> None:
    """The allowed list marks what may fire and gives the reasons for the rest."""
    journey.opened().with_members()
    options = {(o.chart, o.event): o for o in engine.allowed(journey.case_id, actor=vt)}
    assert options[("phase", "start_directe_veiligheid")].allowed
    assert options[("phase", "start_directe_veiligheid")].target == "directe_veiligheid"
    assert options[("vt", "start_veiligheidsbeoordeling")].allowed
    assert options[("phase", "naar_herstel")].reasons == [
        "naar_herstel is possible only from: stabiele veiligheid"
    ]
    assert options[("phase", "terugval")].needs_reason
    assert sorted(e for (_, e), o in options.items() if o.allowed) == [
        "start_directe_veiligheid",
        "start_veiligheidsbeoordeling",
    ]
