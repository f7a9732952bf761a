"""MDA++: the policy's entry criteria weighed on a case, and when afschalen is not premature.

A criterion is met when a professional assessed it as met (``MdaCriteriaAssessed``) or when
its signal in the policy holds on the case's facts. Opschalen is a handover to the MDA++
team (its triage) and needs ``mda.minimum_criteria_met`` criteria; afschalen back to a
lokaal team needs stable safety sustained for ``mda.afschalen_stable_months``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from phasedcare.domain.calendar import add_months
from phasedcare.domain.case import CaseState
from phasedcare.domain.household import MemberRole
from phasedcare.domain.policy import MdaSignal, OrganisationKind, RegionalPolicy
from phasedcare.domain.safety import RiskLevel

__all__ = ["CriterionResult", "criteria_met", "evaluate", "signal_due", "stable_enough_since"]

_LEVELS = list(RiskLevel)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """Whether one entry criterion is met on a case, and on what ground."""

    criterion_id: str
    met: bool
    ground: str  # "assessed", "signal" or "" when not met


def _meldingen(case: CaseState) -> int:
    return len(case.meldingen) + (1 if case.opened_via == "melding" else 0)


def _months_without_stable_safety(case: CaseState, policy: RegionalPolicy, today: date) -> int:
    if case.opened_at is None or case.stable_since is not None:
        return 0
    opened = policy.local_date(case.opened_at)
    months = 0
    while add_months(opened, months + 1) <= today:
        months += 1
    return months


def _signal_holds(signal: MdaSignal, case: CaseState, policy: RegionalPolicy, today: date) -> bool:
    latest = case.latest_risk_assessment
    checks = [
        signal.min_incidents is None or len(case.incidents) >= signal.min_incidents,
        signal.min_terugvallen is None or case.terugvallen >= signal.min_terugvallen,
        signal.min_meldingen is None or _meldingen(case) >= signal.min_meldingen,
        signal.min_risk_level is None
        or (
            latest is not None
            and _LEVELS.index(latest.level) >= _LEVELS.index(signal.min_risk_level)
        ),
        signal.children_present is None
        or signal.children_present == any(m.role is MemberRole.kind for m in case.members.values()),
        signal.min_months_without_stable_safety is None
        or _months_without_stable_safety(case, policy, today)
        >= signal.min_months_without_stable_safety,
    ]
    return all(checks)


def evaluate(case: CaseState, policy: RegionalPolicy, today: date) -> list[CriterionResult]:
    """Every entry criterion of the policy, met or not, in the policy's order."""
    results = []
    for criterion in policy.mda.entry_criteria:
        if criterion.id in case.mda_assessed:
            results.append(CriterionResult(criterion.id, True, "assessed"))
        elif criterion.signal is not None and _signal_holds(criterion.signal, case, policy, today):
            results.append(CriterionResult(criterion.id, True, "signal"))
        else:
            results.append(CriterionResult(criterion.id, False, ""))
    return results


def criteria_met(case: CaseState, policy: RegionalPolicy, today: date) -> list[str]:
    """The ids of the entry criteria met on ``case``."""
    return [r.criterion_id for r in evaluate(case, policy, today) if r.met]


def stable_enough_since(case: CaseState, policy: RegionalPolicy) -> date | None:
    """The first day afschalen is not premature, or None while safety is not stable."""
    if case.stable_since is None:
        return None
    return add_months(policy.local_date(case.stable_since), policy.mda.afschalen_stable_months)


def signal_due(case: CaseState, policy: RegionalPolicy, today: date) -> bool:
    """True when an open case away from MDA++, never signalled nor proposed, meets the bar."""
    at_mda = policy.organisation(case.regie.organisation).kind is OrganisationKind.mda
    proposed = any(h.purpose == "mda_triage" for h in case.open_handovers)
    if case.phase == "afgesloten" or at_mda or proposed or case.mda_signalled_at is not None:
        return False
    return len(criteria_met(case, policy, today)) >= policy.mda.minimum_criteria_met
