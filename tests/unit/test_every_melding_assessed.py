"""Every melding is assessed, and acute is acute (domain.md 2.1, 2.2), as the professionals
live it.

A vervolgmelding during the veiligheidsbeoordeling, after it, during an onderzoek or during
monitoring gets its own veiligheidsbeoordeling with its own deadline; Veilig Thuis concludes
it with a veiligheidstaxatie and a follow-up without restarting its track. An acute melding
is due within the policy's hours, escalated on the first sweep after that moment, and its case
comes first in Veilig Thuis's lists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from phasedcare.errors import InvalidInput, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.ports import DeadlineRow
from phasedcare.testing import ManualClock
from support import ONDERZOEK, TAXATIE, Journey

UNSAFE = {"acute_onveiligheid": True, "structurele_onveiligheid": True}


def vb_deadlines(journey: Journey) -> dict[str, DeadlineRow]:
    """The case's veiligheidsbeoordeling deadlines by ref."""
    rows = journey.engine.deadlines(actor=journey.vt, kind="veiligheidsbeoordeling")
    return {r.ref: r for r in rows if r.case_id == journey.case_id}


def due(journey: Journey, kind: str) -> date:
    """The due day of the case's one deadline of ``kind``."""
    [row] = [
        r
        for r in journey.engine.deadlines(actor=journey.vt, kind=kind)
        if r.case_id == journey.case_id
    ]
    return row.due


def test_an_acute_police_melding_during_monitoring_gets_its_own_vb_due_in_hours_escalated_when_missed(
    journey: Journey, engine: Engine, clock: ManualClock, jobs: Jobs
) -> None:
    """The CLI walk of 2.1: the police report acute danger while Veilig Thuis monitors. The
    melding's own veiligheidsbeoordeling is due 24 hours after its receipt (not 5 werkdagen,
    not the 3-month monitoring moment), the sweep escalates it the moment it is missed, and
    Veilig Thuis scales up to an onderzoek when it concludes it."""
    journey.in_monitoring()
    received = clock()
    result = engine.record_melding(
        journey.case_id, actor=journey.vt, melder_kind="politie", acute=True
    )
    assert result.events == ["MeldingReceived"]
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "monitoring"
    row = vb_deadlines(journey)["vb-m2"]
    assert (row.due_at, row.due, row.escalated) == (
        received + timedelta(hours=24),
        (received + timedelta(hours=24)).date(),
        False,
    )
    [shown] = [
        d for d in engine.show(journey.case_id, actor=journey.vt).deadlines if d.ref == "vb-m2"
    ]
    assert shown.due_at == received + timedelta(hours=24)

    clock.advance(hours=23)
    assert jobs.sweep_deadlines().escalated == []
    clock.advance(hours=2)  # 25 hours after receipt, the same day as it was due
    assert clock().date() == row.due
    report = jobs.sweep_deadlines()
    assert report.escalated == [f"{journey.case_id}:veiligheidsbeoordeling:{row.due}"]
    assert vb_deadlines(journey)["vb-m2"].escalated

    with pytest.raises(Refused, match="scale it up"):
        engine.conclude_veiligheidsbeoordeling(
            journey.case_id,
            actor=journey.vt,
            melding_id="m2",
            follow_up="vervolgstappen_bij_veilig_thuis",
            **UNSAFE,
        )
    engine.conclude_veiligheidsbeoordeling(
        journey.case_id,
        actor=journey.vt,
        melding_id="m2",
        follow_up="vervolgstappen_bij_veilig_thuis",
        reason="acute danger reported by the police (synthetic)",
        scale_up="besluit_onderzoek",
        onderzoek_ground="directe_interventie_nodig",
        **UNSAFE,
    )
    view = engine.show(journey.case_id, actor=journey.vt)
    assert view.vt_stage == "onderzoek"
    assert vb_deadlines(journey) == {}
    assert [d.kind for d in view.deadlines if d.responsible == "vt-ijsselland"] == ["onderzoek"]


