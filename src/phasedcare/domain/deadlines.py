"""The deadlines a case runs against, in werkdagen, days, weeks and months from the policy.

Deadlines are computed from the case's facts only (never from the wall clock), so that a
projection rebuilt from the events equals the live one. A fact's moment becomes a day in the
region's time zone (:meth:`RegionalPolicy.local_date`), never in UTC: a melding received at
00:30 on a Tuesday in Amsterdam counts from that Tuesday. Whether one is overdue is a
question asked later, with a date. An overdue deadline stays on the list, escalated or
not, until the case moves past it: waiting cases are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from phasedcare.domain.calendar import WorkingDayCalendar, add_months
from phasedcare.domain.case import CaseState, MeldingAssessment
from phasedcare.domain.policy import RegionalPolicy

__all__ = [
    "BREAK_GLASS_REVIEW_WERKDAGEN",
    "FULFILLED_BY",
    "Deadline",
    "break_glass_review_due",
    "deadlines",
    "next_deadline",
    "overdue",
    "passed",
]

_PLAN_REVIEWED_IN = frozenset({"directe_veiligheid", "stabiele_veiligheid"})

FULFILLED_BY: dict[str, frozenset[str]] = {
    "veiligheidsbeoordeling": frozenset({"VtStageTransitioned", "VeiligheidsbeoordelingConcluded"}),
    "onderzoek": frozenset({"VtStageTransitioned"}),
    "monitoring": frozenset({"MonitoringCheckRecorded"}),
    "safety_plan_review": frozenset({"SafetyPlanAgreed"}),
    "handover_response": frozenset({"HandoverAccepted", "HandoverRejected", "HandoverWithdrawn"}),
    "huisverbod_hulp": frozenset({"HuisverbodHelpStarted"}),
    "break_glass_review": frozenset({"BreakGlassReviewed"}),
}
"""Per kind of deadline, the events whose recording fulfils it: a deadline that leaves the
list on any other event (a closure, a phase change) was not met, and the obligation it
stands for stays open (:mod:`phasedcare.domain.obligations`). Every kind has an entry."""

BREAK_GLASS_REVIEW_WERKDAGEN = 5
"""Veilig Thuis reviews every break-glass use within this many werkdagen (not a policy choice)."""


@dataclass(frozen=True, slots=True, order=True)
class Deadline:
    """A date something must be done by, what, which instance, and who must do it.

    ``due_at`` is the precise moment (UTC) of a deadline counted in hours, an acute
    melding's veiligheidsbeoordeling; ``due`` is then that moment's day in the region.
    """

    due: date
    kind: str
    ref: str
    description: str
    responsible: str
    escalated: bool = False
    due_at: datetime | None = None

    def overdue_on(self, day: date, now: datetime | None = None) -> bool:
        """Whether it has passed on ``day`` (at ``now``): see :func:`passed`."""
        return passed(self.due, self.due_at, day, now)


def passed(due: date, due_at: datetime | None, day: date, now: datetime | None = None) -> bool:
    """True when ``day`` lies after ``due`` or, for a deadline due at a moment, when ``now``
    has passed that moment (without ``now``, the day decides)."""
    if due_at is not None and now is not None:
        return now > due_at
    return day > due


def _deadline(
    case: CaseState,
    due: date,
    kind: str,
    ref: str,
    *,
    what: str,
    responsible: str,
    due_at: datetime | None = None,
) -> Deadline:
    escalated = (kind, ref, due) in case.escalations
    return Deadline(due, kind, ref, what, responsible, escalated, due_at)


def _assessment_deadline(
    case: CaseState, melding: MeldingAssessment, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> Deadline:
    """One melding's veiligheidsbeoordeling: within the policy's hours of its receipt when
    acute, else within its werkdagen of the day it was received."""
    received = policy.local_date(melding.received_at)
    if melding.acute:
        hours = policy.deadlines.acute_veiligheidsbeoordeling_uren
        due_at = melding.received_at + timedelta(hours=hours)
        what = f"veiligheidsbeoordeling of acute melding {melding.melding_id} within {hours} hours"
        return _deadline(
            case,
            policy.local_date(due_at),
            "veiligheidsbeoordeling",
            melding.deadline_ref,
            what=what,
            responsible=policy.veilig_thuis.id,
            due_at=due_at,
        )
    days = policy.deadlines.veiligheidsbeoordeling_werkdagen
    due = cal.add_working_days(received, days)
    what = f"veiligheidsbeoordeling within {days} werkdagen of the melding of {received}"
    if melding.melding_id != "m1":
        what += f" ({melding.melding_id})"
    return _deadline(
        case,
        due,
        "veiligheidsbeoordeling",
        melding.deadline_ref,
        what=what,
        responsible=policy.veilig_thuis.id,
    )


def _veiligheidsbeoordeling(
    case: CaseState, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> list[Deadline]:
    """Every melding not yet assessed, each with its own veiligheidsbeoordeling."""
    return [_assessment_deadline(case, m, policy, cal) for m in case.open_assessments]


def _onderzoek(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    if case.vt_stage != "onderzoek" or case.vt_stage_since is None:
        return []
    weeks = policy.deadlines.onderzoek_weken
    due = policy.local_date(case.vt_stage_since) + timedelta(weeks=weeks)
    what = f"onderzoek completed within {weeks} weken"
    return [
        _deadline(
            case, due, "onderzoek", "onderzoek", what=what, responsible=policy.veilig_thuis.id
        )
    ]


def _monitoring(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    """The next monitoring moment not yet carried out (3 and 12 months by default)."""
    if case.vt_stage != "monitoring" or case.vt_stage_since is None:
        return []
    moments = policy.deadlines.monitoring_maanden
    done = len(case.monitoring_checks)
    if done >= len(moments):
        return []
    months = moments[done]
    due = add_months(policy.local_date(case.vt_stage_since), months)
    what = f"monitoring moment {months} months after the handover"
    return [
        _deadline(
            case, due, "monitoring", f"m{months}", what=what, responsible=policy.veilig_thuis.id
        )
    ]


def _plan_review(
    case: CaseState, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> list[Deadline]:
    if case.phase not in _PLAN_REVIEWED_IN or case.safety_plan is None:
        return []
    days = policy.deadlines.safety_plan_review_werkdagen
    due = cal.add_working_days(case.safety_plan.agreed_on, days)
    ref = f"plan-v{case.safety_plan.version}"
    what = f"safety plan reviewed within {days} werkdagen"
    return [
        _deadline(
            case, due, "safety_plan_review", ref, what=what, responsible=case.regie.organisation
        )
    ]


def _handovers(case: CaseState) -> list[Deadline]:
    waiting = [
        _deadline(
            case,
            h.respond_by,
            "handover_response",
            h.handover_id,
            what=f"{h.to_organisation} answers handover {h.handover_id}",
            responsible=h.to_organisation,
        )
        for h in case.open_handovers
    ]
    unresolved = [
        _deadline(
            case,
            h.respond_by,
            "handover_response",
            h.handover_id,
            what=f"handover {h.handover_id} expired unanswered: {h.from_organisation} keeps "
            "regie and decides what next",
            responsible=h.from_organisation,
        )
        for h in case.unresolved_handovers
    ]
    return waiting + unresolved


def _huisverbod(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    verbod = case.huisverbod
    if verbod is None or verbod.help_started_on is not None or case.phase == "afgesloten":
        return []
    days = policy.deadlines.tijdelijk_huisverbod_dagen
    due = verbod.imposed_on + timedelta(days=days)
    what = f"help starts within {days} days of the tijdelijk huisverbod of {verbod.imposed_on}"
    ref = f"thv-{verbod.imposed_on.isoformat()}"
    return [
        _deadline(case, due, "huisverbod_hulp", ref, what=what, responsible=case.regie.organisation)
    ]


def break_glass_review_due(used_on: date, calendar: WorkingDayCalendar) -> date:
    """The date by which Veilig Thuis reviews a break-glass use of ``used_on``."""
    return calendar.add_working_days(used_on, BREAK_GLASS_REVIEW_WERKDAGEN)


def _break_glass_reviews(
    case: CaseState, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> list[Deadline]:
    return [
        _deadline(
            case,
            break_glass_review_due(policy.local_date(use.used_at), cal),
            "break_glass_review",
            use.review_id,
            what=f"review of break-glass use {use.review_id} by {use.organisation}",
            responsible=policy.veilig_thuis.id,
        )
        for use in case.unreviewed_break_glass
    ]


def deadlines(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar
) -> list[Deadline]:
    """Every deadline the case runs against now, earliest first."""
    found = (
        _veiligheidsbeoordeling(case, policy, calendar)
        + _onderzoek(case, policy)
        + _monitoring(case, policy)
        + _plan_review(case, policy, calendar)
        + _handovers(case)
        + _huisverbod(case, policy)
        + _break_glass_reviews(case, policy, calendar)
    )
    return sorted(found)


def next_deadline(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar
) -> Deadline | None:
    """The earliest deadline, or None when nothing is due."""
    found = deadlines(case, policy, calendar)
    return found[0] if found else None


def overdue(
    case: CaseState,
    policy: RegionalPolicy,
    calendar: WorkingDayCalendar,
    today: date,
    *,
    now: datetime | None = None,
) -> list[Deadline]:
    """The deadlines that lie before ``today`` (or, due at a moment, before ``now``),
    escalated or not."""
    return [d for d in deadlines(case, policy, calendar) if d.overdue_on(today, now)]
