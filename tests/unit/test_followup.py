"""Deadlines in werkdagen and their escalation, new meldingen, monitoring, tijdelijk
huisverbod, MDA++ opschalen and afschalen, and feedback to a professional melder."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.domain.case import fold
from phasedcare.errors import InvalidInput, NotFound, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.testing import ManualClock, actor_of
from support import MOTIVATED, ONDERZOEK, TAXATIE, Journey, handover

MDA = actor_of("mda-ijsselland")


def _kinds(engine: Engine, actor: Actor, case_id: str) -> dict[str, tuple[date, bool]]:
    rows = engine.deadlines(actor=actor)
    return {r.kind: (r.due, r.escalated) for r in rows if r.case_id == case_id}


PLEGER = "m2"  # Journey.with_members: m1 slachtoffer, m2 pleger, m3 kind


def _messages(engine: Engine, case_id: str, kind: str) -> list[dict[str, object]]:
    found = engine.store.messages(case_id=case_id)
    return [json.loads(m.body)["data"] for m in found if m.event_type.endswith(kind)]


def test_the_veiligheidsbeoordeling_deadline_skips_a_weekend_and_koningsdag(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """A melding on Thursday 23 April 2026: Friday, (weekend), Koningsdag Monday 27 skipped,
    Tuesday to Friday: due Friday 1 May. Overdue on Monday 4 May, escalated once."""
    clock.now = clock.now.replace(month=4, day=23)
    journey.opened().with_members().with_conditions()
    assert _kinds(engine, vt, journey.case_id)["veiligheidsbeoordeling"] == (
        date(2026, 5, 1),
        False,
    )
    clock.now = clock.now.replace(month=5, day=1)
    assert jobs.sweep_deadlines().escalated == []
    clock.now = clock.now.replace(day=4)
    report = jobs.sweep_deadlines()
    assert report.escalated == [f"{journey.case_id}:veiligheidsbeoordeling:2026-05-01"]
    assert _kinds(engine, vt, journey.case_id)["veiligheidsbeoordeling"] == (date(2026, 5, 1), True)
    [escalation] = _messages(engine, journey.case_id, "deadline.escalated")
    assert escalation["responsible"] == "vt-ijsselland"
    assert jobs.sweep_deadlines().escalated == []
    engine.fire(journey.case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    assert "veiligheidsbeoordeling" not in _kinds(engine, vt, journey.case_id)


def test_overdue_lists_show_the_responsible_organisation_only_its_own(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock
) -> None:
    """A wijkteam sees the deadlines it must meet (the checks of the conditions it owns, its
    answer to the handover); Veilig Thuis sees every one."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)
    clock.advance(days=20)
    assert {r.kind for r in engine.deadlines(actor=vt, overdue=True)} == {
        "veiligheidsbeoordeling",
        "condition_check",
        "handover_response",
    }
    assert [(r.kind, r.ref) for r in engine.deadlines(actor=wijkteam, overdue=True)] == [
        ("handover_response", "h1"),
        ("condition_check", "c1"),
        ("condition_check", "c2"),
    ]


