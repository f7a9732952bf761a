"""The Veilig Thuis chart: every transition, allowed and refused, with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.errors import InvalidInput, NotAuthorised, TransitionRefused
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import ONDERZOEK, TAXATIE, Journey


def stage(engine: Engine, case_id: str, actor: Actor) -> str:
    """The case's Veilig Thuis stage."""
    return engine.show(case_id, actor=actor).vt_stage


def refused(
    engine: Engine, case_id: str, event: str, actor: Actor, *, reason: str = "", **given: Any
) -> TransitionRefused:
    """Fire a VT event expecting a refusal that writes nothing."""
    sequence = engine.show(case_id, actor=actor).sequence
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(case_id, event, actor=actor, chart="vt", reason=reason, **given)
    assert engine.show(case_id, actor=actor).sequence == sequence
    return caught.value


def test_a_melding_starts_in_melding_and_an_advies_in_advies(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """The opening decides the first stage."""
    melding = journey.opened().case_id
    advies = Journey(engine, journey.clock, vt, journey.wijkteam).opened(via="advies").case_id
    assert (stage(engine, melding, vt), stage(engine, advies, vt)) == ("melding", "advies")


def test_start_veiligheidsbeoordeling_needs_the_persons_concerned(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Every melding gets a veiligheidsbeoordeling once its persons are registered."""
    journey.opened()
    assert refused(engine, journey.case_id, "start_veiligheidsbeoordeling", vt).reasons == [
        ("has_members", "no household members recorded")
    ]
    journey.with_members().assessing()
    assert stage(engine, journey.case_id, vt) == "veiligheidsbeoordeling"


def test_an_advies_converts_to_a_melding(journey: Journey, engine: Engine, vt: Actor) -> None:
    """omzetten_naar_melding turns an advies into a melding, with the 5-werkdagen clock started."""
    journey.opened(via="advies")
    engine.fire(journey.case_id, "omzetten_naar_melding", actor=vt, chart="vt")
    view = engine.show(journey.case_id, actor=vt)
    assert view.vt_stage == "melding"
    assert [(d.kind, str(d.due)) for d in view.deadlines] == [
        ("veiligheidsbeoordeling", "2026-03-09")
    ]


def test_an_advies_can_be_closed(journey: Journey, engine: Engine, vt: Actor) -> None:
    """advies_afronden closes an advies."""
    journey.opened(via="advies")
    engine.fire(journey.case_id, "advies_afronden", actor=vt, chart="vt")
    assert stage(engine, journey.case_id, vt) == "afgesloten"


@pytest.mark.parametrize("event", ["besluit_overdracht", "besluit_voorwaarden_en_vervolg"])
def test_handing_over_or_setting_conditions_needs_conditions(
    journey: Journey, engine: Engine, vt: Actor, event: str
) -> None:
    """An outcome built on safety conditions is refused without them, then allowed."""
    journey.opened().with_members().assessing()
    assert refused(engine, journey.case_id, event, vt, **TAXATIE).reasons == [
        ("has_condition", "no safety condition agreed")
    ]
    journey.with_conditions(1)
    engine.fire(journey.case_id, event, actor=vt, chart="vt", **TAXATIE)
    assert stage(engine, journey.case_id, vt) == event.removeprefix("besluit_")


def test_onderzoek_needs_a_ground(journey: Journey, engine: Engine, vt: Actor) -> None:
    """VT takes a case into onderzoek only on one of the Handelingsprotocol's grounds.

    The ground used to be free text (a reason); it is a closed choice now (domain.md 2.23).
    """
    journey.opened().with_members().assessing()
    with pytest.raises(InvalidInput, match="besluit_onderzoek needs a ground"):
        engine.fire(journey.case_id, "besluit_onderzoek", actor=vt, chart="vt", **TAXATIE)
    engine.fire(
        journey.case_id,
        "besluit_onderzoek",
        actor=vt,
        chart="vt",
        onderzoek_ground="ontkenning_of_weigering",
        **TAXATIE,
    )
    assert stage(engine, journey.case_id, vt) == "onderzoek"


def test_onderzoek_runs_against_ten_weeks(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """An onderzoek has a deadline ten weeks after it started."""
    journey.opened().with_members().assessing()
    clock.advance(days=3)
    engine.fire(journey.case_id, "besluit_onderzoek", actor=vt, chart="vt", **ONDERZOEK)
    deadlines = engine.show(journey.case_id, actor=vt).deadlines
    assert [(d.kind, str(d.due)) for d in deadlines] == [("onderzoek", "2026-05-14")]


def test_a_request_to_the_raad_needs_a_child(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A verzoek aan de Raad voor de Kinderbescherming concerns a child."""
    journey.opened()
    engine.record_member(journey.case_id, actor=vt, role="slachtoffer", name="Eva Voorbeeld")
    journey.assessing()
    assert refused(engine, journey.case_id, "besluit_verzoek_rvdk", vt, **TAXATIE).reasons == [
        ("has_child", "no child recorded in the household")
    ]
    engine.record_member(journey.case_id, actor=vt, role="kind", name="Finn Voorbeeld")
    engine.fire(journey.case_id, "besluit_verzoek_rvdk", actor=vt, chart="vt", **TAXATIE)
    assert stage(engine, journey.case_id, vt) == "verzoek_rvdk"


@pytest.mark.parametrize(
    ("event", "target"),
    [
        ("besluit_omzetten_naar_advies", "omgezet_naar_advies"),
        ("besluit_einde_bemoeienis", "einde_bemoeienis"),
    ],
)
def test_the_outcomes_that_end_involvement_need_a_motivation(
    journey: Journey, engine: Engine, vt: Actor, event: str, target: str
) -> None:
    """Omzetten naar advies and einde bemoeienis need a motivation (domain.md 2.8), then close.

    They used to need nothing; that was the finding.
    """
    journey.opened().with_members().assessing()
    with pytest.raises(InvalidInput, match=f"{event} needs a reason"):
        engine.fire(journey.case_id, event, actor=vt, chart="vt", **TAXATIE)
    engine.fire(journey.case_id, event, actor=vt, chart="vt", reason="no violence found", **TAXATIE)
    assert stage(engine, journey.case_id, vt) == target
    engine.fire(journey.case_id, "vt_afsluiten", actor=vt, chart="vt")
    assert stage(engine, journey.case_id, vt) == "afgesloten"


def test_an_onderzoek_ends_in_an_outcome(journey: Journey, engine: Engine, vt: Actor) -> None:
    """After an onderzoek, the outcomes that follow it are possible; another onderzoek is not."""
    journey.opened().with_members().assessing().with_conditions(1)
    engine.fire(journey.case_id, "besluit_onderzoek", actor=vt, chart="vt", **ONDERZOEK)
    again = refused(
        engine, journey.case_id, "besluit_onderzoek", vt, onderzoek_ground="vermoeden_onzeker"
    )
    assert again.rule == "not_from_state"
    engine.fire(journey.case_id, "besluit_voorwaarden_en_vervolg", actor=vt, chart="vt")
    assert stage(engine, journey.case_id, vt) == "voorwaarden_en_vervolg"


def test_monitoring_runs_until_the_last_moment(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Monitoring cannot close before the policy's last moment (12 months) and can after it,
    its moments carried out."""
    journey.opened().with_members().assessing().with_conditions(1)
    engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    journey.handed_over()
    engine.fire(journey.case_id, "start_monitoring", actor=vt, chart="vt")
    assert [
        (d.kind, d.ref, str(d.due))
        for d in engine.show(journey.case_id, actor=vt).deadlines
        if d.kind == "monitoring"
    ] == [("monitoring", "m3", "2026-06-02"), ("monitoring", "m12", "2027-03-02")]
    clock.advance(days=92)
    journey.monitoring_check()
    clock.advance(days=250)
    journey.monitoring_check()
    assert refused(engine, journey.case_id, "vt_afsluiten", vt).reasons == [
        ("monitoring_finished", "monitoring runs until 2027-03-02")
    ]
    clock.advance(days=23)
    engine.fire(journey.case_id, "vt_afsluiten", actor=vt, chart="vt")
    assert stage(engine, journey.case_id, vt) == "afgesloten"


def test_a_new_melding_reopens_the_veilig_thuis_track(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """After closure, a hermelding starts the track again at melding."""
    journey.opened(via="advies")
    engine.fire(journey.case_id, "advies_afronden", actor=vt, chart="vt")
    with pytest.raises(InvalidInput, match="nieuwe_melding needs a reason"):
        engine.fire(journey.case_id, "nieuwe_melding", actor=vt, chart="vt")
    engine.fire(
        journey.case_id, "nieuwe_melding", actor=vt, chart="vt", reason="hermelding by the school"
    )
    assert stage(engine, journey.case_id, vt) == "melding"


def test_start_monitoring_needs_an_outcome_first(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Monitoring follows an outcome, not the assessment itself."""
    journey.opened().with_members().assessing()
    error = refused(engine, journey.case_id, "start_monitoring", vt)
    assert error.reasons == [
        (
            "not_from_state",
            "start_monitoring is possible only from: overdracht, verzoek aan de Raad voor de Kinderbescherming, voorwaarden en vervolg",
        )
    ]


def test_only_veilig_thuis_moves_its_track(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """Even the regiehouder cannot move the Veilig Thuis chart."""
    journey.in_stabiele_veiligheid()
    with pytest.raises(NotAuthorised, match="only Veilig Thuis moves the Veilig Thuis track"):
        engine.fire(journey.case_id, "besluit_einde_bemoeienis", actor=wijkteam, chart="vt")
