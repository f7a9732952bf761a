"""The Veilig Thuis track, told as the professionals live it (domain.md 2.3, 2.8, 2.9, 2.23).

The veiligheidsbeoordeling ends in a veiligheidstaxatie and a follow-up; ending involvement
needs a motivation; Veilig Thuis scales up from voorwaarden en vervolg, overdracht and
monitoring without closing its track; and a case Veilig Thuis let go closes from the phase it
is in, with retention starting as for any closure.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from phasedcare.domain import events as ev
from phasedcare.domain.case import fold
from phasedcare.domain.charts import PhaseChart, VeiligThuisChart
from phasedcare.domain.vt_outcome import ended_involvement
from phasedcare.errors import InvalidInput, TransitionRefused
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import RecordHeader
from phasedcare.service.engine import Engine
from phasedcare.service.views import case_view
from phasedcare.testing import ManualClock
from support import TAXATIE, Journey

ACUUT = {"acute_onveiligheid": True, "structurele_onveiligheid": False}


def sequence(engine: Engine, journey: Journey) -> int:
    """The case's sequence: it stays put when a command is refused."""
    return engine.show(journey.case_id, actor=journey.vt).sequence


def fire_vt(journey: Journey, event: str, **given: Any) -> None:
    """Veilig Thuis fires ``event`` on its own chart."""
    journey.engine.fire(journey.case_id, event, actor=journey.vt, chart="vt", **given)


def event_types(engine: Engine, journey: Journey) -> list[str]:
    """The types of the case's events, in order."""
    return [e.event_type for e in engine.history(journey.case_id, actor=journey.vt)]


def acute_melding_in_directe_veiligheid(engine: Engine, journey: Journey) -> Journey:
    """S2: an acute melding, a victim, the veiligheidsbeoordeling, directe veiligheid."""
    journey.case_id = engine.open_case(
        actor=journey.vt, via="melding", acute=True, summary="A synthetic acute melding"
    ).case_id
    engine.record_member(journey.case_id, actor=journey.vt, role="slachtoffer", name="Eva Proef")
    journey.assessing()
    engine.fire(journey.case_id, "start_directe_veiligheid", actor=journey.vt)
    return journey


# -- the veiligheidsbeoordeling has content (2.8) ------------------------------------------


def test_an_acute_melding_ended_with_einde_bemoeienis_needs_a_motivation(
    engine: Engine, journey: Journey
) -> None:
    """Without a word of explanation, einde bemoeienis is refused and nothing is written."""
    acute_melding_in_directe_veiligheid(engine, journey)
    before = sequence(engine, journey)
    with pytest.raises(InvalidInput, match="besluit_einde_bemoeienis needs a reason") as caught:
        fire_vt(journey, "besluit_einde_bemoeienis", **ACUUT)
    assert (caught.value.field, sequence(engine, journey)) == ("reason", before)
    fire_vt(
        journey, "besluit_einde_bemoeienis", reason="the police handled it; no HG found", **ACUUT
    )
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "einde_bemoeienis"


def test_turning_a_melding_into_an_advies_needs_a_motivation(
    engine: Engine, journey: Journey
) -> None:
    """Omzetten naar advies is refused without a motivation, and allowed with one."""
    journey.opened().with_members().assessing()
    with pytest.raises(InvalidInput, match="besluit_omzetten_naar_advies needs a reason"):
        fire_vt(journey, "besluit_omzetten_naar_advies", **TAXATIE)
    fire_vt(journey, "besluit_omzetten_naar_advies", reason="the school asks advice", **TAXATIE)
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "omgezet_naar_advies"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "acute_onveiligheid"),
        ({"acute_onveiligheid": True}, "structurele_onveiligheid"),
        ({"structurele_onveiligheid": False}, "acute_onveiligheid"),
    ],
)
def test_deciding_the_outcome_of_the_veiligheidsbeoordeling_records_the_taxatie(
    engine: Engine, journey: Journey, given: dict[str, bool], missing: str
) -> None:
    """The outcome needs both judgements of the veiligheidstaxatie, yes or no."""
    journey.opened().with_members().assessing().with_conditions(1)
    before = sequence(engine, journey)
    with pytest.raises(InvalidInput, match="records the veiligheidstaxatie") as caught:
        fire_vt(journey, "besluit_voorwaarden_en_vervolg", **given)
    assert (caught.value.field, sequence(engine, journey)) == (missing, before)