def test_onderzoek_is_due_in_ten_weeks(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A Veilig Thuis onderzoek is completed within 10 weken of its start."""
    journey.opened().with_members().assessing()
    engine.fire(journey.case_id, "besluit_onderzoek", actor=vt, chart="vt", **ONDERZOEK)
    assert _kinds(engine, vt, journey.case_id)["onderzoek"] == (date(2026, 5, 11), False)


def test_monitoring_moments_fall_at_three_and_twelve_months_after_the_handover(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Each moment is a deadline from the accepted handover until a check carries it out."""
    journey.in_directe_veiligheid()
    engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    journey.handed_over()
    engine.fire(journey.case_id, "start_monitoring", actor=vt, chart="vt")

    def moments() -> dict[str, date]:
        rows = engine.deadlines(actor=vt, kind="monitoring")
        return {r.ref: r.due for r in rows if r.case_id == journey.case_id}

    assert moments() == {"m3": date(2026, 6, 2), "m12": date(2027, 3, 2)}
    clock.advance(days=90)
    engine.record_monitoring_check(
        journey.case_id, actor=vt, checked_on=clock.today, outcome="veilig"
    )
    assert moments() == {"m12": date(2027, 3, 2)}
    clock.advance(days=300)
    engine.record_monitoring_check(
        journey.case_id, actor=vt, checked_on=clock.today, outcome="veilig"
    )
    assert moments() == {}


def test_an_unsafe_monitoring_check_falls_back_and_only_vt_monitors(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock
) -> None:
    """Onveilig past directe veiligheid fires terugval; a wijkteam cannot record monitoring."""
    journey.in_stabiele_veiligheid()
    engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    engine.fire(journey.case_id, "start_monitoring", actor=vt, chart="vt")
    result = engine.record_monitoring_check(
        journey.case_id, actor=vt, checked_on=clock.today, outcome="onveilig"
    )
    assert result.events == ["MonitoringCheckRecorded", "PhaseTransitioned"]
    assert engine.show(journey.case_id, actor=vt).phase == "directe_veiligheid"
    with pytest.raises(Exception, match="only Veilig Thuis records new meldingen and monitoring"):
        engine.record_monitoring_check(
            journey.case_id, actor=wijkteam, checked_on=clock.today, outcome="veilig"
        )


def test_a_tijdelijk_huisverbod_gives_ten_days_for_help_and_extends_to_at_most_28(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Help must start within 10 days; extension past 28 days is refused; help ends the watch."""
    journey.opened().with_members()
    engine.impose_huisverbod(journey.case_id, actor=vt, imposed_on=clock.today, against=PLEGER)
    assert _kinds(engine, vt, journey.case_id)["huisverbod_hulp"] == (date(2026, 3, 12), False)
    with pytest.raises(Refused, match="to at most 2026-03-30") as caught:
        engine.extend_huisverbod(journey.case_id, actor=vt, ends_on=date(2026, 3, 31))
    assert caught.value.rule == "huisverbod_extension"
    engine.extend_huisverbod(journey.case_id, actor=vt, ends_on=date(2026, 3, 30))
    engine.record_huisverbod_help(journey.case_id, actor=vt, started_on=clock.today)
    assert "huisverbod_hulp" not in _kinds(engine, vt, journey.case_id)
    with pytest.raises(Refused, match="runs until 2026-03-30"):
        engine.impose_huisverbod(journey.case_id, actor=vt, imposed_on=clock.today, against=PLEGER)


def test_a_huisverbod_in_stabiele_veiligheid_is_a_terugval_and_veilig_thuis_is_told(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Domain review 2.13 (S4): the burgemeester imposes a tijdelijk huisverbod on the father
    while the case is in stabiele veiligheid with the wijkteam. It means ernstig en
    onmiddellijk gevaar: the case falls back to directe veiligheid in the same command, the
    incident-free period starts again, and because a child lives there Veilig Thuis is told
    with the regiehouder (Wth art. 2 lid 3)."""
    journey.in_stabiele_veiligheid()
    result = engine.impose_huisverbod(
        journey.case_id, actor=journey.wijkteam, imposed_on=clock.today, against=PLEGER
    )
    assert result.events == ["HuisverbodImposed", "PhaseTransitioned"]
    view = engine.show(journey.case_id, actor=journey.vt)
    assert view.phase == "directe_veiligheid"
    assert fold(journey.case_id, engine._events(journey.case_id)).last_incident == clock.today
    [told] = _messages(engine, journey.case_id, "huisverbod.imposed")
    assert told["children"] is True
    [message] = [
        m
        for m in engine.store.messages(case_id=journey.case_id)
        if m.event_type.endswith("huisverbod.imposed")
    ]
    assert set(message.recipients) == {"wijkteam-zwolle", "vt-ijsselland"}


@pytest.mark.parametrize(
    ("against", "born", "words"),
    [
        ("m9", None, "has no member m9"),
        ("m3", None, "only on an adult \\(Wth art. 2 lid 2\\): m3 is a child of the household"),
        ("m4", date(2010, 5, 1), "only on an adult \\(Wth art. 2 lid 2\\): m4 is 15 on 2026-03-02"),
    ],
)
def test_a_huisverbod_on_no_member_or_a_minor_is_refused_and_changes_nothing(
    journey: Journey,
    engine: Engine,
    vt: Actor,
    clock: ManualClock,
    against: str,
    born: date | None,
    words: str,
) -> None:
    journey.opened().with_members()
    if born is not None:
        engine.record_member(
            journey.case_id,
            actor=vt,
            role="overige_betrokkene",
            name="Dirk Voorbeeld",
            date_of_birth=born,
        )
    before = engine.show(journey.case_id, actor=vt).sequence
    with pytest.raises(Refused, match=words):
        engine.impose_huisverbod(journey.case_id, actor=vt, imposed_on=clock.today, against=against)
    assert engine.show(journey.case_id, actor=vt).sequence == before


@pytest.mark.parametrize(
    ("walk", "classification"),
    [
        ("opened", "vervolgmelding_tijdens_veiligheidsbeoordeling"),
        ("decided", "vervolgmelding_na_veiligheidsbeoordeling"),
        ("monitoring", "vervolgmelding_tijdens_monitoring"),
        ("vt_closed", "hermelding"),
    ],
)
def test_new_meldingen_about_a_known_household_are_classified_as_cbs_counts_them(
    journey: Journey, engine: Engine, vt: Actor, walk: str, classification: str
) -> None:
    """During or after the veiligheidsbeoordeling, during monitoring, or after VT closed."""
    if walk == "monitoring":
        journey.in_directe_veiligheid()
        engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
        journey.handed_over()
        engine.fire(journey.case_id, "start_monitoring", actor=vt, chart="vt")
    elif walk == "vt_closed":
        journey.opened().with_members().assessing()
        engine.fire(journey.case_id, "besluit_einde_bemoeienis", actor=vt, chart="vt", **MOTIVATED)
        engine.fire(journey.case_id, "vt_afsluiten", actor=vt, chart="vt")
    elif walk == "decided":
        journey.in_directe_veiligheid()
        engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    else:
        journey.opened()
    engine.record_melding(journey.case_id, actor=vt, melder_kind="politie")
    [event] = [
        e for e in engine.history(journey.case_id, actor=vt) if e.event_type == "MeldingReceived"
    ]
    assert event.details["classification"] == classification
    [received] = _messages(engine, journey.case_id, "melding.received")
    assert received["classification"] == classification


def test_a_hermelding_restarts_the_track_with_a_new_deadline(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """After VT closed, a new melding opens the track at melding with its own deadline: an
    acute one within the policy's 24 hours (it was 5 werkdagen, 17 April: domain.md 2.2)."""
    journey.opened().with_members().assessing()
    engine.fire(journey.case_id, "besluit_einde_bemoeienis", actor=vt, chart="vt", **MOTIVATED)
    engine.fire(journey.case_id, "vt_afsluiten", actor=vt, chart="vt")
    clock.advance(days=40)
    result = engine.record_melding(journey.case_id, actor=vt, acute=True)
    assert result.events == ["MeldingReceived", "VtStageTransitioned"]
    assert engine.show(journey.case_id, actor=vt).vt_stage == "melding"
    assert _kinds(engine, vt, journey.case_id)["veiligheidsbeoordeling"] == (
        date(2026, 4, 12),
        False,
    )


def test_a_hermelding_years_after_closure_returns_regie_to_veilig_thuis(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Domain review 2.7 (S1): two years after the wijkteam closed the case, the police report
    acute danger. The melding moves zicht op veiligheid to Veilig Thuis: regie is Veilig
    Thuis's, with the professional who took the melding, not the wijkteam's of two years ago."""
    journey.closed()
    assert engine.show(journey.case_id, actor=journey.vt).regie.organisation == "wijkteam-zwolle"
    clock.advance(days=730)
    taker = actor_of("vt-ijsselland", user="u-vt-07")
    result = engine.record_melding(journey.case_id, actor=taker, melder_kind="politie", acute=True)
    assert result.events == [
        "MeldingReceived",
        "VtStageTransitioned",
        "PhaseTransitioned",
        "RegieReturned",
    ]
    view = engine.show(journey.case_id, actor=journey.vt)
    assert (view.phase, view.vt_stage) == ("aanmelding", "melding")
    assert (view.regie.organisation, view.regie.casusregisseur) == ("vt-ijsselland", "u-vt-07")
    assert view.regie.since == clock.now
    assert engine.projection_differences() == []
    assert [r.regie_organisation for r in engine.list_cases(actor=journey.vt)] == ["vt-ijsselland"]


def test_a_hermelding_while_the_wijkteam_still_works_leaves_regie_with_it(
    journey: Journey, engine: Engine
) -> None:
    """Veilig Thuis closed its track after monitoring; the wijkteam still holds regie in an
    open case. A new melding restarts Veilig Thuis's assessment, and the wijkteam keeps regie."""
    journey.closed()
    engine.fire(journey.case_id, "heropenen", actor=journey.wijkteam, reason="synthetic: reopened")
    result = engine.record_melding(journey.case_id, actor=journey.vt)
    assert "RegieReturned" not in result.events
    assert engine.show(journey.case_id, actor=journey.vt).regie.organisation == "wijkteam-zwolle"


def test_a_new_melding_past_directe_veiligheid_is_a_terugval(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """A vervolgmelding in stabiele veiligheid returns the case to directe veiligheid."""
    journey.in_stabiele_veiligheid()
    result = engine.record_melding(journey.case_id, actor=vt)
    assert result.events == ["MeldingReceived", "PhaseTransitioned"]
    assert engine.show(journey.case_id, actor=vt).phase == "directe_veiligheid"


def test_a_melding_on_an_advies_is_refused_and_only_vt_records_meldingen(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """An advies is converted first; a wijkteam cannot record meldingen."""
    journey.opened(via="advies", melder="wijkteam-zwolle")
    with pytest.raises(Refused, match="omzetten_naar_melding"):
        engine.record_melding(journey.case_id, actor=vt)
    with pytest.raises(Exception, match="only Veilig Thuis records new meldingen"):
        engine.record_melding(journey.case_id, actor=wijkteam)


def test_a_professional_melder_gets_feedback_after_the_assessment_and_after_onderzoek(
    engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """Feedback at the two moments: whether follow-up started, who receives, their conditions."""
    case_id = engine.open_case(
        actor=vt, via="melding", melder_organisation="politie-ijsselland"
    ).case_id
    engine.add_safety_condition(
        case_id, actor=vt, statement="Synthetic", owner="politie-ijsselland", check_every_days=30
    )
    engine.add_safety_condition(
        case_id, actor=vt, statement="Synthetic", owner="wijkteam-zwolle", check_every_days=7
    )
    engine.record_member(case_id, actor=vt, role="kind", name="Iris Fictief")
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    engine.fire(case_id, "besluit_onderzoek", actor=vt, chart="vt", **ONDERZOEK)
    engine.fire(case_id, "besluit_voorwaarden_en_vervolg", actor=vt, chart="vt")
    feedback = _messages(engine, case_id, "melder.feedback")
    assert [(f["moment"], f["outcome"], f["follow_up"]) for f in feedback] == [
        ("na_veiligheidsbeoordeling", "onderzoek", True),
        ("na_onderzoek", "voorwaarden_en_vervolg", True),
    ]
    assert feedback[0]["safety_conditions"] == ["c1"]
    assert feedback[0]["receiving_parties"] == ["vt-ijsselland"]
    [message] = [m for m in engine.store.messages(case_id=case_id) if "feedback" in m.event_type][
        :1
    ]
    assert message.recipients == ("politie-ijsselland",)


def test_feedback_goes_to_the_melder_of_that_track_only(
    engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Domain review 2.15 (S6): wijkteam-deventer made a melding in 2026; Veilig Thuis ended its
    involvement. In 2028 the police make a hermelding with their organisation named and
    Veilig Thuis decides on an overdracht. The police are told; wijkteam-deventer, whose melding
    belonged to the first track, hears nothing of the second (AVG doelbinding)."""
    case_id = engine.open_case(
        actor=vt, via="melding", melder_organisation="wijkteam-deventer"
    ).case_id
    engine.record_member(case_id, actor=vt, role="kind", name="Iris Fictief")
    engine.add_safety_condition(
        case_id, actor=vt, statement="Synthetic", owner="wijkteam-zwolle", check_every_days=7
    )
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    engine.fire(case_id, "besluit_einde_bemoeienis", actor=vt, chart="vt", **MOTIVATED)
    engine.fire(case_id, "vt_afsluiten", actor=vt, chart="vt")
    first = [
        m.recipients for m in engine.store.messages(case_id=case_id) if "feedback" in m.event_type
    ]
    assert first == [("wijkteam-deventer",)]
    clock.advance(days=730)
    engine.record_melding(
        case_id, actor=vt, melder_kind="politie", melder_organisation="politie-ijsselland"
    )
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    engine.fire(case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    told = [
        m.recipients for m in engine.store.messages(case_id=case_id) if "feedback" in m.event_type
    ]
    assert told == [("wijkteam-deventer",), ("politie-ijsselland",)]


def test_no_feedback_without_a_professional_melder(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """A melding by the police or a burger without an organisation gets no feedback message."""
    journey.opened().with_members().with_conditions().assessing()
    engine.fire(journey.case_id, "besluit_overdracht", actor=vt, chart="vt", **TAXATIE)
    assert _messages(engine, journey.case_id, "melder.feedback") == []


def test_mda_triage_needs_the_entry_criteria_and_gets_a_plan_van_aanpak(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Opschalen is refused naming the criteria met; with two met it proposes with a plan."""
    journey.opened().with_members().with_conditions()
    with pytest.raises(Refused, match="needs 2 of the 5 entry criteria; met: none") as caught:
        engine.handle(handover(journey.case_id, "mda-ijsselland"), actor=vt)
    assert caught.value.rule == "mda_criteria_not_met"
    engine.assess_mda_criteria(journey.case_id, actor=vt, met=["langdurige-intensieve-aanpak"])
    engine.record_incident(journey.case_id, actor=vt, occurred_on=date(2026, 2, 1))
    engine.record_incident(journey.case_id, actor=vt, occurred_on=date(2026, 3, 1))
    met = [
        (r.criterion_id, r.ground) for r in engine.mda_criteria(journey.case_id, actor=vt) if r.met
    ]
    assert met == [
        ("structurele-onveiligheid", "signal"),
        ("langdurige-intensieve-aanpak", "assessed"),
    ]
    engine.handle(handover(journey.case_id, "mda-ijsselland"), actor=vt)
    shared = engine.handover(journey.case_id, "h1", actor=MDA)
    assert shared.purpose == "mda_triage"
    assert shared.plan_van_aanpak is not None
    assert shared.plan_van_aanpak.members == ["m1", "m2", "m3"]
    assert shared.plan_van_aanpak.criteria_met == [
        "structurele-onveiligheid",
        "langdurige-intensieve-aanpak",
    ]


def test_unknown_mda_criteria_are_refused(journey: Journey, engine: Engine, vt: Actor) -> None:
    """A criterion the policy does not know is bad input, named."""
    journey.opened()
    with pytest.raises(InvalidInput, match="unknown MDA\\+\\+ criterion made-up"):
        engine.assess_mda_criteria(journey.case_id, actor=vt, met=["made-up"])


def _at_mda_in_stabiele_veiligheid(journey: Journey, engine: Engine, vt: Actor) -> None:
    journey.in_directe_veiligheid().with_plan()
    engine.assess_mda_criteria(
        journey.case_id,
        actor=vt,
        met=["structurele-onveiligheid", "langdurige-intensieve-aanpak"],
    )
    engine.handle(handover(journey.case_id, "mda-ijsselland"), actor=vt)
    engine.accept_handover(journey.case_id, actor=MDA, handover_id="h1", casusregisseur="u-mda-1")
    journey.conditions_met()
    engine.fire(journey.case_id, "naar_stabiele_veiligheid", actor=MDA)


def test_afschalen_before_six_months_of_stable_safety_is_refused_as_premature(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """Letting go too early achieves nothing: the refusal says until when."""
    _at_mda_in_stabiele_veiligheid(journey, engine, vt)
    clock.advance(days=60)
    with pytest.raises(
        Refused, match="premature: stable safety since 2026-03-02 lasts 6 months on 2026-09-02"
    ) as caught:
        engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=MDA)
    assert caught.value.rule == "afschalen_premature"
    clock.advance(days=125)
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=MDA)
    assert engine.handover(journey.case_id, "h2", actor=MDA).purpose == "afschalen"


def test_the_mda_sweep_signals_once_when_the_criteria_are_met(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """The regiehouder and the MDA++ team are told once; a case below the bar is left alone."""
    journey.opened().with_members()
    assert jobs.evaluate_mda() == []
    engine.record_risk_assessment(
        journey.case_id,
        actor=vt,
        instrument="LIRIK",
        instrument_version="2",
        level="hoog",
        assessed_on=clock.today,
    )
    engine.record_incident(journey.case_id, actor=vt, occurred_on=clock.today - timedelta(days=3))
    engine.record_incident(journey.case_id, actor=vt, occurred_on=clock.today)
    assert jobs.evaluate_mda() == [journey.case_id]
    assert jobs.evaluate_mda() == []
    [signal] = _messages(engine, journey.case_id, "mda.criteria_met")
    assert signal["criteria"] == ["structurele-onveiligheid", "hoge-kans-op-herhaling"]
    history = engine.access_history(journey.case_id, actor=vt)
    assert [a for a in history if a.outcome == "refused"] == []  # no refusal per sweep


def test_a_specific_group_flag_is_ended_with_a_reason_and_its_history_stays(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Issue 15: a case flagged complexe scheiding turns out not to be one; Veilig Thuis ends
    the flag with the reason. A reason without letters, a flag the case does not carry, and an
    organisation without a part are refused and record nothing; the history keeps both events."""
    journey.opened()
    engine.handle(
        cmd.FlagSpecificGroup(case_id=journey.case_id, flag="complexe_scheiding"), actor=vt
    )
    before = engine.show(journey.case_id, actor=vt).sequence
    refusals = [
        (
            cmd.EndSpecificGroup(case_id=journey.case_id, flag="complexe_scheiding", reason="..."),
            vt,
            InvalidInput,
        ),
        (
            cmd.EndSpecificGroup(case_id=journey.case_id, flag="mensenhandel", reason=ENDED),
            vt,
            Refused,
        ),
        (
            cmd.EndSpecificGroup(case_id=journey.case_id, flag="complexe_scheiding", reason=ENDED),
            actor_of("wijkteam-deventer"),
            NotFound,
        ),
    ]
    for command, actor, error in refusals:
        with pytest.raises(error):
            engine.handle(command, actor=actor)
    assert engine.show(journey.case_id, actor=vt).sequence == before
    engine.handle(
        cmd.EndSpecificGroup(case_id=journey.case_id, flag="complexe_scheiding", reason=ENDED),
        actor=vt,
    )
    assert engine.show(journey.case_id, actor=vt).flags == []
    history = [e.event_type for e in engine.history(journey.case_id, actor=vt)]
    assert history[-2:] == ["SpecificGroupFlagged", "SpecificGroupEnded"]


ENDED = "de ouders zijn niet gescheiden: het was een misverstand (synthetisch)"