def test_a_vervolgmelding_during_the_onderzoek_gets_its_own_vb_and_the_onderzoek_deadline_stays(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """S5: six days into the assessment Veilig Thuis starts an onderzoek; a new melding then
    gets its own 5-werkdagen veiligheidsbeoordeling beside the 10-week onderzoek, and
    concluding it keeps the onderzoek running, its deadline unchanged."""
    journey.opened().with_members().assessing()
    clock.advance(days=6)
    engine.fire(journey.case_id, "besluit_onderzoek", actor=journey.vt, chart="vt", **ONDERZOEK)
    onderzoek_due = due(journey, "onderzoek")
    assert onderzoek_due == date(2026, 5, 17)  # 10 weeks from Sunday 8 March
    clock.advance(days=3)  # Wednesday 11 March
    engine.record_melding(journey.case_id, actor=journey.vt, melder_kind="burger")
    assert {ref: r.due for ref, r in vb_deadlines(journey).items()} == {"vb-m2": date(2026, 3, 18)}
    assert due(journey, "onderzoek") == onderzoek_due

    engine.conclude_veiligheidsbeoordeling(
        journey.case_id,
        actor=journey.vt,
        melding_id="m2",
        follow_up="vervolgstappen_bij_veilig_thuis",
        **TAXATIE,
    )
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "onderzoek"
    assert vb_deadlines(journey) == {}
    assert due(journey, "onderzoek") == onderzoek_due


def test_an_acute_case_comes_first_in_veilig_thuis_caseload(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Two ordinary meldingen wait, one of them overdue; an acute one comes in later. It
    tops the caseload, the deadline list and the obligations, though it is not due first."""
    vt = journey.vt
    first = engine.open_case(actor=vt, via="melding").case_id
    clock.advance(days=10)
    acute = engine.open_case(actor=vt, via="melding", acute=True).case_id
    last = engine.open_case(actor=vt, via="melding").case_id
    assert [p.case_id for p in engine.list_cases(actor=vt)] == [
        acute,
        *sorted([first, last]),
    ]
    rows = engine.deadlines(actor=vt)
    assert [(r.case_id, r.due_at is not None) for r in rows[:2]] == [(acute, True), (first, False)]
    assert rows[1].due < rows[0].due  # the overdue one is earlier, and still second
    assert [r.case_id for r in engine.deadlines(actor=vt, overdue=True)] == [first]
    owed = engine.open_obligations(actor=vt)
    assert [(o.case_id, o.due_at is not None) for o in owed[:2]] == [(acute, True), (first, False)]


def test_a_vervolgmelding_after_the_vb_is_assessed_on_its_own(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Veilig Thuis decided on voorwaarden en vervolg; two days later a school reports again.
    The melding is assessed on its own: the first melding's conclusion is the track's, the
    new one needs a motivation for "geen vervolgstappen", and a refusal changes nothing."""
    journey.opened().with_members().assessing().with_conditions()
    engine.fire(
        journey.case_id, "besluit_voorwaarden_en_vervolg", actor=journey.vt, chart="vt", **TAXATIE
    )
    clock.advance(days=2)
    received = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    engine.record_melding(
        journey.case_id, actor=journey.vt, melder_kind="professional", received_at=received
    )
    assert {ref: r.due for ref, r in vb_deadlines(journey).items()} == {"vb-m2": date(2026, 3, 10)}
    before = engine.show(journey.case_id, actor=journey.vt).sequence

    with pytest.raises(Refused, match="concluded already"):
        engine.conclude_veiligheidsbeoordeling(
            journey.case_id,
            actor=journey.vt,
            melding_id="m1",
            follow_up="geen_vervolgstappen",
            reason="x",
            **TAXATIE,
        )
    with pytest.raises(InvalidInput, match="needs a reason"):
        engine.conclude_veiligheidsbeoordeling(
            journey.case_id,
            actor=journey.vt,
            melding_id="m2",
            follow_up="geen_vervolgstappen",
            **TAXATIE,
        )
    assert engine.show(journey.case_id, actor=journey.vt).sequence == before

    result = engine.conclude_veiligheidsbeoordeling(
        journey.case_id,
        actor=journey.vt,
        melding_id="m2",
        follow_up="geen_vervolgstappen",
        reason="the school reports what the plan already covers (synthetic)",
        acute_onveiligheid=False,
        structurele_onveiligheid=False,
    )
    assert result.events == ["VeiligheidsbeoordelingConcluded"]
    assert engine.show(journey.case_id, actor=journey.vt).vt_stage == "voorwaarden_en_vervolg"
    assert vb_deadlines(journey) == {}
    meldingen = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert [
        (m.melding_id, m.classification, m.follow_up, m.structurele_onveiligheid) for m in meldingen
    ] == [
        ("m1", "melding", "vervolgstappen_bij_veilig_thuis", True),
        ("m2", "vervolgmelding_na_veiligheidsbeoordeling", "geen_vervolgstappen", False),
    ]
