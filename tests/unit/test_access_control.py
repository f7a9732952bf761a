"""Who else may read a case: shares that expire, break-glass with its review, melder feedback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.share_decisions import ReviewTask
from phasedcare.errors import NotAuthorised, NotFound, Refused
from phasedcare.service.access import CASELOAD, access_stream
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.ports import DeadlineRow
from phasedcare.testing import ManualClock, actor_of
from support import ONDERZOEK, Journey

REASON = "acute danger reported by a neighbour at night"


@pytest.fixture
def police() -> Actor:
    """A professional of the police (a partner organisation)."""
    return actor_of("politie-ijsselland", user="u-pol-01")


def _break_glass_entries(engine: Engine, case_id: str, auditor: Actor) -> list[tuple[str, ...]]:
    entries = engine.access_history(case_id, actor=auditor)
    return [
        (e.actor, e.outcome, e.legal_basis, e.detail) for e in entries if e.query == "break_glass"
    ]


# -- shares ---------------------------------------------------------------------------------


def test_a_share_lets_the_police_read_until_it_expires_then_denies_with_the_reason(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor, police: Actor, auditor: Actor
) -> None:
    """An active share is a basis to read; the day after its expiry the read is denied."""
    journey.opened()
    granted = engine.grant_share(
        journey.case_id,
        actor=vt,
        to_organisation="politie-ijsselland",
        legal_basis="art. 5.2.6 Wmo 2015",
        expires_on=date(2026, 3, 12),
    )
    assert granted.created_id == "s1"
    assert granted.events == ["ShareGranted"]
    assert engine.show(journey.case_id, actor=police).case_id == journey.case_id
    clock.advance(days=10)
    assert engine.show(journey.case_id, actor=police).case_id == journey.case_id
    clock.advance(days=1)
    with pytest.raises(NotAuthorised, match="share s1 expired on 2026-03-12"):
        engine.show(journey.case_id, actor=police)
    reads = [
        (e.outcome, e.legal_basis)
        for e in engine.access_history(journey.case_id, actor=auditor)
        if e.actor == str(police)
    ]
    assert reads == [("allowed", "share"), ("allowed", "share"), ("denied", "")]


def test_a_revoked_share_denies_at_once_and_cannot_be_revoked_twice(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor, police: Actor
) -> None:
    """Revoking ends the share today; a second revocation and unknown shares are refused."""
    journey.opened()
    engine.grant_share(
        journey.case_id,
        actor=vt,
        to_organisation="politie-ijsselland",
        legal_basis="convenant",
        expires_on=clock.today + timedelta(days=30),
    )
    assert engine.revoke_share(journey.case_id, actor=vt, share_id="s1").events == ["ShareRevoked"]
    with pytest.raises(NotAuthorised, match="share s1 was revoked on 2026-03-02"):
        engine.show(journey.case_id, actor=police)
    with pytest.raises(Refused) as caught:
        engine.revoke_share(journey.case_id, actor=vt, share_id="s1")
    assert caught.value.rule == "share_revoked"
    with pytest.raises(NotFound, match="has no share s9"):
        engine.revoke_share(journey.case_id, actor=vt, share_id="s9")


@pytest.mark.parametrize(
    ("to_organisation", "days", "rule"),
    [
        ("vt-ijsselland", 10, "share_to_self"),
        ("politie-ijsselland", -1, "share_expiry_in_past"),
        ("politie-ijsselland", 367, "share_too_long"),
    ],
)
def test_shares_to_self_into_the_past_or_past_366_days_are_refused(
    journey: Journey,
    engine: Engine,
    clock: ManualClock,
    vt: Actor,
    to_organisation: str,
    days: int,
    rule: str,
) -> None:
    """A share goes to another organisation, ends today or later and lasts at most 366 days."""
    journey.opened()
    with pytest.raises(Refused) as caught:
        engine.grant_share(
            journey.case_id,
            actor=vt,
            to_organisation=to_organisation,
            legal_basis="convenant",
            expires_on=clock.today + timedelta(days=days),
        )
    assert caught.value.rule == rule
    assert [e.event_type for e in engine.history(journey.case_id, actor=vt)] == ["CaseOpened"]


def test_a_share_of_366_days_is_allowed_and_a_second_active_one_refused(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """The longest share lasts 366 days; one active share per organisation at a time."""
    journey.opened()
    until = clock.today + timedelta(days=366)
    engine.grant_share(
        journey.case_id,
        actor=vt,
        to_organisation="rvdk",
        legal_basis="art. 1:240 BW",
        expires_on=until,
    )
    with pytest.raises(Refused, match=f"share s1 to rvdk is active until {until}"):
        engine.grant_share(
            journey.case_id,
            actor=vt,
            to_organisation="rvdk",
            legal_basis="art. 1:240 BW",
            expires_on=until,
        )


def test_only_regie_or_veilig_thuis_grants_shares(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor, wijkteam: Actor, police: Actor
) -> None:
    """An organisation without regie cannot grant a share, nor one that was shared with; one
    with no part in the case is answered as for a missing case."""
    journey.opened(melder="wijkteam-zwolle")
    engine.grant_share(
        journey.case_id,
        actor=vt,
        to_organisation=police.organisation,
        legal_basis="convenant",
        expires_on=clock.today,
    )
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.grant_share(
            journey.case_id,
            actor=actor_of("wijkteam-deventer"),
            to_organisation="rvdk",
            legal_basis="convenant",
            expires_on=clock.today,
        )
    for actor in (wijkteam, police):
        with pytest.raises(NotAuthorised, match="granted and revoked by vt-ijsselland"):
            engine.grant_share(
                journey.case_id,
                actor=actor,
                to_organisation="rvdk",
                legal_basis="convenant",
                expires_on=clock.today,
            )


# -- break-glass ----------------------------------------------------------------------------


def test_break_glass_reads_the_case_and_is_flagged_in_the_access_log(
    journey: Journey, engine: Engine, clock: ManualClock, police: Actor, auditor: Actor
) -> None:
    """The view comes back like show; the log says break_glass; the reason stays sealed."""
    journey.opened()
    view = engine.break_glass(journey.case_id, actor=police, reason=REASON)
    assert view.case_id == journey.case_id
    assert _break_glass_entries(engine, journey.case_id, auditor) == [
        (str(police), "allowed", "break_glass", "break_glass")
    ]
    [used] = [
        e
        for e in engine.history(journey.case_id, actor=auditor)
        if e.event_type == "BreakGlassUsed"
    ]
    assert (used.actor, used.details) == (str(police), {"review_id": "bg1", "reason": REASON})
    with pytest.raises(NotAuthorised, match="holds no regie, handover or share"):
        engine.show(journey.case_id, actor=police)


def test_break_glass_opens_a_review_deadline_for_veilig_thuis(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor, police: Actor, auditor: Actor
) -> None:
    """The review is due five werkdagen later, with Veilig Thuis, in deadlines and review tasks."""
    journey.opened()
    used_at = clock.now
    engine.break_glass(journey.case_id, actor=police, reason=REASON)
    expected = [
        ReviewTask(journey.case_id, "bg1", str(police), used_at, date(2026, 3, 9), escalated=False)
    ]
    assert engine.review_tasks(actor=vt) == expected
    assert engine.review_tasks(actor=auditor) == expected
    assert engine.deadlines(actor=vt, kind="break_glass_review") == [
        DeadlineRow(
            date(2026, 3, 9), journey.case_id, "break_glass_review", "bg1", "vt-ijsselland", False
        )
    ]


def test_an_overdue_review_is_escalated_by_the_sweep(
    journey: Journey, engine: Engine, clock: ManualClock, jobs: Jobs, vt: Actor, police: Actor
) -> None:
    """Like any deadline: once overdue the sweep escalates it, once."""
    journey.opened()
    engine.break_glass(journey.case_id, actor=police, reason=REASON)
    clock.advance(days=7)
    assert jobs.sweep_deadlines().escalated == []
    clock.advance(days=1)
    report = jobs.sweep_deadlines()
    assert f"{journey.case_id}:break_glass_review:2026-03-09" in report.escalated
    assert [t.escalated for t in engine.review_tasks(actor=vt)] == [True]
    assert f"{journey.case_id}:break_glass_review:2026-03-09" not in (
        jobs.sweep_deadlines().escalated
    )


def test_the_review_closes_the_task_once_and_only_veilig_thuis_reviews(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, police: Actor
) -> None:
    """Justified or not, the review takes the task and the deadline away; nobody reviews twice."""
    journey.opened()
    engine.break_glass(journey.case_id, actor=police, reason=REASON)
    with pytest.raises(NotAuthorised, match="only Veilig Thuis reviews break-glass uses"):
        engine.review_break_glass(
            journey.case_id, actor=police, review_id="bg1", outcome="justified"
        )
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.review_break_glass(
            journey.case_id, actor=wijkteam, review_id="bg1", outcome="justified"
        )
    result = engine.review_break_glass(
        journey.case_id, actor=vt, review_id="bg1", outcome="unjustified", note="no emergency"
    )
    assert result.events == ["BreakGlassReviewed"]
    assert engine.review_tasks(actor=vt) == []
    assert engine.deadlines(actor=vt, kind="break_glass_review") == []
    with pytest.raises(Refused) as caught:
        engine.review_break_glass(journey.case_id, actor=vt, review_id="bg1", outcome="justified")
    assert caught.value.rule == "already_reviewed"


@pytest.mark.parametrize(
    ("who", "reason", "why"),
    [
        (actor_of("vt-ijsselland", role=Role.auditor), REASON, "auditor cannot break the glass"),
        (actor_of("vt-ijsselland", role=Role.system), REASON, "system cannot break the glass"),
        (actor_of("politie-elders"), REASON, "politie-elders is unknown"),
        (actor_of("vt-ijsselland"), REASON, "on the basis regie: no break-glass needed"),
    ],
)
def test_a_denied_break_glass_is_recorded_as_denied_and_opens_nothing(
    journey: Journey, engine: Engine, auditor: Actor, who: Actor, reason: str, why: str
) -> None:
    """The wrong role, an unknown organisation or no need: denied and logged (a reason that
    is no text: tests/security/test_break_glass.py)."""
    journey.opened()
    with pytest.raises(NotAuthorised, match=why):
        engine.break_glass(journey.case_id, actor=who, reason=reason)
    assert _break_glass_entries(engine, journey.case_id, auditor) == [
        (str(who), "denied", "", "NotAuthorised")
    ]
    assert engine.review_tasks(actor=auditor) == []


def test_review_tasks_are_for_veilig_thuis_and_auditors_only(
    engine: Engine, wijkteam: Actor, police: Actor
) -> None:
    """Other organisations see no review tasks; the refusal is logged on the caseload."""
    for actor in (wijkteam, police):
        with pytest.raises(NotAuthorised, match="reviewed by Veilig Thuis and auditors"):
            engine.review_tasks(actor=actor)
    assert len(engine.store.load(access_stream(CASELOAD))) == 2


# -- melder feedback ------------------------------------------------------------------------


def test_melder_feedback_goes_to_its_own_organisation_only(
    engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """The melder sees its feedback (ids only), others see none, and the case stays closed."""
    deventer = actor_of("wijkteam-deventer")
    case_id = engine.open_case(
        actor=vt, via="melding", melder_organisation="wijkteam-deventer"
    ).case_id
    engine.record_member(case_id, actor=vt, role="kind", name="Iris Fictief")
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    engine.fire(case_id, "besluit_onderzoek", actor=vt, chart="vt", **ONDERZOEK)
    searches = len(engine.store.load(access_stream(CASELOAD)))
    [feedback] = engine.melder_feedback(actor=deventer)
    assert feedback == {
        "case_id": case_id,
        "moment": "na_veiligheidsbeoordeling",
        "outcome": "onderzoek",
        "follow_up": True,
        "receiving_parties": ["vt-ijsselland"],
        "safety_conditions": [],
        "link": f"http://127.0.0.1:8000/cases/{case_id}",
    }
    assert engine.melder_feedback(actor=wijkteam) == []
    assert engine.melder_feedback(actor=vt) == []
    assert len(engine.store.load(access_stream(CASELOAD))) == searches + 3
    with pytest.raises(NotAuthorised, match="wijkteam-deventer holds no regie, handover or share"):
        engine.show(case_id, actor=deventer)
