"""Retention: until when a closed case must be kept, by the policy's rules.

Every rule that applies gives a date; the longest wins. A rule applies when it names no
organisation kind, or when an organisation of its kind held regie over the case (Veilig
Thuis always did: it opened the case). ``until_youngest_child_age`` runs from the youngest
child's date of birth; a rule with both terms takes the later date. A legal hold keeps the
case whatever the dates say. Open cases are never due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from phasedcare.domain.calendar import add_months
from phasedcare.domain.case import CaseState
from phasedcare.domain.household import MemberRole
from phasedcare.domain.policy import RegionalPolicy, RetentionRule

__all__ = ["RetentionDecision", "retention"]


@dataclass(frozen=True, slots=True)
class RetentionDecision:
    """Until when a case is kept, under which rule, and whether it is due today."""

    case_id: str
    keep_until: date | None
    rule: str
    due: bool
    why_not: str = ""


def _kinds_that_held_regie(case: CaseState, policy: RegionalPolicy) -> set[str]:
    return {str(policy.organisation(r.organisation).kind) for r in case.regie_history}


def _youngest_child(case: CaseState) -> date | None:
    births = [
        m.date_of_birth
        for m in case.members.values()
        if m.role is MemberRole.kind and m.date_of_birth
    ]
    return max(births, default=None)


def _until(rule: RetentionRule, closed_on: date, youngest: date | None) -> date:
    dates = []
    if rule.years_after_closure is not None:
        dates.append(add_months(closed_on, 12 * rule.years_after_closure))
    if rule.until_youngest_child_age is not None:
        dates.append(
            add_months(youngest, 12 * rule.until_youngest_child_age) if youngest else closed_on
        )
    return max(dates)


def retention(case: CaseState, policy: RegionalPolicy, today: date) -> RetentionDecision:
    """The retention decision for ``case`` on ``today``."""
    if case.phase != "afgesloten" or case.phase_since is None:
        return RetentionDecision(case.case_id, None, "", due=False, why_not="the case is open")
    kinds = _kinds_that_held_regie(case, policy)
    rules = [
        r
        for r in policy.retention.rules
        if r.organisation_kind is None or str(r.organisation_kind) in kinds
    ]
    youngest, closed_on = _youngest_child(case), policy.local_date(case.phase_since)
    until, rule = max((_until(r, closed_on, youngest), r.id) for r in rules)
    if case.legal_hold:
        return RetentionDecision(
            case.case_id, until, rule, due=False, why_not="a legal hold applies"
        )
    if today < until:
        return RetentionDecision(
            case.case_id, until, rule, due=False, why_not=f"kept until {until}"
        )
    return RetentionDecision(case.case_id, until, rule, due=True)
