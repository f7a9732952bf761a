"""The deadlines a case runs against, in werkdagen, weeks and months from the policy.

Deadlines are computed from the case's facts only (never from the wall clock), so that a
projection rebuilt from the events equals the live one. Whether one is overdue is a
question asked later, with a date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from phasedcare.domain.calendar import WorkingDayCalendar, add_months
from phasedcare.domain.case import CaseState
from phasedcare.domain.policy import RegionalPolicy

__all__ = ["Deadline", "deadlines", "next_deadline"]

_ASSESSING = frozenset({"melding", "veiligheidsbeoordeling"})
_PLAN_REVIEWED_IN = frozenset({"directe_veiligheid", "stabiele_veiligheid"})


@dataclass(frozen=True, slots=True, order=True)
class Deadline:
    """A date something must be done by, and what."""

    due: date
    kind: str
    description: str

    def overdue_on(self, day: date) -> bool:
        """True when ``day`` lies after the due date."""
        return day > self.due


def _veiligheidsbeoordeling(
    case: CaseState, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> list[Deadline]:
    if case.vt_stage not in _ASSESSING or case.melding_received_at is None:
        return []
    days = policy.deadlines.veiligheidsbeoordeling_werkdagen
    due = cal.add_working_days(case.melding_received_at.date(), days)
    return [
        Deadline(due, "veiligheidsbeoordeling", f"veiligheidsbeoordeling within {days} werkdagen")
    ]


def _onderzoek(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    if case.vt_stage != "onderzoek" or case.vt_stage_since is None:
        return []
    weeks = policy.deadlines.onderzoek_weken
    due = case.vt_stage_since.date() + timedelta(weeks=weeks)
    return [Deadline(due, "onderzoek", f"onderzoek completed within {weeks} weken")]


def _monitoring(case: CaseState, policy: RegionalPolicy) -> list[Deadline]:
    if case.vt_stage != "monitoring" or case.vt_stage_since is None or case.updated_at is None:
        return []
    started = case.vt_stage_since.date()
    moments = [(m, add_months(started, m)) for m in policy.deadlines.monitoring_maanden]
    upcoming = [(m, due) for m, due in moments if due >= case.updated_at.date()] or moments[-1:]
    months, due = upcoming[0]
    return [Deadline(due, "monitoring", f"monitoring moment {months} months after the handover")]


def _plan_review(
    case: CaseState, policy: RegionalPolicy, cal: WorkingDayCalendar
) -> list[Deadline]:
    if case.phase not in _PLAN_REVIEWED_IN or case.safety_plan is None:
        return []
    days = policy.deadlines.safety_plan_review_werkdagen
    due = cal.add_working_days(case.safety_plan.agreed_on, days)
    return [Deadline(due, "safety_plan_review", f"safety plan reviewed within {days} werkdagen")]


def _handovers(case: CaseState) -> list[Deadline]:
    return [
        Deadline(h.respond_by, "handover_response", f"answer to handover {h.handover_id}")
        for h in case.open_handovers
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
    )
    return sorted(found)


def next_deadline(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar
) -> Deadline | None:
    """The earliest deadline, or None when nothing is due."""
    found = deadlines(case, policy, calendar)
    return found[0] if found else None
