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
from phasedcare.domain.safety import SafetyCondition

__all__ = [
    "BREAK_GLASS_REVIEW_WERKDAGEN",
    "FULFILLED_BY",
    "Deadline",
    "MonitoringMoment",
    "break_glass_review_due",
    "deadlines",
    "monitoring_moments",
    "monitoring_start",
    "next_deadline",
    "overdue",
    "passed",
]

_PLAN_REVIEWED_IN = frozenset({"directe_veiligheid", "stabiele_veiligheid"})

FULFILLED_BY: dict[str, frozenset[str]] = {
    "veiligheidsbeoordeling": frozenset({"VtStageTransitioned", "VeiligheidsbeoordelingConcluded"}),
    "onderzoek": frozenset({"VtStageTransitioned"}),
    "monitoring": frozenset({"MonitoringCheckRecorded"}),
    "condition_check": frozenset({"SafetyConditionStatusRecorded"}),
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


_MONITORED_IN = frozenset({"overdracht", "voorwaarden_en_vervolg", "monitoring"})
"""Veilig Thuis stages in which its monitoring may run (from the moment it begins)."""


def monitoring_start(case: CaseState, policy: RegionalPolicy) -> datetime | None:
    """The moment Veilig Thuis's monitoring began, or ``None`` while it has not.

    It begins with the decision voorwaarden en vervolg, and after besluit overdracht when a
    handover from Veilig Thuis is accepted (at the decision itself when the household was
    handed over before it), whatever the stage says: ``start_monitoring`` only moves the
    stage. A track that came to monitoring otherwise (after a verzoek aan de Raad, or in a
    history from before this rule, started by hand with no handover) counts from
    ``start_monitoring``.
    """
    if case.vt_stage not in _MONITORED_IN:
        return None
    decision = case.vt_decisions[-1] if case.vt_decisions else None
    if decision is not None and decision.target == "voorwaarden_en_vervolg":
        return decision.decided_at
    if decision is not None and decision.target == "overdracht":
        accepted = _handed_over_at(case, policy, decision.decided_at)
        if accepted is not None:
            return accepted
    return case.vt_stage_since if case.vt_stage == "monitoring" else None


def _handed_over_at(
    case: CaseState, policy: RegionalPolicy, decided_at: datetime
) -> datetime | None:
    """When the overdracht decided at ``decided_at`` took effect: the first acceptance of a
    handover from Veilig Thuis after it, or the decision itself when one was accepted before
    it and regie is still away from Veilig Thuis."""
    accepted = [
        h.settled_at
        for h in case.handovers.values()
        if h.status == "accepted"
        and h.from_organisation == policy.veilig_thuis.id
        and h.settled_at is not None
    ]
    after = [at for at in accepted if at >= decided_at]
    if after:
        return min(after)
    if accepted and case.regie.organisation != policy.veilig_thuis.id:
        return decided_at
    return None


@dataclass(frozen=True, slots=True)
class MonitoringMoment:
    """One monitoring moment: due ``months`` after monitoring began, carried out by a check
    in its window, from ``opens`` up to the day before ``closes`` (``None``: no end).

    A window runs from halfway between the previous moment (or the start) and this one to
    halfway between this one and the next: a check on the day monitoring began counts for
    no moment, a late 3-month check still counts for the 3 months, a check closer to the
    12 months than to the 3 counts for the 12.
    """

    months: int
    due: date
    opens: date
    closes: date | None
    checked_on: date | None

    @property
    def ref(self) -> str:
        """The ref of its deadline: ``m3``, ``m12``."""
        return f"m{self.months}"

    @property
    def done(self) -> bool:
        """True once a check fell in its window."""
        return self.checked_on is not None


def _halfway(first: date, last: date) -> date:
    return first + timedelta(days=(last - first).days // 2)


def monitoring_moments(case: CaseState, policy: RegionalPolicy) -> list[MonitoringMoment]:
    """The policy's monitoring moments (3 and 12 months by default) counted from the day
    monitoring began, each with its window and the first check in it; none before it began."""
    start = monitoring_start(case, policy)
    if start is None:
        return []
    began = policy.local_date(start)
    months = policy.deadlines.monitoring_maanden
    dues = [add_months(began, m) for m in months]
    opens = [_halfway(before, due) for before, due in zip([began, *dues], dues, strict=False)]
    closes: list[date | None] = [*opens[1:], None]
    return [
        MonitoringMoment(m, due, first, end, _first_check(case.monitoring_checks, first, end))
        for m, due, first, end in zip(months, dues, opens, closes, strict=True)
    ]


def _first_check(checks: list[date], opens: date, closes: date | None) -> date | None:
    inside = [day for day in checks if day >= opens and (closes is None or day < closes)]
    return min(inside, default=None)


def _monitoring(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    """One deadline per monitoring moment not yet carried out (ref ``m3``, ``m12``)."""
    return [
        _deadline(
            case,
            moment.due,
            "monitoring",
            moment.ref,
            what=f"monitoring moment {moment.months} months after monitoring began",
            responsible=policy.veilig_thuis.id,
        )
        for moment in monitoring_moments(case, policy)
        if not moment.done
    ]


def _condition_check(
    case: CaseState, condition: SafetyCondition, policy: RegionalPolicy
) -> Deadline:
    """A safety condition checked every ``check_every_days`` local days from when it was
    added or last checked, by the organisation that owns it."""
    days = condition.check_every_days
    if condition.status_on is not None:
        since, what = condition.status_on, f"last checked {condition.status_on}"
    else:
        added = condition.added_at or case.opened_at
        assert added is not None  # noqa: S101 - a condition belongs to an opened case
        since = policy.local_date(added)
        what = f"agreed {since}, never checked"
    return _deadline(
        case,
        since + timedelta(days=days),
        "condition_check",
        condition.condition_id,
        what=f"safety condition {condition.condition_id} checked every {days} days ({what})",
        responsible=condition.owner,
    )


def _condition_checks(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    """Every safety condition's next check while the case is open."""
    if case.phase == "afgesloten":
        return []
    return [_condition_check(case, c, policy) for c in case.conditions.values()]


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
        + _condition_checks(case, policy)
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