def test_the_case_view_shows_the_conclusion_of_the_veiligheidsbeoordeling(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """Acute onveiligheid, structurele onveiligheid and the follow-up, as CBS counts it."""
    journey.opened().with_members().assessing().with_conditions(1)
    assert engine.show(journey.case_id, actor=journey.vt).veiligheidsbeoordeling is None
    clock.advance(days=2)
    fire_vt(journey, "besluit_voorwaarden_en_vervolg", **ACUUT)
    vb = engine.show(journey.case_id, actor=journey.vt).veiligheidsbeoordeling
    assert vb is not None
    assert (
        vb.acute_onveiligheid,
        vb.structurele_onveiligheid,
        vb.follow_up,
        vb.outcome,
        vb.decided_at.date(),
    ) == (True, False, "vervolgstappen_bij_veilig_thuis", "voorwaarden_en_vervolg", clock.today)


@pytest.mark.parametrize(
    ("event", "follow_up"),
    [
        ("besluit_overdracht", "overdracht"),
        ("besluit_einde_bemoeienis", "geen_vervolgstappen"),
        ("besluit_omzetten_naar_advies", "omzetten_naar_advies"),
    ],
)
def test_every_follow_up_is_counted_in_its_cbs_category(
    engine: Engine, journey: Journey, event: str, follow_up: str
) -> None:
    """The follow-up decided is one of CBS's outcome categories of a melding."""
    journey.opened().with_members().assessing().with_conditions(1)
    fire_vt(journey, event, reason="synthetic motivation", **TAXATIE)
    vb = engine.show(journey.case_id, actor=journey.vt).veiligheidsbeoordeling
    assert vb is not None
    assert (vb.follow_up, vb.acute_onveiligheid, vb.structurele_onveiligheid) == (
        follow_up,
        False,
        True,
    )


def test_a_phase_event_records_no_taxatie(engine: Engine, journey: Journey) -> None:
    """Only a Veilig Thuis decision carries a veiligheidstaxatie."""
    journey.opened().with_members()
    with pytest.raises(InvalidInput, match="is no Veilig Thuis decision") as caught:
        engine.fire(journey.case_id, "start_directe_veiligheid", actor=journey.vt, **TAXATIE)
    assert caught.value.field == "acute_onveiligheid"


# -- onderzoek grounds (2.23) --------------------------------------------------------------


def test_an_onderzoek_names_one_of_the_five_grounds_of_the_handelingsprotocol(
    engine: Engine, journey: Journey
) -> None:
    """Free text is no ground; a ground belongs to an onderzoek only."""
    journey.opened().with_members().assessing().with_conditions(1)
    with pytest.raises(InvalidInput, match="onderzoek_ground"):
        fire_vt(journey, "besluit_onderzoek", onderzoek_ground="the family denies", **TAXATIE)
    with pytest.raises(InvalidInput, match="only besluit_onderzoek takes a ground"):
        fire_vt(journey, "besluit_overdracht", onderzoek_ground="te_weinig_informatie", **TAXATIE)
    fire_vt(journey, "besluit_onderzoek", onderzoek_ground="anonimiteit_melder", **TAXATIE)
    view = engine.show(journey.case_id, actor=journey.vt)
    assert view.veiligheidsbeoordeling is not None
    assert (view.vt_stage, view.veiligheidsbeoordeling.onderzoek_ground) == (
        "onderzoek",
        "anonimiteit_melder",
    )


# -- the Veilig Thuis track is complete (2.3) ----------------------------------------------


def test_monitoring_finds_the_household_unsafe_veilig_thuis_starts_an_onderzoek_without_closing_the_track(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """S3: an unsafe monitoring check; Veilig Thuis scales up, no false hermelding recorded."""
    journey.in_monitoring()
    clock.advance(days=30)
    engine.record_monitoring_check(
        journey.case_id, actor=journey.vt, checked_on=clock.today, outcome="onveilig"
    )
    before = sequence(engine, journey)
    with pytest.raises(InvalidInput, match="besluit_onderzoek from monitoring needs a reason"):
        fire_vt(journey, "besluit_onderzoek", onderzoek_ground="directe_interventie_nodig")
    assert sequence(engine, journey) == before
    fire_vt(
        journey,
        "besluit_onderzoek",
        reason="monitoring found the household unsafe",
        onderzoek_ground="directe_interventie_nodig",
        **ACUUT,
    )
    view = engine.show(journey.case_id, actor=journey.vt)
    assert view.vt_stage == "onderzoek"
    assert "MeldingReceived" not in event_types(engine, journey)
    assert [(d.kind, str(d.due)) for d in view.deadlines if d.kind == "onderzoek"] == [
        ("onderzoek", "2026-06-10")
    ]
    assert [(d.decided_in, d.outcome) for d in view.vt_decisions] == [
        ("veiligheidsbeoordeling", "overdracht"),
        ("monitoring", "onderzoek"),
    ]
    fire_vt(journey, "besluit_voorwaarden_en_vervolg")
    fire_vt(journey, "start_monitoring")
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "monitoring"


@pytest.mark.parametrize(
    ("via", "event", "target"),
    [
        ("besluit_voorwaarden_en_vervolg", "besluit_verzoek_rvdk", "verzoek_rvdk"),
        ("besluit_voorwaarden_en_vervolg", "besluit_onderzoek", "onderzoek"),
        ("besluit_overdracht", "besluit_voorwaarden_en_vervolg", "voorwaarden_en_vervolg"),
        ("besluit_overdracht", "besluit_verzoek_rvdk", "verzoek_rvdk"),
    ],
)
def test_veilig_thuis_scales_up_after_its_decision_with_a_reason(
    engine: Engine, journey: Journey, via: str, event: str, target: str
) -> None:
    """From voorwaarden en vervolg or overdracht, a new decision with a reason."""
    journey.opened().with_members().assessing().with_conditions(1)
    fire_vt(journey, via, **TAXATIE)
    ground = {"onderzoek_ground": "ontkenning_of_weigering"} if event == "besluit_onderzoek" else {}
    with pytest.raises(InvalidInput, match="needs a reason"):
        fire_vt(journey, event, **ground)
    fire_vt(journey, event, reason="the conditions are not kept", **ground)
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == target


def test_the_allowed_events_say_what_a_decision_needs(engine: Engine, journey: Journey) -> None:
    """A taxatie after the veiligheidsbeoordeling, a ground for an onderzoek, a reason to
    end involvement: the options say so before the professional tries."""
    journey.opened().with_members().assessing()
    found = {t.event: t for t in engine.allowed(journey.case_id, actor=journey.vt)}
    onderzoek, einde = found["besluit_onderzoek"], found["besluit_einde_bemoeienis"]
    assert (onderzoek.needs_taxatie, onderzoek.needs_ground, onderzoek.needs_reason) == (
        True,
        True,
        False,
    )
    assert (einde.needs_taxatie, einde.needs_reason) == (True, True)


# -- closure from anywhere (2.9) -----------------------------------------------------------


def test_veilig_thuis_ends_its_involvement_in_directe_veiligheid_and_the_case_closes_retention_starts(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """S2: einde bemoeienis in directe veiligheid; the case closes from there, with a reason."""
    acute_melding_in_directe_veiligheid(engine, journey)
    fire_vt(journey, "besluit_einde_bemoeienis", reason="no HG/KM after all", **ACUUT)
    fire_vt(journey, "vt_afsluiten")
    closing = {t.event: t for t in engine.allowed(journey.case_id, actor=journey.vt)}["afsluiten"]
    assert (closing.allowed, closing.needs_reason) == (True, True)
    with pytest.raises(InvalidInput, match="afsluiten from directe veiligheid needs a reason"):
        engine.fire(journey.case_id, "afsluiten", actor=journey.vt)
    clock.advance(days=3)
    engine.fire(
        journey.case_id, "afsluiten", actor=journey.vt, reason="Veilig Thuis ended involvement"
    )
    assert engine.show(journey.case_id, actor=journey.vt).phase == "afgesloten"
    [decision] = engine.run_retention(actor=journey.vt, dry_run=True)
    assert (decision.keep_until, decision.rule, decision.due) == (
        date(2046, 3, 5),
        "vt-dossier",
        False,
    )


def test_a_wijkteam_in_stabiele_veiligheid_closes_from_herstel_not_early(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """After monitoring ran its course, the regiehouder still closes from herstel."""
    journey.in_monitoring().conditions_met()
    engine.fire(journey.case_id, "naar_stabiele_veiligheid", actor=journey.wijkteam)
    journey.monitored_a_year()
    journey.waived_open_obligations("the story skips the condition checks on purpose")
    fire_vt(journey, "vt_afsluiten")
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(journey.case_id, "afsluiten", actor=journey.wijkteam, reason="all is well")
    assert [rule for rule, _ in caught.value.reasons] == ["closes_from_this_phase"]


def test_veilig_thuis_holding_regie_closes_from_directe_veiligheid(
    engine: Engine, journey: Journey, clock: ManualClock
) -> None:
    """Veilig Thuis ran voorwaarden en vervolg itself, monitored, and decides to close."""
    journey.in_directe_veiligheid()
    fire_vt(journey, "besluit_voorwaarden_en_vervolg", **TAXATIE)
    fire_vt(journey, "start_monitoring")
    journey.monitored_a_year()
    journey.waived_open_obligations("the story skips the condition checks on purpose")
    fire_vt(journey, "vt_afsluiten")
    engine.fire(journey.case_id, "afsluiten", actor=journey.vt, reason="monitoring found it safe")
    assert engine.show(journey.case_id, actor=journey.vt).phase == "afgesloten"


def test_an_open_case_stays_open_while_veilig_thuis_is_involved(
    engine: Engine, journey: Journey
) -> None:
    """Einde bemoeienis decided but the track not closed: the case cannot close yet."""
    acute_melding_in_directe_veiligheid(engine, journey)
    fire_vt(journey, "besluit_einde_bemoeienis", reason="no HG/KM", **ACUUT)
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(journey.case_id, "afsluiten", actor=journey.vt, reason="ended")
    assert [rule for rule, _ in caught.value.reasons] == ["vt_track_closed"]


# -- old ledgers ---------------------------------------------------------------------------

_VT = {"user": "u-vt-01", "organisation": "vt-ijsselland", "role": "professional"}
_OLD_LEDGER = [
    (
        "CaseOpened",
        {"region": "ijsselland", "via": "melding", "acute": True, "melder_kind": "politie"}
        | {"regie_organisation": "vt-ijsselland", "casusregisseur": "u-vt-01"},
    ),
    ("MemberRecorded", {"member_id": "m1", "role": "slachtoffer", "name": "Eva Proef"}),
    ("VtStageTransitioned", {"event": "start_veiligheidsbeoordeling", "source": "melding"}),
    ("PhaseTransitioned", {"event": "start_directe_veiligheid", "source": "aanmelding"}),
    ("VtStageTransitioned", {"event": "besluit_onderzoek", "reason": "ontkenning"}),
    ("VtStageTransitioned", {"event": "besluit_einde_bemoeienis", "source": "onderzoek"}),
    ("VtStageTransitioned", {"event": "vt_afsluiten", "source": "einde_bemoeienis"}),
]
"""Payloads as the version before the taxatie wrote them (S2 with an onderzoek): a free-text
onderzoek ground, an einde bemoeienis without motivation, no taxatie fields at all."""

_TARGETS = {
    "start_veiligheidsbeoordeling": "veiligheidsbeoordeling",
    "start_directe_veiligheid": "directe_veiligheid",
    "besluit_onderzoek": "onderzoek",
    "besluit_einde_bemoeienis": "einde_bemoeienis",
    "vt_afsluiten": "afgesloten",
}


def _old_events() -> list[ev.DomainEvent]:
    """The old ledger's events, read the way the mapper reads a stored record."""
    mapper, read = EventMapper(), []
    for number, (event_type, fields) in enumerate(_OLD_LEDGER, start=1):
        at = f"2024-05-{number:02d}T09:00:00Z"
        payload = {"case_id": "c-old", "at": at, "actor": _VT, "policy_version": "2024.1"}
        if "event" in fields:
            payload |= {"source": "veiligheidsbeoordeling", "target": _TARGETS[fields["event"]]}
        header = RecordHeader(
            case_id="c-old",
            sequence=number,
            event_type=event_type,
            schema_version=1,
            recorded_at=datetime.fromisoformat(at),
        )
        read.append(mapper.event_from(header, json.dumps(payload | fields).encode()))
    return read


def test_an_old_ledger_replays_its_decisions_as_not_recorded() -> None:
    """The old events load and fold; the taxatie reads as not recorded, the old free-text
    ground stays beside in its reason, and Veilig Thuis's involvement reads as ended, so the
    case may now close from directe veiligheid."""
    case = fold("c-old", _old_events())
    assert (case.phase, case.vt_stage) == ("directe_veiligheid", "afgesloten")
    view = case_view(case, [], date(2024, 6, 1))
    onderzoek, einde = view.vt_decisions
    assert (onderzoek.acute_onveiligheid, onderzoek.structurele_onveiligheid) == (None, None)
    assert (onderzoek.onderzoek_ground, onderzoek.reason) == (None, "ontkenning")
    assert view.veiligheidsbeoordeling == onderzoek
    assert (einde.follow_up, einde.reason) == ("geen_vervolgstappen", "")
    assert ended_involvement(case.vt_decisions)


# -- the statechart diagrams of docs/case-model.md -----------------------------------------

_CASE_MODEL = Path(__file__).resolve().parents[2] / "docs" / "case-model.md"


def _drawn(diagram: str) -> set[tuple[str, str, str]]:
    """(source, target, event) of every labelled arrow of a mermaid state diagram."""
    return set(re.findall(r"^\s*(\w+) --> (\w+): (\w+)$", diagram, re.MULTILINE))


def _charted(chart: type[PhaseChart] | type[VeiligThuisChart]) -> set[tuple[str, str, str]]:
    """(source, target, event) of every transition of a chart."""
    return {
        (str(state.value), str(t.target.value), str(event.id))
        for state in chart.states
        for t in state.transitions
        for event in t.events
    }


def test_the_diagrams_in_the_case_model_are_the_charts() -> None:
    """The phase and Veilig Thuis diagrams draw exactly the transitions the charts allow."""
    phase, vt = re.findall(r"```mermaid\n(.*?)```", _CASE_MODEL.read_text("utf-8"), re.DOTALL)[:2]
    assert (_drawn(phase), _drawn(vt)) == (_charted(PhaseChart), _charted(VeiligThuisChart))
